// Run tests/pyodide/test_*.py inside real Pyodide under Node.js (no browser).
//
//   node tests/pyodide/run.mjs [WHEEL_DIR] [-k SUBSTRING] [--timeout SECONDS]
//
// WHEEL_DIR (or $PYODIDE_WHEELS) holds our wheel and its pure-Python dependencies, as written by
// `python scripts/browser_runtime.py` into py/async_kernel/jupyterlite/runtime/wheels (DIR/index.json
// lists them; without it every *.whl is taken).
// Prints one line per test, then exactly `N passed, N failed`; exits 1 if anything failed.
// Python's own stdout belongs to the kernel under test once it starts, so all reporting happens here.
//
// The tests run in a child process (this file again, with PYODIDE_TEST_CHILD=1); the parent only watches:
// Python code that never yields (a synchronous hang) blocks the child's own timers, so the parent kills
// the child when a test outlives its timeout, reports the hang and the tests not run, and still prints
// the summary line.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
// tests/*.py modules that tests/pyodide/test_*.py import: copied next to them, into /tests
const SHARED_HELPERS = ['malformed.py'];

function parseArgs(argv) {
  const opts = {
    wheels: process.env.PYODIDE_WHEELS || '',
    filter: '',
    timeout: 60,
    startupTimeout: 120
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-k') opts.filter = argv[++i] ?? '';
    else if (a === '--timeout') opts.timeout = Number(argv[++i]);
    else if (a === '-h' || a === '--help') {
      console.log(
        'usage: node tests/pyodide/run.mjs [WHEEL_DIR] [-k SUBSTRING] [--timeout SECONDS]'
      );
      process.exit(0);
    } else opts.wheels = a;
  }
  if (!opts.wheels)
    opts.wheels = join(ROOT, 'py', 'async_kernel', 'jupyterlite', 'runtime', 'wheels');
  return opts;
}

const secs = ms => `${(ms / 1000).toFixed(2)} s`;

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish within ${secs(ms)} (hang)`)),
      ms
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function wheelFiles(dir) {
  if (!existsSync(dir))
    throw new Error(
      `wheel folder ${dir} does not exist (run tests/pyodide/run.sh, or python scripts/browser_runtime.py)`
    );
  const index = join(dir, 'index.json');
  let names;
  if (existsSync(index)) {
    const data = JSON.parse(readFileSync(index, 'utf8'));
    const list = Array.isArray(data) ? data : (data.wheels ?? data.files ?? []);
    names = list.map(w => (typeof w === 'string' ? w : (w.file ?? w.name ?? w.filename)));
  } else {
    names = readdirSync(dir).filter(f => f.endsWith('.whl'));
  }
  names = names.map(n => basename(n)).filter(n => n.endsWith('.whl'));
  if (!names.some(n => /^async_kernel/.test(n))) throw new Error(`no async_kernel wheel in ${dir}`);
  return names.map(n => join(dir, n));
}

// Runs inside Pyodide: import the test modules, list their coroutine tests, run one with a bounded wait.
const HARNESS = `
import asyncio, importlib, inspect, json, sys, time, traceback
sys.path.insert(0, "/tests")
_modules = [importlib.import_module(name) for name in json.loads(_module_names)]

def _list_tests():
    out = []
    for module in _modules:
        for name, func in vars(module).items():
            if name.startswith("test_") and inspect.iscoroutinefunction(func):
                out.append(f"{module.__name__}::{name}")
    return json.dumps(out)

async def _run(node_id, timeout, func=None):
    module_name, _, name = node_id.partition("::")
    func = func or getattr(sys.modules[module_name], name)
    started = time.monotonic()
    try:
        await asyncio.wait_for(func(), timeout)
    except TimeoutError:
        result = {"ok": False, "error": f"hang: did not finish within {timeout} s\\n" + traceback.format_exc()}
    except BaseException as exc:
        result = {"ok": False, "error": "".join(traceback.format_exception(exc))}
    else:
        result = {"ok": True}
    result["seconds"] = time.monotonic() - started
    return json.dumps(result)

