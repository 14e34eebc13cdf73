/**
 * The kernel's Web Worker: loads Pyodide from the site's own files, installs the kernel's
 * wheels from the site (no CDN, no package index), mounts the JupyterLite drive, starts
 * `async_kernel.hosts.pyodide` and relays messages in both directions.
 *
 * Bundled on its own (esbuild, see package.json) because a worker cannot use the module
 * federation share scope of the JupyterLab page.
 *
 * Two steps: `boot` (sent when the worker is created, possibly with the page, before any
 * kernel exists) loads Python and the wheels; `start` (sent when a kernel is created on this
 * worker) mounts the drive and starts the kernel once booting is done (boot.ts).
 *
 * Ordering: kernel messages that arrive before Python is ready are queued and delivered in
 * order once the kernel has started. Interrupts are acknowledged at once (the main thread
 * uses the missing acknowledgement to detect a worker stuck in synchronous Python; relay.ts).
 */

/// <reference lib="webworker" />

import type { MainToWorker } from '../tokens';
import { beginBoot, beginStart } from './boot';
import { checkAlive } from './death';
import { interrupt, toKernel } from './relay';
import { WorkerState } from './state';

declare const self: DedicatedWorkerGlobalScope;

const state = new WorkerState(self);

// Once a kernel runs, an error that escaped from Python may mean Python is gone (death.ts);
// if it is not, the error is logged here and the kernel goes on (the main thread would take
// an error event from the worker for a failed start).
self.addEventListener('error', (event: ErrorEvent) => {
  if (state.py) {
    event.preventDefault();
    if (checkAlive(state, event.error ?? event.message)) {
      console.error('async-kernel worker: uncaught error', event.error ?? event.message);
    }
  }
});
self.addEventListener('unhandledrejection', (event: PromiseRejectionEvent) => {
  if (state.py && !checkAlive(state, event.reason)) {
    event.preventDefault();
  }
});

self.onmessage = (event: MessageEvent<MainToWorker>): void => {
  const msg = event.data;
  switch (msg.type) {
    case 'boot':
      beginBoot(state, msg.boot);
      break;
    case 'start':
      beginStart(state, msg.start);
      break;
    case 'message':
      toKernel(state, msg.json, msg.buffers);
      break;
    case 'interrupt':
      interrupt(state, msg.id);
      break;
    default: {
      const unknown: never = msg;
      console.warn('async-kernel worker: unknown message', unknown);
    }
  }
};
