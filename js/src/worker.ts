/**
 * The kernel's Web Worker: loads Pyodide from the site's own files, installs the kernel's
 * wheels from the site (no CDN, no package index), mounts the JupyterLite drive, starts
 * `async_kernel.transports.callback` and relays messages in both directions.
 *
 * Bundled on its own (esbuild, see package.json) because a worker cannot use the module
 * federation share scope of the JupyterLab page.
 *
 * Two steps: `boot` (sent when the worker is created, possibly with the page, before any
 * kernel exists) loads Python and the wheels; `start` (sent when a kernel is created on this
 * worker) mounts the drive and starts the kernel once booting is done.
 *
 * Ordering: kernel messages that arrive before Python is ready are queued and delivered in
 * order once the kernel has started. Interrupts are acknowledged at once (the main thread
 * uses the missing acknowledgement to detect a worker stuck in synchronous Python).
 */

/// <reference lib="webworker" />

import { DriveFS } from '@jupyterlite/services/lib/contents/drivefs';
import type { PyodideAPI } from 'pyodide';
import type { PyProxy } from 'pyodide/ffi';

import GLUE_SOURCE from '../py/_async_kernel_lite.py';
import { STDIN_HEADER_BYTES, STDIN_LENGTH, STDIN_STATE, STDIN_WAITING } from './stdin';
import type { IWorkerBoot, IWorkerStart, MainToWorker, StartupPhase, WorkerToMain } from './tokens';

declare const self: DedicatedWorkerGlobalScope;

/** The Python kernel object returned by `async_kernel.transports.callback.start`. */
interface IPyKernel extends PyProxy {
  handle_msg(json: string, buffers: Uint8Array[]): void;
  interrupt(): void;
  stop(): void;
}

const DRIVE = '/drive';
const HOME = '/home/pyodide';
const started = performance.now();

let bootOptions: IWorkerBoot | undefined;
let startOptions: IWorkerStart | undefined;
let booting: Promise<IBooted> | undefined;
/** What the worker is doing, for the failure message. */
let step = 'loading Pyodide';
let kernel: IPyKernel | undefined;
let failed = false;
const pending: { json: string; buffers: ArrayBuffer[] }[] = [];

self.onmessage = (event: MessageEvent<MainToWorker>): void => {
  const msg = event.data;
  switch (msg.type) {
    case 'boot':
      bootOptions = msg.boot;
      booting = boot(msg.boot);
      booting.catch(() => undefined); // reported by start()
      break;
    case 'start':
      startOptions = msg.start;
      void start(msg.start);
      break;
    case 'message':
      if (kernel) {
        deliver(kernel, msg.json, msg.buffers);
      } else if (!failed) {
        pending.push({ json: msg.json, buffers: msg.buffers });
      }
      break;
    case 'interrupt':
      post({ type: 'interrupt-ack', id: msg.id });
      kernel?.interrupt();
      break;
    default: {
      const unknown: never = msg;
      console.warn('async-kernel worker: unknown message', unknown);
    }
  }
};

function post(msg: WorkerToMain, transfer: Transferable[] = []): void {
  self.postMessage(msg, transfer);
}

function progress(phase: StartupPhase, text: string): void {
  post({ type: 'progress', phase, text, elapsedMs: Math.round(performance.now() - started) });
}

function deliver(pyKernel: IPyKernel, json: string, buffers: ArrayBuffer[]): void {
  try {
    pyKernel.handle_msg(
      json,
      buffers.map(b => new Uint8Array(b))
    );
  } catch (error) {
    // A malformed message is the client's error: log it, keep serving.
    console.error('async-kernel worker: handle_msg failed', error);
  }
}

/** Python with the kernel's packages, ready to start a kernel. */
interface IBooted {
  py: PyodideAPI;
  lists: IWheelLists;
  fromSnapshot: boolean;
}