def _start_sync():
    # start the kernel outside any coroutine, the way the worker (js/src/worker/boot.ts) calls async_kernel.hosts.pyodide.start()
    for module in _modules:
        if hasattr(module, "start_frontend"):
            module.start_frontend()
            return

async def _start(timeout):
    funcs = [getattr(m, "frontend") for m in _modules if hasattr(m, "frontend")]
    if not funcs:
        return json.dumps({"ok": True, "seconds": 0})
    return await _run("startup", timeout, funcs[0])

async def _shutdown():
    for module in _modules:
        if hasattr(module, "shutdown"):
            await asyncio.wait_for(module.shutdown(), 30)
`;

const report = event => process.send?.(event);

async function runTests() {
  const opts = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  let passed = 0;
  let failed = 0;
  const fail = (name, ms, message) => {
    failed++;
    report({ type: 'end', name, ok: false });
    console.log(`FAIL ${name} (${secs(ms)})`);
    if (message) console.log(message.replace(/^/gm, '    ').trimEnd());
  };

  const pyodideEntry = join(ROOT, 'node_modules', 'pyodide', 'pyodide.mjs');
  if (!existsSync(pyodideEntry)) {
    throw new Error(`${pyodideEntry} is missing: run \`npm install\` at the repository root`);
  }
  const { loadPyodide } = await import(pyodideEntry);
  const pyodide = await loadPyodide({
    stdout: line => console.log(`[python stdout] ${line}`),
    stderr: line => console.log(`[python stderr] ${line}`)
  });
  const tLoaded = performance.now();

  const wheels = wheelFiles(opts.wheels);
  // Without extractDir a wheel lands in the working directory (/home/pyodide), and imports then break
  // as soon as the kernel changes directory (its `cwd` setting).
  const sitePackages = pyodide.runPython('import sysconfig; sysconfig.get_path("purelib")');
  for (const file of wheels) {
    pyodide.unpackArchive(new Uint8Array(readFileSync(file)), 'wheel', {
      extractDir: sitePackages
    });
  }
  const tUnpacked = performance.now();

  pyodide.FS.mkdirTree('/tests');
  const modules = [];
  for (const file of readdirSync(HERE).sort()) {
    if (/^test_.*\.py$/.test(file)) {
      pyodide.FS.writeFile(`/tests/${file}`, readFileSync(join(HERE, file)));
      modules.push(file.slice(0, -3));
    }
  }
  // Helpers the test modules import, shared with the CPython tests (pytest's `pythonpath = ["tests"]`).
  for (const file of SHARED_HELPERS) {
    pyodide.FS.writeFile(`/tests/${file}`, readFileSync(join(ROOT, 'tests', file)));
  }
  pyodide.globals.set('_module_names', JSON.stringify(modules));
  await pyodide.runPythonAsync(HARNESS);
  const tests = JSON.parse(pyodide.runPython('_list_tests()')).filter(t => t.includes(opts.filter));
  const tImported = performance.now();
  console.log(
    `pyodide ${pyodide.version}: loaded in ${secs(tLoaded - t0)}, ${wheels.length} wheels in ${secs(tUnpacked - tLoaded)}, ` +
      `test modules imported in ${secs(tImported - tUnpacked)}; ${tests.length} tests`
  );

  // Start the shared kernel once (imports IPython: the slow part), bounded.
  const tStart = performance.now();
  report({ type: 'tests', names: tests });
  report({
    type: 'start',
    name: 'startup',
    ms: (opts.startupTimeout + 10) * 1000
  });
  let started;
  try {
    pyodide.runPython('_start_sync()');
    const out = await withTimeout(
      pyodide.runPythonAsync(`await _start(${opts.startupTimeout})`),
      (opts.startupTimeout + 10) * 1000,
      'kernel start-up'
    );
    started = JSON.parse(out);
  } catch (err) {
    started = { ok: false, error: String(err?.stack ?? err) };
  }
  if (started.ok) {
    report({ type: 'end', name: 'startup', ok: true });
    console.log(`kernel started in ${secs(performance.now() - tStart)}`);
  } else {
    fail('startup', performance.now() - tStart, started.error);
    for (const name of tests) fail(name, 0, 'not run: the kernel did not start');
  }

  for (const name of started.ok ? tests : []) {
    const t = performance.now();
    report({ type: 'start', name, ms: (opts.timeout + 10) * 1000 });
    let result;
    try {
      const out = await withTimeout(
        pyodide.runPythonAsync(`await _run(${JSON.stringify(name)}, ${opts.timeout})`),
        (opts.timeout + 10) * 1000,
        name
      );
      result = JSON.parse(out);
    } catch (err) {
      result = { ok: false, error: String(err?.stack ?? err) };
    }
    const ms = performance.now() - t;
    if (result.ok) {
      passed++;
      report({ type: 'end', name, ok: true });
      console.log(`PASS ${name} (${secs(ms)})`);
    } else {
      fail(name, ms, result.error);
    }
  }

  if (started.ok) {
    report({ type: 'start', name: 'shutdown', ms: 40_000 });
    try {
      await withTimeout(pyodide.runPythonAsync('await _shutdown()'), 40_000, 'kernel shutdown');
      report({ type: 'end', name: 'shutdown', ok: true });
    } catch (err) {
      fail('shutdown', 0, String(err?.stack ?? err));
    }
  }
  console.log(`total ${secs(performance.now() - t0)}`);
  if (!process.send) console.log(`${passed} passed, ${failed} failed`);
  report({ type: 'done' });
  return failed ? 1 : 0;
}

