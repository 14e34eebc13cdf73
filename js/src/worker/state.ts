/**
 * Everything the kernel's worker remembers between messages, in one object created once by
 * the entry point (index.ts) and passed to every step.
 */

/// <reference lib="webworker" />

import type { PyodideAPI } from 'pyodide';
import type { PyProxy } from 'pyodide/ffi';

import type { IWorkerStart, StartupPhase, WorkerToMain } from '../tokens';
import type { IBooted } from './boot';

/** The Python kernel object returned by `async_kernel.hosts.pyodide.start`. */
export interface IPyKernel extends PyProxy {
  warm_up(): void;
  place(cwd: string, interruptBuffer?: SharedArrayBuffer): void;
  handle_msg(json: string, buffers: Uint8Array[]): void;
  interrupt(): void;
  stop(): void;
}

/** A kernel message from the main thread, kept until the kernel has started. */
export interface IQueuedMessage {
  json: string;
  buffers: ArrayBuffer[];
}

export class WorkerState {
  constructor(scope: DedicatedWorkerGlobalScope) {
    this._scope = scope;
  }

  /** When the worker started (for the elapsed times of the progress reports). */
  readonly started = performance.now();
  /** The `start` message's options, once a kernel was created on this worker. */
  start?: IWorkerStart;
  /** Python with the kernel's packages and a kernel, on its way (set by the `boot` message). */
  booting?: Promise<IBooted>;
  /** What the worker is doing, for the failure message. */
  step = 'loading Pyodide';
  /** The Python kernel, once started. */
  kernel?: IPyKernel;
  /** Python, once the kernel started on it. */
  py?: PyodideAPI;
  /** Whether Python stopped for good (os._exit(), a fatal error; death.ts). */
  dead = false;
  /** Whether the start-up failed (messages are dropped from then on). */
  failed = false;
  /** Kernel messages that arrived before the kernel started, in order. */
  readonly pending: IQueuedMessage[] = [];

  /** Send a message to the main thread. */
  post(msg: WorkerToMain, transfer: Transferable[] = []): void {
    this._scope.postMessage(msg, transfer);
  }

  /** Report a start-up step to the main thread. */
  progress(phase: StartupPhase, text: string): void {
    const elapsedMs = Math.round(performance.now() - this.started);
    this.post({ type: 'progress', phase, text, elapsedMs });
  }

  private _scope: DedicatedWorkerGlobalScope;
}
