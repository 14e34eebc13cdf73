// Make the Pyodide memory snapshot the in-browser kernel starts from.
//
//   node snapshot.mjs SITE_KERNEL_DIR     (run by the build addon, addon.py)
//
// SITE_KERNEL_DIR is the site's `async-kernel/` folder: `pyodide/` (the npm runtime) and `wheels/`
// (`index.json` and the wheels it lists). Writes into `snapshot/` beside them:
// - `kernel.snapshot.gz`: Pyodide's wasm memory once the kernel's modules are imported, without
//   its pages of zeros (`snapshot.json` says where the others go);
// - `site-packages.pack.gz`: the files of the unpacked wheels the start needs (a 4-byte
//   little-endian length, a JSON header {"root", "files": [[path, size], ...]}, then the files'
//   bytes one after another): every file but Python sources, and the sources of the modules the
//   snapshot holds;
// - `site-packages-rest.pack.gz`: the other sources, written when an import needs them
//   (async_kernel/hosts/lazy_files.py);
// - `snapshot.json`: what they were made from and their file names.
//
// Starting Python in the browser costs seconds of importing IPython and its dependencies from
// source under wasm, and about a second of unzipping wheels. The worker (js/src/worker.ts)
// restores the memory instead of importing, and writes the pack's files instead of unzipping
// (the file system lives in JavaScript, outside the snapshot; modules imported later need their
// files). Only imports go into the snapshot, never a started kernel: open files, threads and
// JavaScript objects do not survive a snapshot.
//
// Which modules? A probe Pyodide (plain start) starts the kernel, runs a few requests (an execute, an
// error traceback, a completion, an inspection) and lists `sys.modules`; the snapshot's Pyodide
// imports that list. The snapshot is tied to this exact Pyodide build (Pyodide checks its build id
// on restore) and to these wheels (the worker compares `snapshot.json` with what it installs).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const HOME = '/home/pyodide';
const PACK = 'site-packages.pack.gz';
const REST_PACK = 'site-packages-rest.pack.gz';
const TIMEOUT_MS = 120_000;

/** Requests the probe kernel answers before its modules are listed. */
const PROBE_REQUESTS = [
  ['kernel_info_request', {}],
  // what a console asks first (and the worker's warm-up, hosts/pyodide.py)
  ['history_request', { hist_access_type: 'tail', n: 100, output: false, raw: true }],
  ['execute_request', { code: 'print(1)', silent: false }],
  // widgets are what the browser kernel ships ipywidgets for
  ['execute_request', { code: 'import ipywidgets', silent: false }],
  ['execute_request', { code: '1 / 0', silent: false }],
  ['complete_request', { code: 'import o', cursor_pos: 8 }],
  ['inspect_request', { code: 'print', cursor_pos: 5, detail_level: 0 }],
  ['is_complete_request', { code: 'for i in x:' }]
];

// Modules that are Pyodide's own (already in every start) or belong to one process only.
const SKIP = /^(__main__|_pyodide|pyodide)(\.|$)/;

const lap = (t0, what) =>
  console.log(`[snapshot] ${((performance.now() - t0) / 1000).toFixed(1)} s ${what}`);

async function loadPython(pyodideDir, wheelsDir, wheels, extra = {}) {
  const { loadPyodide } = await import(pathToFileURL(join(pyodideDir, 'pyodide.mjs')).href);
  const py = await loadPyodide({
    indexURL: pyodideDir + '/',
    env: { HOME },
    stdout: () => undefined,
    stderr: line => console.log(`[python] ${line}`),
    ...extra
  });
  const sitePackages = py.runPython('import sysconfig; sysconfig.get_path("purelib")');
  for (const file of wheels) {
    py.unpackArchive(new Uint8Array(readFileSync(join(wheelsDir, file))), 'wheel', {
      extractDir: sitePackages
    });
  }
  py.runPython('import importlib; importlib.invalidate_caches()');
  return { py, sitePackages };
}

/** Every file under `root` in Pyodide's file system: [path below root, bytes]. */
function readTree(py, root) {
  const files = [];
  const walk = dir => {
    for (const name of py.FS.readdir(dir).sort()) {
      if (name === '.' || name === '..') continue;
      const path = `${dir}/${name}`;
      if (py.FS.isDir(py.FS.stat(path).mode)) walk(path);
      else files.push([path.slice(root.length + 1), py.FS.readFile(path)]);
    }
  };
  walk(root);
  return files;
}

