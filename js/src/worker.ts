/**
 * The kernel's Web Worker: loads Pyodide from the site's own files, installs the kernel's
 * wheels from the site (no CDN, no package index), mounts the JupyterLite drive, starts
 * `async_kernel.transports.callback` and relays messages in both directions.
 *
 * Bundled on its own (esbuild, see package.json) because a worker cannot use the module
 * federation share scope of the JupyterLab page.
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
import type { IWorkerInit, MainToWorker, StartupPhase, WorkerToMain } from './tokens';

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

let init: IWorkerInit | undefined;
let kernel: IPyKernel | undefined;
let failed = false;
const pending: { json: string; buffers: ArrayBuffer[] }[] = [];

self.onmessage = (event: MessageEvent<MainToWorker>): void => {
  const msg = event.data;
  switch (msg.type) {
    case 'init':
      init = msg.init;
      void start(msg.init);
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

async function start(options: IWorkerInit): Promise<void> {
  let step = 'loading Pyodide';
  try {
    progress('loading-pyodide', `Loading Pyodide from ${options.pyodideUrl}`);
    // Download the wheels while Pyodide compiles (neither needs the other).
    const downloads = downloadWheels(options);
    downloads.catch(() => undefined); // reported below, after Pyodide
    const py = await loadRuntime(options);

    step = 'installing the kernel wheels';
    const wheels = installWheels(py, await downloads);

    const cwd = mountDrive(py, options);

    step = 'starting the kernel';
    progress('starting-kernel', 'Starting async_kernel (importing IPython takes a few seconds)');
    const callback = py.pyimport('async_kernel.transports.callback') as PyProxy & {
      start(send: SendFunction, settings: PyProxy): IPyKernel;
    };
    const settings = py.toPy({ cwd, env: options.env });
    kernel = callback.start(send, settings);
    settings.destroy();

    step = 'setting up %pip';
    setupGlue(py, wheels.available, options);

    if (options.startupCode.trim()) {
      step = 'running the startup code of the site settings';
      await py.runPythonAsync(options.startupCode);
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    progress('ready', `Python (async) is ready (${seconds} s, ${wheels.installed.length} wheels)`);
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

async function loadRuntime(options: IWorkerInit): Promise<PyodideAPI> {
  let module: { loadPyodide: (config: object) => Promise<PyodideAPI> };
  try {
    module = await import(/* webpackIgnore: true */ options.pyodideUrl);
  } catch (error) {
    throw new Error(
      `cannot load ${options.pyodideUrl} (${String(error)}). The site must ship the Pyodide ` +
        'runtime (lite/build.py vendors it) or set "pyodideUrl" in the plugin settings.'
    );
  }
  const indexURL = options.pyodideUrl.slice(0, options.pyodideUrl.lastIndexOf('/') + 1);
  const py = await module.loadPyodide({
    indexURL,
    env: { HOME, ...options.env },
    stdout: (text: string) => console.log('[python]', text),
    stderr: (text: string) => console.warn('[python]', text)
  });
  if (options.interruptBuffer) {
    py.setInterruptBuffer(new Uint8Array(options.interruptBuffer));
  }
  return py;
}

/** Read a JSON list of wheel file names; `optional` lists may be missing (HTTP 404). */
async function fetchWheelList(url: string, optional: boolean): Promise<string[]> {
  const response = await fetch(url);
  if (optional && response.status === 404) {
    return [];
  }
  if (!response.ok) {
    throw new Error(
      `cannot read the wheel list ${url} (HTTP ${response.status}); build the site with lite/build.py`
    );
  }
  const listed = (await response.json()) as unknown;
  if (!Array.isArray(listed) || !listed.every(item => typeof item === 'string')) {
    throw new Error(`${url} must be a JSON list of wheel file names`);
  }
  return listed as string[];
}

interface IWheelDownloads {
  /** Installed at start, in order (`index.json`, then the `preloadWheels` setting). */
  files: string[];
  bodies: Uint8Array[];
  /** Installable later by %pip (`extra.json` and the `extraWheels` setting). */
  extra: string[];
}

/** Fetch the wheel lists, then every wheel to install, in parallel. */
async function downloadWheels(options: IWorkerInit): Promise<IWheelDownloads> {
  const [listed, extra] = await Promise.all([
    fetchWheelList(new URL('index.json', options.wheelsUrl).href, false),
    fetchWheelList(new URL('extra.json', options.wheelsUrl).href, true)
  ]);
  const files = [...listed, ...options.preloadWheels];
  const bodies = await Promise.all(
    files.map(async file => {
      const url = new URL(file, options.wheelsUrl).href;
      const wheel = await fetch(url);
      if (!wheel.ok) {
        throw new Error(`cannot download ${url} (HTTP ${wheel.status})`);
      }
      return new Uint8Array(await wheel.arrayBuffer());
    })
  );
  return { files, bodies, extra: [...extra, ...options.extraWheels] };
}

/** Unpack the downloaded wheels into site-packages; return installed and %pip-able names. */
function installWheels(
  py: PyodideAPI,
  downloads: IWheelDownloads
): { installed: string[]; available: string[] } {
  const { files, bodies, extra } = downloads;
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
  return { installed: files, available: [...files, ...extra] };
}

/** Mount the JupyterLite drive at /drive; return the folder Python starts in. */
function mountDrive(py: PyodideAPI, options: IWorkerInit): string {
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

function setupGlue(py: PyodideAPI, files: string[], options: IWorkerInit): void {
  py.FS.writeFile(`${sitePackages(py)}/_async_kernel_lite.py`, GLUE_SOURCE);
  const glue = py.pyimport('_async_kernel_lite') as PyProxy & {
    setup(files: string[], installFile: (file: string) => void): void;
  };
  glue.setup(files, (file: string) => installWheelSync(py, options, file));
}

/** Download one wheel with a synchronous XHR (allowed in workers) and unpack it. */
function installWheelSync(py: PyodideAPI, options: IWorkerInit, file: string): void {
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
  const options = init as IWorkerInit;
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

function requestInputShared(options: IWorkerInit, json: string): string {
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

function requestInputServiceWorker(options: IWorkerInit, json: string): string {
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