async function boot(options: IWorkerBoot): Promise<IBooted> {
  const lists = await fetchWheelLists(options);
  const manifest = await snapshotToUse(options, lists);
  progress(
    'loading-pyodide',
    manifest
      ? `Restoring Python from the site's snapshot (${options.snapshotUrl})`
      : `Loading Pyodide from ${options.pyodideUrl}`
  );
  const restored = manifest ? await restoreRuntime(options, manifest) : undefined;
  if (restored) {
    return { py: restored, lists, fromSnapshot: true };
  }
  // Download the wheels while Pyodide compiles (neither needs the other).
  const downloads = downloadWheels(options, lists);
  downloads.catch(() => undefined); // reported below, after Pyodide
  const module = await importPyodide(options);
  const py = await module.loadPyodide(pyodideConfig(options));
  step = 'installing the kernel wheels';
  installWheels(py, await downloads);
  return { py, lists, fromSnapshot: false };
}

async function start(options: IWorkerStart): Promise<void> {
  try {
    if (!booting || !bootOptions) {
      throw new Error('the kernel was started on a worker that was not booted');
    }
    const { py, lists, fromSnapshot } = await booting;
    if (options.interruptBuffer) {
      py.setInterruptBuffer(new Uint8Array(options.interruptBuffer));
    }
    const cwd = mountDrive(py, options);

    step = 'starting the kernel';
    progress(
      'starting-kernel',
      fromSnapshot
        ? 'Starting async_kernel'
        : 'Starting async_kernel (importing IPython takes a few seconds)'
    );
    const callback = py.pyimport('async_kernel.transports.callback') as PyProxy & {
      start(send: SendFunction, settings: PyProxy): IPyKernel;
    };
    const settings = py.toPy({ cwd, env: bootOptions.env });
    kernel = callback.start(send, settings);
    settings.destroy();

    step = 'setting up %pip';
    setupGlue(py, [...lists.files, ...lists.extra], bootOptions);

    if (options.startupCode.trim()) {
      step = 'running the startup code of the site settings';
      await py.runPythonAsync(options.startupCode);
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const how = fromSnapshot ? ', from the snapshot' : '';
    progress('ready', `Python (async) is ready (${seconds} s, ${lists.files.length} wheels${how})`);
    for (const msg of pending.splice(0)) {
      deliver(kernel, msg.json, msg.buffers);
    }
  } catch (error) {
    failed = true;
    pending.length = 0;
    const detail = error instanceof Error ? error.message : String(error);
    progress('failed', `Python (async) failed while ${step}: ${detail}`);
    console.error('async-kernel worker: start-up failed', error);
  }
}

interface IPyodideModule {
  loadPyodide: (config: object) => Promise<PyodideAPI>;
}

async function importPyodide(options: IWorkerBoot): Promise<IPyodideModule> {
  try {
    return (await import(/* webpackIgnore: true */ options.pyodideUrl)) as IPyodideModule;
  } catch (error) {
    throw new Error(
      `cannot load ${options.pyodideUrl} (${String(error)}). The site must ship the Pyodide ` +
        'runtime (`jupyter lite build` with async-kernel-jupyter installed puts it there) or set "pyodideUrl" in the plugin settings.'
    );
  }
}

function pyodideConfig(options: IWorkerBoot): { indexURL: string } & Record<string, unknown> {
  return {
    indexURL: options.pyodideUrl.slice(0, options.pyodideUrl.lastIndexOf('/') + 1),
    env: { HOME, ...options.env },
    stdout: (text: string) => console.log('[python]', text),
    stderr: (text: string) => console.warn('[python]', text)
  };
}

/** What async_kernel/jupyterlite/snapshot.mjs made the snapshot from (`snapshot.json`). */
interface ISnapshotManifest {
  file: string;
  /** The files of the unpacked wheels (see async_kernel/jupyterlite/snapshot.mjs for the format). */
  pack: string;
  pyodideVersion: string;
  /** Size of the wasm memory the snapshot holds. */
  bytes: number;
  /** The wheels whose modules it imported and files it packed, in install order. */
  wheels: string[];
}

/**
 * The site's snapshot manifest if there is one and it was made from the wheels this kernel
 * installs; otherwise undefined (a plain start), with the reason in the console.
 */
async function snapshotToUse(
  options: IWorkerBoot,
  lists: IWheelLists
): Promise<ISnapshotManifest | undefined> {
  if (!options.snapshotUrl) {
    return undefined;
  }
  const url = new URL('snapshot.json', options.snapshotUrl).href;
  let manifest: ISnapshotManifest;
  try {
    const response = await fetch(url);
    if (response.status === 404) {
      return undefined; // a site built without a snapshot
    }
    if (!response.ok) {
      throw new Error(`HTTP ${response.status}`);
    }
    manifest = (await response.json()) as ISnapshotManifest;
  } catch (error) {
    console.warn(
      `async-kernel: cannot read ${url} (${String(error)}); starting without the snapshot`
    );
    return undefined;
  }
  if (manifest.wheels.join(' ') !== lists.files.join(' ')) {
    console.warn(
      'async-kernel: the snapshot was made from other wheels than this kernel installs ' +
        '(preloadWheels set, or wheels changed without remaking it); starting without it'
    );
    return undefined;
  }
  return manifest;
}

/** Download a gzipped file of the snapshot folder and gunzip it as it arrives. */
async function fetchGzipped(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok || !response.body) {
    throw new Error(`cannot download ${url} (HTTP ${response.status})`);
  }
  const unpacked = response.body.pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(unpacked).arrayBuffer());
}

