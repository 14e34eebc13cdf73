/**
 * The JupyterLite plugin: registers the "Python (async)" kernelspec and routes the toolbar's
 * interrupt to our kernels. The kernel itself lives in kernel.ts, its worker in worker.ts.
 */

import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { PageConfig } from '@jupyterlab/coreutils';
import { ILoggerRegistry } from '@jupyterlab/logconsole';
import { IServiceWorkerManager } from '@jupyterlite/apputils';
import { IKernelClient, IKernelSpecs } from '@jupyterlite/services';
import type { IKernel } from '@jupyterlite/services';

import logo32 from '../../py/async_kernel/resources/logo-32x32.png';
import logo64 from '../../py/async_kernel/resources/logo-64x64.png';
import logoSvg from '../../py/async_kernel/resources/logo-svg.svg';
import { AsyncKernel, KernelWorker } from './kernel';
import { KERNEL_NAME, PLUGIN_ID } from './tokens';
import type { IKernelSettings, IWorkerBoot, StartupPhase } from './tokens';

/** How long a prestarted worker waits for its kernel before it is terminated. */
const SPARE_WORKER_MS = 120_000;

const DEFAULT_SETTINGS: IKernelSettings = {
  pyodideUrl: './async-kernel/pyodide/pyodide.mjs',
  wheelsUrl: './async-kernel/wheels/',
  snapshotUrl: './async-kernel/snapshot/',
  preloadWheels: [],
  extraWheels: [],
  env: {},
  startupCode: '',
  mountDrive: true,
  interruptGraceMs: 100,
  prestart: true,
  spareWorker: false,
  kernelAliases: []
};

/** Settings from `jupyter-lite.json` (`litePluginSettings`), over the defaults. */
function readSettings(): IKernelSettings {
  const all = JSON.parse(PageConfig.getOption('litePluginSettings') || '{}') as Record<
    string,
    Partial<IKernelSettings>
  >;
  return { ...DEFAULT_SETTINGS, ...(all[PLUGIN_ID] ?? {}) };
}

/** Resolve a URL of the settings against the site root. */
function siteUrl(url: string): string {
  return new URL(url, new URL(PageConfig.getBaseUrl(), location.href)).href;
}

/** Resolve a folder URL of the settings against the site root (the result ends with `/`). */
function folderUrl(url: string): string {
  return siteUrl(url.endsWith('/') ? url : `${url}/`);
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'The "Python (async)" kernel: async-kernel on Pyodide in a Web Worker.',
  autoStart: true,
  requires: [IKernelSpecs],
  optional: [IKernelClient, IServiceWorkerManager, ILoggerRegistry],
  activate: (
    app: JupyterFrontEnd,
    kernelSpecs: IKernelSpecs,
    kernelClient: IKernelClient | null,
    serviceWorker: IServiceWorkerManager | null,
    loggers: ILoggerRegistry | null
  ): void => {
    const settings = readSettings();
    const baseUrl = siteUrl('./');
    const isolated = typeof SharedArrayBuffer !== 'undefined' && globalThis.crossOriginIsolated;
    const reporter = new ProgressReporter(app, loggers);

    if (kernelClient) {
      routeInterrupts(kernelClient);
    }

    const boot: IWorkerBoot = {
      pyodideUrl: siteUrl(settings.pyodideUrl),
      wheelsUrl: folderUrl(settings.wheelsUrl),
      snapshotUrl: settings.snapshotUrl ? folderUrl(settings.snapshotUrl) : '',
      preloadWheels: settings.preloadWheels,
      extraWheels: settings.extraWheels,
      env: settings.env
    };
    let spare: SpareWorker | undefined;

    const create = async (options: IKernel.IOptions): Promise<IKernel> => {
      const worker = spare?.take() ?? new KernelWorker(boot);
      const serviceWorkerReady = await waitForServiceWorker(serviceWorker);
      const stdinMode = isolated ? 'shared' : serviceWorkerReady ? 'service-worker' : 'none';
      return new AsyncKernel({
        ...options,
        worker,
        interruptGraceMs: settings.interruptGraceMs,
        onProgress: (phase, text, elapsedMs) => {
          reporter.report(options.id, phase, text, elapsedMs);
          // After this kernel's start, not during it: both would compete for the same CPU.
          if (phase === 'ready' && settings.spareWorker && !spare?.waiting) {
            spare = new SpareWorker(boot);
          }
        },
        start: {
          baseUrl,
          startupCode: settings.startupCode,
          mountDrive: settings.mountDrive && serviceWorkerReady,
          browsingContextId: serviceWorker?.browsingContextId ?? '',
          stdinMode
        }
      });
    };
    const names = [KERNEL_NAME, ...settings.kernelAliases.filter(name => name !== KERNEL_NAME)];
    for (const name of names) {
      kernelSpecs.register({
        spec: {
          name,
          display_name: name === KERNEL_NAME ? 'Python (async)' : `Python (async, as "${name}")`,
          language: 'python',
          argv: [],
          resources: {
            'logo-32x32': logo32,
            'logo-64x64': logo64,
            'logo-svg': `data:image/svg+xml;base64,${btoa(logoSvg)}`
          }
        },
        create
      });
    }
    if (settings.prestart && names.includes(wantedKernel())) {
      spare = new SpareWorker(boot);
    } else if (settings.prestart) {
      // Once every plugin is active, every kernel is registered: then decide.
      void app.started.then(() => {
        if (onlyKernel(kernelSpecs, names)) {
          spare = new SpareWorker(boot);
        }
      });
    }
  }
};

