/**
 * Where a new kernel's worker comes from: a spare worker that started loading Python before
 * the kernel asked (the `prestart` and `spareWorker` settings), else a new one.
 */

import type { JupyterFrontEnd } from '@jupyterlab/application';
import { PageConfig } from '@jupyterlab/coreutils';
import type { IKernelSpecs } from '@jupyterlite/services';

import { KernelWorker } from './kernel-worker';
import { wantedKernel } from './page';
import { PRESTARTED } from './tokens';
import type { IWorkerBoot } from './tokens';

/**
 * The worker, bundled on its own by esbuild (`npm run build:worker`) and emitted by webpack
 * as a plain asset: a worker cannot join the page's module federation share scope.
 */
const WORKER_URL = new URL('./worker.bundle.js', import.meta.url);

/** How long a prestarted worker waits for its kernel before it is terminated. */
const SPARE_WORKER_MS = 120_000;

/**
 * A worker started before a kernel asks for one: with the page (the `prestart` setting), or
 * once a kernel is ready (`spareWorker`). The next kernel takes it, with Python loaded or on its
 * way. Unclaimed for SPARE_WORKER_MS, it is terminated (it holds a whole Python's memory).
 */
class SpareWorker {
  constructor(worker: KernelWorker) {
    this._worker = worker;
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

/** The workers of the page's kernels: at most one spare, and new ones on demand. */
export class WorkerPool {
  /** `keepSpare`: the `spareWorker` setting. */
  constructor(boot: IWorkerBoot, keepSpare: boolean) {
    this._boot = boot;
    this._keepSpare = keepSpare;
  }

  /** A worker for a new kernel: the spare if there is one, else a new worker. */
  take(): KernelWorker {
    return this._spare?.take() ?? new KernelWorker(WORKER_URL, this._boot);
  }

  /** Take the worker the prestart script started with the page, if it did; whether it did. */
  adoptPrestarted(): boolean {
    const page = globalThis as Record<symbol, KernelWorker | undefined>;
    const worker = page[PRESTARTED];
    page[PRESTARTED] = undefined;
    if (worker) {
      this._spare = new SpareWorker(worker);
    }
    return worker !== undefined;
  }

  /**
   * A kernel is ready: with `spareWorker`, start the next Python now (after this kernel's
   * start, not during it: both would compete for the same CPU).
   */
  kernelReady(): void {
    if (this._keepSpare && !this._spare?.waiting) {
      this.prestart();
    }
  }

  /** Start a spare worker (replacing any previous one). */
  prestart(): void {
    this._spare = new SpareWorker(new KernelWorker(WORKER_URL, this._boot));
  }

  private _boot: IWorkerBoot;
  private _keepSpare: boolean;
  private _spare?: SpareWorker;
}

/**
 * The `prestart` setting, once the plugins are active, when the prestart script started no
 * worker: start a spare worker when the page is likely to use one of our kernels (named by `ours`).
 */
export function prestartIfWanted(
  app: JupyterFrontEnd,
  kernelSpecs: IKernelSpecs,
  ours: string[],
  pool: WorkerPool
): void {
  if (ours.includes(wantedKernel(PageConfig.getOption))) {
    pool.prestart();
    return;
  }
  // Once every plugin is active, every kernel is registered: then decide.
  void app.started.then(() => {
    if (onlyKernel(kernelSpecs, ours)) {
      pool.prestart();
    }
  });
}

/** Whether the kernel the page asks for is not installed and ours (by any of `ours`) is the only kernel. */
function onlyKernel(kernelSpecs: IKernelSpecs, ours: string[]): boolean {
  const names = Object.keys(kernelSpecs.specs?.kernelspecs ?? {});
  return (
    !names.includes(wantedKernel(PageConfig.getOption)) && names.every(name => ours.includes(name))
  );
}