/**
 * Start Pyodide from the site's memory snapshot (the kernel's modules already imported). Any
 * failure is logged and answered with undefined: the caller then starts Pyodide the plain way.
 */
async function restoreRuntime(
  options: IWorkerBoot,
  manifest: ISnapshotManifest
): Promise<PyodideAPI | undefined> {
  try {
    const module = await importPyodide(options);
    const config = pyodideConfig(options);
    let snapshot: Promise<Uint8Array> | undefined = fetchGzipped(
      new URL(manifest.file, options.snapshotUrl).href
    );
    const pack = fetchGzipped(new URL(manifest.pack, options.snapshotUrl).href);
    snapshot.catch(() => undefined); // awaited by loadPyodide
    pack.catch(() => undefined); // awaited below
    const { default: createModule } = (await import(
      /* webpackIgnore: true */ `${config.indexURL}pyodide.asm.mjs`
    )) as { default: (settings: object) => Promise<{ growMemory(bytes: number): void }> };
    const py = await module.loadPyodide({
      ...config,
      // Pyodide keeps its config for good: hand it a thenable rather than the promise, so the
      // snapshot's bytes (~55 MB) can be freed once they are in the wasm memory.
      _loadSnapshot: {
        then: (...args: Parameters<Promise<Uint8Array>['then']>) => snapshot?.then(...args)
      },
      // Pyodide copies the snapshot into the wasm memory as it is, and that memory starts
      // smaller: grow it first.
      createPyodideModule: async (settings: object) => {
        const wasm = await createModule(settings);
        wasm.growMemory(manifest.bytes);
        return wasm;
      }
    });
    snapshot = undefined;
    progress('installing-packages', `Writing the files of ${manifest.wheels.length} wheels`);
    writePack(py, await pack);
    // The snapshot holds the random module's seed: reseed, or every page load draws the same numbers.
    py.runPython('import random; random.seed()');
    return py;
  } catch (error) {
    console.warn('async-kernel: cannot start from the snapshot; starting without it', error);
    progress('loading-pyodide', `The snapshot failed (${String(error)}); loading Pyodide`);
    return undefined;
  }
}

/** Write the files of a pack (async_kernel/jupyterlite/snapshot.mjs) into Pyodide's file system. */
function writePack(py: PyodideAPI, pack: Uint8Array): void {
  const headerLength = new DataView(pack.buffer, pack.byteOffset).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(pack.subarray(4, 4 + headerLength))) as {
    root: string;
    files: [string, number][];
  };
  const made = new Set<string>();
  let offset = 4 + headerLength;
  for (const [path, size] of header.files) {
    const file = `${header.root}/${path}`;
    const dir = file.slice(0, file.lastIndexOf('/'));
    if (!made.has(dir)) {
      py.FS.mkdirTree(dir);
      made.add(dir);
    }
    py.FS.writeFile(file, pack.subarray(offset, offset + size), { canOwn: true });
    offset += size;
  }
  if (offset !== pack.length) {
    throw new Error(`the pack ${header.files.length} files do not add up to its size`);
  }
}

