/**
 * The Web Worker a kernel runs on, seen from the page. No JupyterLab imports: the prestart
 * script (prestart.ts), which runs before JupyterLab's modules exist, creates these too.
 */

import type { IWorkerBoot, MainToWorker, WorkerToMain } from './tokens';

/**
 * A Web Worker loading (then running) Python. It boots as soon as it is created, so it can be
 * created before any kernel exists (the `prestart` setting); what it reports before a kernel
 * listens is kept and handed to the first listener.
 */
export class KernelWorker {
  /** `url`: the worker's bundle (worker/, emitted by webpack as a plain asset). */
  constructor(url: URL, boot: IWorkerBoot) {
    this._worker = new Worker(url, { type: 'module', name: 'async-kernel' });
    this._worker.onmessage = (event: MessageEvent<WorkerToMain>) => this._emit(event.data);
    this._worker.onerror = (event: ErrorEvent) => {
      const text = `The kernel worker failed: ${event.message}`;
      this._emit({ type: 'progress', phase: 'failed', text, elapsedMs: 0 });
    };
    this.post({ type: 'boot', boot });
  }

  /** Receive the worker's messages, starting with those it sent before. */
  listen(listener: (msg: WorkerToMain) => void): void {
    this._listener = listener;
    for (const msg of this._early.splice(0)) {
      listener(msg);
    }
  }

  post(msg: MainToWorker, transfer: Transferable[] = []): void {
    this._worker.postMessage(msg, transfer);
  }

  terminate(): void {
    this._worker.onmessage = null;
    this._worker.terminate();
    this._listener = undefined;
  }

  private _emit(msg: WorkerToMain): void {
    if (this._listener) {
      this._listener(msg);
    } else {
      this._early.push(msg);
    }
  }

  private _worker: Worker;
  private _listener?: (msg: WorkerToMain) => void;
  private _early: WorkerToMain[] = [];
}