/** Files as one pack (see the header comment). */
function pack(root, files) {
  const header = Buffer.from(
    JSON.stringify({ root, files: files.map(([path, body]) => [path, body.length]) })
  );
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  return Buffer.concat([length, header, ...files.map(([, body]) => body)]);
}

/**
 * Split the files: those the start needs (every file that is not Python source, and the sources of
 * the modules the snapshot holds: tracebacks and `inspect` read them) and the rest, written when an
 * import needs them (async_kernel/hosts/lazy_files.py); also the top-level packages the rest is in.
 */
function splitFiles(py, files) {
  const imported = new Set(
    JSON.parse(
      py.runPython(`
import json, os, sys, sysconfig
json.dumps([
    os.path.relpath(m.__file__, sysconfig.get_path("purelib"))
    for m in list(sys.modules.values())
    if isinstance(getattr(m, "__file__", None), str)
])
`)
    )
  );
  const start = [];
  const rest = [];
  for (const file of files) {
    const needed = !file[0].endsWith('.py') || imported.has(file[0]);
    (needed ? start : rest).push(file);
  }
  const packages = [
    ...new Set(rest.map(([path]) => path.split('/')[0].replace(/\.py$/, '')))
  ].sort();
  return { start, rest, packages };
}

/** Start a kernel, send it PROBE_REQUESTS, wait for each to finish; return sys.modules' names. */
async function probeModules(py) {
  let idle = 0;
  const send = json => {
    const msg = JSON.parse(json);
    if (msg.header.msg_type === 'status' && msg.content.execution_state === 'idle') idle++;
  };
  py.FS.mkdirTree(HOME);
  const host = py.pyimport('async_kernel.hosts.pyodide');
  const kernel = host.start(send, py.toPy({ cwd: HOME }));
  const deadline = performance.now() + TIMEOUT_MS;
  for (const [i, [msgType, content]] of PROBE_REQUESTS.entries()) {
    const header = {
      msg_id: `probe-${i}`,
      msg_type: msgType,
      session: 'probe',
      username: 'probe',
      date: new Date().toISOString(),
      version: '5.4'
    };
    const channel = 'shell';
    kernel.handle_msg(
      JSON.stringify({
        channel,
        header,
        parent_header: {},
        metadata: {},
        content
      }),
      []
    );
    while (idle <= i) {
      if (performance.now() > deadline)
        throw new Error(`the probe kernel did not answer ${msgType} in time`);
      await new Promise(r => setTimeout(r, 10));
    }
  }
  kernel.stop();
  return JSON.parse(py.runPython('import json, sys; json.dumps(sorted(sys.modules))')).filter(
    name => !SKIP.test(name)
  );
}

const IMPORT_ALL = `
import importlib, json, os, threading
_failed = []
for _name in json.loads(_snapshot_modules):
    try:
        importlib.import_module(_name)
    except Exception as exc:  # a module that only imports in a started kernel: left to the kernel
        _failed.append(f"{_name}: {exc!r}")
assert threading.active_count() == 1, "a thread was started while importing"
# Under Node, Emscripten names this script in $_: no build-machine path in the site.
os.environ.pop("_", None)
del _name
json.dumps(_failed)
`;

/** The page size of the snapshot's map of zero pages. */
const PAGE_BYTES = 4096;

/**
 * The snapshot without its pages of zeros (about half of them: memory Python never used, and
 * what zeroFreeMemory cleared): the other pages one after another, and where they go, as runs
 * [[first page, number of pages], ...]. The worker puts them back into zeroed memory as they
 * download: it gunzips half as many bytes, and copies no buffer of the memory's whole size.
 */
function withoutZeroPages(snapshot) {
  const kept = [];
  const runs = [];
  for (let page = 0; page * PAGE_BYTES < snapshot.length; page++) {
    const bytes = snapshot.subarray(page * PAGE_BYTES, (page + 1) * PAGE_BYTES);
    if (bytes.every(byte => byte === 0)) continue;
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === page) last[1] += 1;
    else runs.push([page, 1]);
    kept.push(bytes);
  }
  return { pages: Buffer.concat(kept), runs };
}