/** Read a JSON list of wheel file names; `optional` lists may be missing (HTTP 404). */
async function fetchWheelList(url: string, optional: boolean): Promise<string[]> {
  const response = await fetch(url);
  if (optional && response.status === 404) {
    return [];
  }
  if (!response.ok) {
    throw new Error(
      `cannot read the wheel list ${url} (HTTP ${response.status}); build the site with jupyter lite build and async-kernel-jupyter installed`
    );
  }
  const listed = (await response.json()) as unknown;
  if (!Array.isArray(listed) || !listed.every(item => typeof item === 'string')) {
    throw new Error(`${url} must be a JSON list of wheel file names`);
  }
  return listed as string[];
}

interface IWheelLists {
  /** Installed at start, in order (`index.json`, then the `preloadWheels` setting). */
  files: string[];
  /** Installable later by %pip (`extra.json` and the `extraWheels` setting). */
  extra: string[];
}

interface IWheelDownloads extends IWheelLists {
  bodies: Uint8Array[];
}

async function fetchWheelLists(options: IWorkerBoot): Promise<IWheelLists> {
  const [listed, extra] = await Promise.all([
    fetchWheelList(new URL('index.json', options.wheelsUrl).href, false),
    fetchWheelList(new URL('extra.json', options.wheelsUrl).href, true)
  ]);
  return {
    files: [...listed, ...options.preloadWheels],
    extra: [...extra, ...options.extraWheels]
  };
}

/** Fetch every wheel to install, in parallel. */
async function downloadWheels(options: IWorkerBoot, lists: IWheelLists): Promise<IWheelDownloads> {
  const bodies = await Promise.all(
    lists.files.map(async file => {
      const url = new URL(file, options.wheelsUrl).href;
      const wheel = await fetch(url);
      if (!wheel.ok) {
        throw new Error(`cannot download ${url} (HTTP ${wheel.status})`);
      }
      return new Uint8Array(await wheel.arrayBuffer());
    })
  );
  return { ...lists, bodies };
}

/** Unpack the downloaded wheels into site-packages. */
function installWheels(py: PyodideAPI, downloads: IWheelDownloads): void {
  const { files, bodies } = downloads;
  progress('installing-packages', `Installing ${files.length} wheels`);
  const extractDir = sitePackages(py);
  bodies.forEach((bytes, i) => {
    try {
      py.unpackArchive(bytes, 'wheel', { extractDir });
    } catch (error) {
      throw new Error(`cannot install ${files[i]}: ${String(error)}`);
    }
  });
  py.runPython('import importlib; importlib.invalidate_caches()');
}

/** Mount the JupyterLite drive at /drive; return the folder Python starts in. */
function mountDrive(py: PyodideAPI, options: IWorkerStart): string {
  const { FS, PATH, ERRNO_CODES } = py as unknown as {
    FS: { mkdirTree(path: string): void; mount(fs: unknown, opts: object, path: string): void };
    PATH: unknown;
    ERRNO_CODES: unknown;
  };
  FS.mkdirTree(HOME);
  if (!options.mountDrive) {
    console.warn(
      'async-kernel: the JupyterLite drive is not mounted (no service worker): files written ' +
        'by Python stay in memory and do not appear in the file browser.'
    );
    return HOME;
  }
  FS.mkdirTree(DRIVE);
  const drive = new DriveFS({
    FS,
    PATH,
    ERRNO_CODES,
    baseUrl: options.baseUrl,
    driveName: '',
    mountpoint: DRIVE,
    browsingContextId: options.browsingContextId
  } as unknown as ConstructorParameters<typeof DriveFS>[0]);
  FS.mount(drive, {}, DRIVE);
  return options.location ? `${DRIVE}/${options.location}` : DRIVE;
}

/** Where wheels are unpacked (the default would be the current directory). */
function sitePackages(py: PyodideAPI): string {
  return py.runPython('import site; site.getsitepackages()[0]') as string;
}

function setupGlue(py: PyodideAPI, files: string[], options: IWorkerBoot): void {
  py.FS.writeFile(`${sitePackages(py)}/_async_kernel_lite.py`, GLUE_SOURCE);
  const glue = py.pyimport('_async_kernel_lite') as PyProxy & {
    setup(files: string[], installFile: (file: string) => void): void;
  };
  glue.setup(files, (file: string) => installWheelSync(py, options, file));
}

