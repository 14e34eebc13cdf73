/**
 * Shared types and constants of the async-kernel JupyterLite extension: the plugin settings,
 * the message protocol between the kernel object (main thread) and its Web Worker, and the
 * layout of the shared stdin buffer.
 *
 * Types and constants only: no code, so the worker bundle and the main bundle can both import it.
 */

/**
 * The Jupyter messaging protocol version the kernel speaks (written into the headers the
 * extension makes up itself). Must equal PROTOCOL_VERSION in py/async_kernel/protocol.py.
 */
export const PROTOCOL_VERSION = '5.4';

/** The plugin id, also the key of the settings in `litePluginSettings`. */
export const PLUGIN_ID = '@async-kernel/jupyterlite:kernel';

/** The kernelspec name users pick ("Python (async)"). */
export const KERNEL_NAME = 'async';

/**
 * Where the prestart script (prestart.ts) leaves the worker it started with the page, for the
 * plugin to take (workers.ts). A registered symbol: the script and the plugin are two bundles.
 */
export const PRESTARTED = /* @__PURE__ */ Symbol.for('@async-kernel/jupyterlite:prestarted');

/**
 * Plugin settings, see `schema/kernel.json`. A site sets them in `jupyter-lite.json`
 * under `jupyter-config-data.litePluginSettings["@async-kernel/jupyterlite:kernel"]`.
 */
export interface IKernelSettings {
  /** URL of `pyodide.mjs`, relative to the site root unless absolute. */
  pyodideUrl: string;
  /** URL of the folder holding the wheels and their `index.json`, relative to the site root. */
  wheelsUrl: string;
  /**
   * URL of the folder holding the Python memory snapshot (`snapshot.json` and the file it
   * names), relative to the site root; '' starts without one. See async_kernel/jupyterlite/snapshot.mjs.
   */
  snapshotUrl: string;
  /**
   * Extra wheel file names in `wheelsUrl` to install at start, after the ones `index.json`
   * lists (for example a site's own package).
   */
  preloadWheels: string[];
  /** Extra wheel file names in `wheelsUrl` that `%pip install` may install (offline). */
  extraWheels: string[];
  /** Environment variables set in Python before the kernel starts. */
  env: Record<string, string>;
  /** Python code run after the kernel has started, before the first cell. */
  startupCode: string;
  /** Mount the JupyterLite drive at `/drive` and start in the notebook's folder. */
  mountDrive: boolean;
  /** How long (ms) the worker may take to acknowledge an interrupt before the hard interrupt. */
  interruptGraceMs: number;
  /**
   * Start loading Python in a worker as soon as the page loads, before a notebook or console
   * asks for the kernel; the first kernel takes that worker. Only on pages likely to use this
   * kernel (see `prestartWanted` in page.ts). Unclaimed for two minutes, it is terminated.
   */
  prestart: boolean;
  /**
   * Keep a spare worker: once a kernel is ready, start loading the next Python, so that the
   * next kernel (a restart, another notebook) takes it at once. Costs a second Python's memory;
   * `pytest --lite` turns it on. Unclaimed for two minutes, a spare is terminated.
   */
  spareWorker: boolean;
  /**
   * More kernel names that start this kernel (the build addon's `kernel_aliases`), for pages
   * that ask for a fixed kernel name such as jupyterlite-sphinx's try_examples (`python`).
   */
  kernelAliases: string[];
  /**
   * No other extension of the site registers kernels (written by the build addon, which looks
   * at the site's extensions): pages start this kernel whatever kernel they name, so the
   * prestart script starts the worker with any page (see `prestart`).
   */
  onlyKernel: boolean;
  /**
   * How pages become crossOriginIsolated: 'headers' (the server's COOP/COEP, if any) or
   * 'service-worker' (JupyterLite's service worker adds them; see isolation.ts). The build addon
   * writes it from its `isolation` option, which also patches the service worker.
   */
  isolation: 'headers' | 'service-worker';
  /**
   * A Pyodide distribution of the same version (its `pyodide-lock.json` and package files),
   * relative to the site root unless absolute; '' (default) keeps the site offline. Set, a cell's
   * imports of packages in that lock (numpy, pandas...) load them first, and `%pip install`
   * installs them.
   */
  packagesUrl: string;
  /**
   * Package indexes (PEP 503/691 simple API, given by URL: a public or a private one) where
   * `%pip install` finds pure-Python wheels the site does not ship (with micropip); [] (default):
   * none, the site stays offline.
   */
  pipIndexUrls: string[];
}

/**
 * What the main thread tells a new worker at once: enough to load Python and the kernel's
 * wheels, before any kernel exists (see the `prestart` setting).
 */