/**
 * Fill the memory malloc holds free with zeros; returns how many bytes. Importing leaves freed
 * garbage behind (source text, compiler tables), which gzip cannot squeeze: zeroed, the snapshot
 * downloads ~1.4 MB smaller. Claims free chunks, largest first, and frees them again; at each size
 * it stops once malloc has to take memory above the old top (the memory grows: zeros, ~free to gzip).
 */
function zeroFreeMemory(py) {
  const wasm = py._module;
  const top = wasm.HEAPU8.length;
  const claimed = [];
  let bytes = 0;
  for (let size = 1 << 20; size >= 16; size >>= 2) {
    for (;;) {
      const pointer = wasm._malloc(size);
      if (!pointer) break;
      if (pointer + size > top) {
        wasm._free(pointer);
        break;
      }
      wasm.HEAPU8.fill(0, pointer, pointer + size);
      claimed.push(pointer);
      bytes += size;
    }
  }
  for (const pointer of claimed) wasm._free(pointer);
  return bytes;
}

async function main() {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node snapshot.mjs SITE_KERNEL_DIR');
    process.exit(2);
  }
  const kernelDir = resolve(dir);
  const pyodideDir = join(kernelDir, 'pyodide');
  const wheelsDir = join(kernelDir, 'wheels');
  const wheels = JSON.parse(readFileSync(join(wheelsDir, 'index.json'), 'utf8'));
  const t0 = performance.now();

  const { py: probe } = await loadPython(pyodideDir, wheelsDir, wheels);
  const modules = await probeModules(probe);
  lap(t0, `probe kernel imported ${modules.length} modules`);

  const { py, sitePackages } = await loadPython(pyodideDir, wheelsDir, wheels, {
    _makeSnapshot: true
  });
  // Before importing: imports must not add files (__pycache__) the browser would not have.
  const files = readTree(py, sitePackages);
  py.globals.set('_snapshot_modules', JSON.stringify(modules));
  const failed = JSON.parse(py.runPython(IMPORT_ALL));
  py.runPython('del _snapshot_modules, _failed');
  for (const line of failed) console.log(`[snapshot] not imported: ${line}`);
  const { start, rest, packages } = splitFiles(py, files);
  py.runPython('import gc; gc.collect()');
  const zeroed = zeroFreeMemory(py);
  lap(t0, `zeroed ${(zeroed / 1e6).toFixed(1)} MB of free memory`);
  const snapshot = py.makeMemorySnapshot();
  const { pages, runs } = withoutZeroPages(snapshot);
  const snapshotGz = gzipSync(pages, { level: 9 });
  lap(
    t0,
    `snapshot ${(snapshot.length / 1e6).toFixed(1)} MB, ${(pages.length / 1e6).toFixed(1)} MB without its zero pages, gzip ${(snapshotGz.length / 1e6).toFixed(1)} MB`
  );

  const packed = {};
  for (const [name, part] of [
    [PACK, start],
    [REST_PACK, rest]
  ]) {
    const plain = pack(sitePackages, part);
    packed[name] = gzipSync(plain, { level: 9 });
    lap(
      t0,
      `${name}: ${part.length} files, ${(plain.length / 1e6).toFixed(1)} MB, gzip ${(packed[name].length / 1e6).toFixed(1)} MB`
    );
  }

  const out = join(kernelDir, 'snapshot');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'kernel.snapshot.gz'), snapshotGz);
  for (const [name, body] of Object.entries(packed)) writeFileSync(join(out, name), body);
  const manifest = {
    file: 'kernel.snapshot.gz',
    pack: PACK,
    rest: { file: REST_PACK, packages },
    pyodideVersion: py.version,
    bytes: snapshot.length,
    pages: { size: PAGE_BYTES, runs },
    wheels,
    modules: modules.length - failed.length
  };
  writeFileSync(join(out, 'snapshot.json'), JSON.stringify(manifest, null, 1) + '\n');
}

main().then(
  () => process.exit(0),
  error => {
    console.error('[snapshot] failed:', error);
    process.exit(1);
  }
);
