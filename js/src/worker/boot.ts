/**
 * The worker's two start-up steps: `boot` loads Python with the kernel's packages (from the
 * site's snapshot, else Pyodide plus the wheels) and starts async_kernel on it, before any page
 * claims the kernel (with the `prestart` setting, before the page has even asked), then warms
 * it up if no page has claimed it yet (PyodideKernel.warm_up); `start` mounts the drive, places
 * the kernel in the notebook's folder, then delivers the kernel messages that arrived meanwhile.
 */

import type { PyodideAPI } from 'pyodide';
import type { PyProxy } from 'pyodide/ffi';

import type { IWorkerBoot, IWorkerStart } from '../tokens';
import { importAsmModule, runtimeFromGzip } from './gzip';
import { importPyodide, mountDrive, pyodideConfig } from './pyodide';
import { deliverPending, pythonSender } from './relay';
import type { SendFunction } from './relay';
import { beginSnapshotDownload, readManifest, restoreRuntime, snapshotToUse } from './snapshot';
import type { IRuntimeModules } from './snapshot';
import type { IPyKernel, WorkerState } from './state';
import { downloadWheels, fetchWheelLists, importGlue, installWheels, setupGlue } from './wheels';
import type { IWheelLists } from './wheels';

/** Python with the kernel's packages. */
interface ILoaded {
  py: PyodideAPI;
  lists: IWheelLists;
  fromSnapshot: boolean;
  /** From the snapshot: the modules it holds. */
  modules?: Set<string>;
}

/** Python with the kernel's packages and a kernel started on it, that no page has claimed yet. */
export interface IBooted extends ILoaded {
  kernel: IPyKernel;
}

/** The `boot` message: start loading Python (failures are reported by the `start` step). */
export function beginBoot(state: WorkerState, options: IWorkerBoot): void {
  state.booting = boot(state, options);
  state.booting.catch(() => undefined); // reported by start()
}

/** The `start` message: start the kernel once booting is done. */
export function beginStart(state: WorkerState, options: IWorkerStart): void {
  state.start = options;
  void start(state, options);
}

async function boot(state: WorkerState, options: IWorkerBoot): Promise<IBooted> {
  const loaded = await load(state, options);
  const { py, lists } = loaded;
  state.step = 'importing the %pip glue';
  const glue = importGlue(py);
  const kernel = startKernel(state, loaded, options);
  state.step = 'setting up %pip';
  setupGlue(py, glue, [...lists.files, ...lists.extra], options);
  if (!state.start) {
    // No page has claimed the kernel yet: run what its first requests will run (hosts/pyodide.py).
    kernel.warm_up();
  }
  return { ...loaded, kernel };
}

async function load(state: WorkerState, options: IWorkerBoot): Promise<ILoaded> {
  const config = pyodideConfig(options);
  // Pyodide reads the standard library, and the lock file unless the settings give it another.
  runtimeFromGzip(config.indexURL, [
    'python_stdlib.zip',
    ...(config.lockFileContents ? [] : ['pyodide-lock.json'])
  ]);
  // Everything the start needs at once: none of these requests waits for another.
  const runtime: IRuntimeModules = {
    pyodide: importPyodide(options),
    asm: importAsmModule(config.indexURL)
  };
  runtime.pyodide.catch(() => undefined); // awaited below
  runtime.asm.catch(() => undefined);
  const manifest = readManifest(options);
  const download = beginSnapshotDownload(options);
  const lists = await fetchWheelLists(options);
  const usable = snapshotToUse(await manifest, lists);
  if (!usable) {
    download?.cancel();
  }
  state.progress(
    'loading-pyodide',
    usable
      ? `Restoring Python from the site's snapshot (${options.snapshotUrl})`
      : `Loading Pyodide from ${options.pyodideUrl}`
  );
  const restored = usable
    ? await restoreRuntime(state, options, usable, runtime, download)
    : undefined;
  if (restored) {
    return { py: restored, lists, fromSnapshot: true, modules: moduleNames(restored) };
  }
  // Download the wheels while Pyodide compiles (neither needs the other).
  const downloads = downloadWheels(options, lists);
  downloads.catch(() => undefined); // reported below, after Pyodide
  const module = await runtime.pyodide;
  const { default: createPyodideModule } = await runtime.asm;
  const py = await module.loadPyodide({ ...config, createPyodideModule });
  state.step = 'installing the kernel wheels';
  installWheels(state, py, await downloads);
  return { py, lists, fromSnapshot: false };
}