// The watching parent: counts results from the child's events and prints the summary line.
function supervise() {
  return new Promise(resolvePromise => {
    const child = fork(fileURLToPath(import.meta.url), process.argv.slice(2), {
      env: { ...process.env, PYODIDE_TEST_CHILD: '1' },
      stdio: 'inherit'
    });
    let names = [];
    const done = new Set();
    let passed = 0;
    let failed = 0;
    let current = null;
    let timer = null;
    let finished = false;
    const failLine = (name, message) => {
      failed++;
      done.add(name);
      console.log(`FAIL ${name}`);
      console.log(message.replace(/^/gm, '    '));
    };
    child.on('message', event => {
      if (event.type === 'tests') names = event.names;
      else if (event.type === 'start') {
        current = event.name;
        clearTimeout(timer);
        timer = setTimeout(() => {
          failLine(
            current,
            `hang: no result within ${secs(event.ms + 5000)}; Python never yielded to the event loop`
          );
          child.kill('SIGKILL');
        }, event.ms + 5000);
      } else if (event.type === 'end') {
        clearTimeout(timer);
        done.add(event.name);
        if (!event.ok) failed++;
        else if (names.includes(event.name)) passed++; // start-up and shutdown are not tests
        current = null;
      } else if (event.type === 'done') finished = true;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (!finished) {
        if (current && !done.has(current))
          failLine(current, `the test process ended (${signal ?? `exit code ${code}`})`);
        else if (!signal) failLine('harness', `the test process ended early (exit code ${code})`);
        for (const name of names)
          if (!done.has(name)) failLine(name, 'not run: the test process was stopped');
      }
      console.log(`${passed} passed, ${failed} failed`);
      resolvePromise(failed || (code !== 0 && !finished) ? 1 : 0);
    });
  });
}

const main = process.env.PYODIDE_TEST_CHILD ? runTests : supervise;
main().then(
  code => process.exit(code),
  err => {
    console.log(`FAIL harness\n${String(err?.stack ?? err).replace(/^/gm, '    ')}`);
    report({ type: 'end', name: 'harness', ok: false });
    report({ type: 'done' });
    if (!process.send) console.log('0 passed, 1 failed');
    process.exit(1);
  }
);