/** Download one wheel with a synchronous XHR (allowed in workers) and unpack it. */
function installWheelSync(py: PyodideAPI, options: IWorkerBoot, file: string): void {
  const url = new URL(file, options.wheelsUrl).href;
  const xhr = new XMLHttpRequest();
  xhr.open('GET', url, false);
  xhr.responseType = 'arraybuffer';
  xhr.send();
  if (xhr.status !== 200) {
    throw new Error(`cannot download ${url} (HTTP ${xhr.status})`);
  }
  py.unpackArchive(new Uint8Array(xhr.response as ArrayBuffer), 'wheel', {
    extractDir: sitePackages(py)
  });
}

type SendFunction = (json: string, buffers: unknown, blocking: boolean) => string | undefined;

/** Called by Python for every outgoing message (see the callback transport's contract). */
function send(json: string, buffers: unknown, blocking: boolean): string | undefined {
  const copies = toArrayBuffers(buffers);
  if (blocking) {
    return requestInput(json);
  }
  post({ type: 'message', json, buffers: copies }, copies);
  return undefined;
}

/** Copy buffers out of the wasm heap (a JS array, a PyProxy list, or nothing). */
function toArrayBuffers(buffers: unknown): ArrayBuffer[] {
  if (buffers === undefined || buffers === null) {
    return [];
  }
  let items: unknown = buffers;
  const proxy = buffers as Partial<PyProxy> & { toJs?: (o: object) => unknown };
  if (typeof proxy.toJs === 'function') {
    items = proxy.toJs({ depth: 1 });
  }
  return Array.from(items as ArrayLike<unknown>, item => {
    const view = item as ArrayBufferView | ArrayBuffer;
    if (view instanceof ArrayBuffer) {
      return view.slice(0);
    }
    return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice().buffer;
  });
}

/** Send an input_request and block until the reply; returns the reply's JSON. */
function requestInput(json: string): string {
  const options = startOptions as IWorkerStart;
  switch (options.stdinMode) {
    case 'shared':
      return requestInputShared(options, json);
    case 'service-worker':
      return requestInputServiceWorker(options, json);
    default:
      throw new Error(
        'input() is not available: this page has neither a service worker nor ' +
          'SharedArrayBuffer (serve the site with COOP/COEP headers, or allow service workers).'
      );
  }
}

function requestInputShared(options: IWorkerStart, json: string): string {
  const stdin = options.stdinBuffer as SharedArrayBuffer;
  const control = new Int32Array(stdin, 0, 2);
  Atomics.store(control, STDIN_STATE, STDIN_WAITING);
  post({ type: 'message', json, buffers: [] });
  const interrupt = options.interruptBuffer ? new Uint8Array(options.interruptBuffer) : undefined;
  // Wake up now and then to notice an interrupt (the main thread cannot post to a blocked worker).
  while (Atomics.wait(control, STDIN_STATE, STDIN_WAITING, 200) === 'timed-out') {
    if (interrupt && interrupt[0] !== 0) {
      // Leave the flag set: Pyodide raises KeyboardInterrupt as soon as Python resumes.
      return replyWithValue(json, '');
    }
  }
  const length = Atomics.load(control, STDIN_LENGTH);
  const bytes = new Uint8Array(stdin, STDIN_HEADER_BYTES, length).slice();
  Atomics.store(control, STDIN_STATE, STDIN_WAITING);
  return new TextDecoder().decode(bytes);
}

function requestInputServiceWorker(options: IWorkerStart, json: string): string {
  const request = JSON.parse(json) as Record<string, unknown>;
  const xhr = new XMLHttpRequest();
  xhr.open('POST', new URL('api/stdin/kernel', options.baseUrl).href, false);
  xhr.send(
    JSON.stringify({
      data: { ...request, buffers: [] },
      browsingContextId: options.browsingContextId
    })
  );
  if (xhr.status !== 200) {
    throw new Error(`input() failed: the service worker answered HTTP ${xhr.status}`);
  }
  return xhr.responseText;
}

/** An input_reply for `requestJson` carrying `value` (used when the wait is interrupted). */
function replyWithValue(requestJson: string, value: string): string {
  const request = JSON.parse(requestJson) as { header: Record<string, unknown> };
  return JSON.stringify({
    channel: 'stdin',
    header: {
      ...request.header,
      msg_id: `${String(request.header.msg_id)}-interrupted`,
      msg_type: 'input_reply'
    },
    parent_header: request.header,
    metadata: {},
    content: { value, status: 'ok' }
  });
}