async function start(state: WorkerState, options: IWorkerStart): Promise<void> {
  try {
    if (!state.booting) {
      throw new Error('the kernel was started on a worker that was not booted');
    }
    const booted = await state.booting;
    const { py, kernel } = booted;
    if (options.interruptBuffer) {
      py.setInterruptBuffer(new Uint8Array(options.interruptBuffer));
    }
    state.step = 'mounting the drive';
    kernel.place(mountDrive(state, py, options), options.interruptBuffer);
    if (options.startupCode.trim()) {
      state.step = 'running the startup code of the site settings';
      await py.runPythonAsync(options.startupCode);
    }
    warnImportsOutsideSnapshot(booted);
    reportReady(state, booted);
    // Only now do new messages go straight to the kernel: the queued ones first, in order.
    state.py = py;
    deliverPending(state, kernel);
    if (!state.dead) {
      state.kernel = kernel;
    }
  } catch (error) {
    fail(state, error);
  }
}

/**
 * Start async_kernel's Pyodide host (messages stay queued until a page has claimed the kernel and
 * the start-up has finished).
 */
function startKernel(state: WorkerState, loaded: ILoaded, options: IWorkerBoot): IPyKernel {
  const { py, fromSnapshot } = loaded;
  state.step = 'starting the kernel';
  state.progress(
    'starting-kernel',
    fromSnapshot
      ? 'Starting async_kernel'
      : 'Starting async_kernel (importing IPython takes a few seconds)'
  );
  const host = py.pyimport('async_kernel.hosts.pyodide') as PyProxy & {
    start(send: SendFunction, settings: PyProxy): IPyKernel;
  };
  const settings = py.toPy({ env: options.env }) as PyProxy;
  const kernel = host.start(pythonSender(state), settings);
  settings.destroy();
  host.destroy();
  return kernel;
}

/** Pyodide's own modules, made from JavaScript objects (nothing to read or compile). */
const PYODIDE_MODULE = /^(js|pyodide_js)$/;

/** The names in `sys.modules` (read without touching the user's namespace). */
function moduleNames(py: PyodideAPI): Set<string> {
  const scope = py.toPy({}) as PyProxy;
  const names = py.runPython('import sys; list(sys.modules)', { globals: scope }) as PyProxy;
  const result = new Set<string>(names.toJs() as string[]);
  names.destroy();
  scope.destroy();
  return result;
}

/**
 * A start from the snapshot should import nothing more: each module it lacks is read from the
 * file system and compiled under wasm, at every start. Say which ones did, for whoever makes
 * the snapshot (async_kernel/jupyterlite/snapshot.mjs) import them.
 */
function warnImportsOutsideSnapshot(booted: IBooted): void {
  if (!booted.modules) {
    return;
  }
  const snapshot = booted.modules;
  const added = [...moduleNames(booted.py)].filter(
    name => !snapshot.has(name) && !PYODIDE_MODULE.test(name)
  );
  if (added.length) {
    console.warn(
      `async-kernel: the start imported ${added.length} modules the snapshot lacks: ${added.join(', ')}`
    );
  }
}

function reportReady(state: WorkerState, booted: IBooted): void {
  const seconds = ((performance.now() - state.started) / 1000).toFixed(1);
  const how = booted.fromSnapshot ? ', from the snapshot' : '';
  const wheels = `${booted.lists.files.length} wheels${how}`;
  state.progress('ready', `Python (async) is ready (${seconds} s, ${wheels})`);
}

/** The start-up failed: drop the queued messages and tell the main thread why. */
function fail(state: WorkerState, error: unknown): void {
  state.failed = true;
  state.pending.length = 0;
  const detail = error instanceof Error ? error.message : String(error);
  state.progress('failed', `Python (async) failed while ${state.step}: ${detail}`);
  console.error('async-kernel worker: start-up failed', error);
}