/**
 * The kernel this page asks for: the REPL app's `kernel` URL parameter, else the site's
 * `defaultKernelName`. Prestarting is worth its CPU and memory when it is ours.
 */
function wantedKernel(): string {
  return (
    new URLSearchParams(location.search).get('kernel') ?? PageConfig.getOption('defaultKernelName')
  );
}

/** Whether the kernel the page asks for is not installed and ours (by any of `ours`) is the only kernel. */
function onlyKernel(kernelSpecs: IKernelSpecs, ours: string[]): boolean {
  const names = Object.keys(kernelSpecs.specs?.kernelspecs ?? {});
  return !names.includes(wantedKernel()) && names.every(name => ours.includes(name));
}

/**
 * A worker started before a kernel asks for one: with the page (the `prestart` setting), or
 * once a kernel is ready (`spareWorker`). The next kernel takes it, with Python loaded or on its
 * way. Unclaimed for SPARE_WORKER_MS, it is terminated (it holds a whole Python's memory).
 */
class SpareWorker {
  constructor(boot: IWorkerBoot) {
    this._worker = new KernelWorker(boot);
    this._timer = setTimeout(() => {
      this._worker?.terminate();
      this._worker = undefined;
    }, SPARE_WORKER_MS);
  }

  /** Whether the worker is still there for a kernel to take. */
  get waiting(): boolean {
    return this._worker !== undefined;
  }

  /** The worker, once; undefined afterwards or when it was terminated. */
  take(): KernelWorker | undefined {
    clearTimeout(this._timer);
    const worker = this._worker;
    this._worker = undefined;
    return worker;
  }

  private _worker?: KernelWorker;
  private _timer: ReturnType<typeof setTimeout>;
}

/**
 * JupyterLite's kernel client answers the toolbar's interrupt by cancelling its own message
 * queue only; it never tells the kernel. Wrap its `interrupt` so our kernels hear about it.
 */
function routeInterrupts(kernelClient: IKernelClient): void {
  const original = kernelClient.interrupt.bind(kernelClient);
  kernelClient.interrupt = async (kernelId: string): Promise<void> => {
    const kernel = await (
      kernelClient as IKernelClient & {
        getModel?: (id: string) => Promise<IKernel | undefined>;
      }
    ).getModel?.(kernelId);
    if (kernel instanceof AsyncKernel) {
      kernel.interrupt();
      return;
    }
    return original(kernelId);
  };
}

/** Whether the service worker (drive and stdin endpoints) is usable; waits at most 10 s. */
async function waitForServiceWorker(serviceWorker: IServiceWorkerManager | null): Promise<boolean> {
  if (!serviceWorker) {
    return false;
  }
  const timeout = new Promise<void>(resolve => setTimeout(resolve, 10_000));
  await Promise.race([serviceWorker.ready.catch(() => undefined), timeout]);
  return serviceWorker.enabled;
}

/**
 * Shows the kernel's start-up steps in the log console of the notebooks/consoles using it
 * (and in the browser console).
 */
class ProgressReporter {
  constructor(app: JupyterFrontEnd, loggers: ILoggerRegistry | null) {
    this._app = app;
    this._loggers = loggers;
  }

  report(kernelId: string, phase: StartupPhase, text: string, elapsedMs: number): void {
    const line = `[async-kernel ${(elapsedMs / 1000).toFixed(1)} s] ${text}`;
    if (phase === 'failed') {
      console.error(line);
    } else {
      console.info(line);
    }
    this._log(kernelId, phase === 'failed' ? 'critical' : 'info', line, 20);
  }

  private _log(kernelId: string, level: 'info' | 'critical', line: string, retries: number): void {
    if (!this._loggers) {
      return;
    }
    const paths = [...this._app.serviceManager.sessions.running()]
      .filter(session => session.kernel?.id === kernelId)
      .map(session => session.path);
    if (paths.length === 0 && retries > 0) {
      // The session that owns a new kernel is recorded just after the kernel starts.
      setTimeout(() => this._log(kernelId, level, line, retries - 1), 250);
      return;
    }
    for (const path of paths) {
      const logger = this._loggers.getLogger(path);
      if (level === 'info' && logger.level === 'warning') {
        logger.level = 'info';
      }
      logger.log({ type: 'text', level, data: line });
    }
  }

  private _app: JupyterFrontEnd;
  private _loggers: ILoggerRegistry | null;
}

export default plugin;