export interface IWorkerBoot extends Pick<
  IKernelSettings,
  'preloadWheels' | 'extraWheels' | 'env' | 'pipIndexUrls'
> {
  /** Absolute URL of `pyodide.mjs`. */
  pyodideUrl: string;
  /** Absolute URL of the wheel folder (ends with `/`). */
  wheelsUrl: string;
  /** Absolute URL of the snapshot folder (ends with `/`), or '' for none. */
  snapshotUrl: string;
  /** Absolute URL of a Pyodide distribution's folder (ends with `/`), or '' (offline). */
  packagesUrl: string;
}

/** What the main thread tells the worker when a kernel is created on it: start the kernel. */
export interface IWorkerStart extends Pick<IKernelSettings, 'startupCode' | 'mountDrive'> {
  /** Absolute URL of the site root (ends with `/`). */
  baseUrl: string;
  /** Folder of the notebook inside the drive ('' for the root). */
  location: string;
  /** Service worker browsing context id (for the drive and the stdin endpoints). */
  browsingContextId: string;
  /**
   * How stdin reaches the worker: 'shared' (SharedArrayBuffer + Atomics, needs
   * crossOriginIsolated), 'service-worker' (synchronous XHR to `api/stdin/kernel`) or
   * 'none' (input() raises a clear error).
   */
  stdinMode: 'shared' | 'service-worker' | 'none';
  /** Control word + payload for the 'shared' stdin mode (see `requestInputShared` in worker/stdin.ts). */
  stdinBuffer?: SharedArrayBuffer;
  /** One byte shared with Pyodide's interrupt check (only when crossOriginIsolated). */
  interruptBuffer?: SharedArrayBuffer;
  /**
   * Where /drive's requests go when the page is crossOriginIsolated: this buffer and the main
   * thread (layout below), not the service worker. Without it, they go to the service worker.
   */
  driveBuffer?: SharedArrayBuffer;
}

/** Messages main thread → worker. */
export type MainToWorker =
  | { type: 'boot'; boot: IWorkerBoot }
  | { type: 'start'; start: IWorkerStart }
  | { type: 'message'; json: string; buffers: ArrayBuffer[] }
  | { type: 'interrupt'; id: number };

/** Start-up phases the worker reports (shown in the log console). */
export type StartupPhase =
  'loading-pyodide' | 'installing-packages' | 'starting-kernel' | 'ready' | 'failed';

/** Messages worker → main thread. */
export type WorkerToMain =
  | { type: 'message'; json: string; buffers: ArrayBuffer[] }
  | { type: 'progress'; phase: StartupPhase; text: string; elapsedMs: number }
  | { type: 'interrupt-ack'; id: number }
  | { type: 'died'; text: string; elapsedMs: number }
  /** A /drive request (JSON of JupyterLite's TDriveRequest); the answer comes in the drive buffer. */
  | { type: 'drive'; json: string }
  /** The worker has read a part of a long drive answer: write the next one. */
  | { type: 'drive-more' };

/**
 * Layout of the shared stdin buffer (crossOriginIsolated pages only).
 *
 * Bytes 0-3: state (Int32, STDIN_WAITING or STDIN_READY); bytes 4-7: length of the reply;
 * from byte 8: the input_reply message as UTF-8 JSON. The worker sets STDIN_WAITING, posts
 * the input_request and sleeps in `Atomics.wait`; the main thread writes the reply, sets
 * STDIN_READY and calls `Atomics.notify`.
 */
export const STDIN_STATE = 0;
export const STDIN_LENGTH = 1;
export const STDIN_WAITING = 0;
export const STDIN_READY = 1;
export const STDIN_HEADER_BYTES = 8;

/**
 * Layout of the shared drive buffer (crossOriginIsolated pages only; worker/drive.ts, drive.ts).
 *
 * Int32 0: state (DRIVE_WAITING or DRIVE_READY); Int32 1: length of this part; Int32 2: length of
 * the whole answer; from byte 12: the part, UTF-8 JSON. The worker sets DRIVE_WAITING, posts a
 * `drive` message and waits; the main thread answers with JupyterLite's DriveContentsProcessor,
 * writes the first part, sets DRIVE_READY and notifies. Answers longer than the buffer come in
 * parts: the worker posts `drive-more` for each next one.
 */
export const DRIVE_STATE = 0;
export const DRIVE_LENGTH = 1;
export const DRIVE_TOTAL = 2;
export const DRIVE_WAITING = 0;
export const DRIVE_READY = 1;
export const DRIVE_HEADER_BYTES = 12;
