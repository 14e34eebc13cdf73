/**
 * Kernel messages in both directions: main thread → Python (queued until the kernel has
 * started), Python → main thread (the callback transport's `send`), and interrupts.
 */

import type { PyProxy } from 'pyodide/ffi';

import { checkAlive } from './death';
import type { IPyKernel, WorkerState } from './state';
import { requestInput } from './stdin';

/** The `send` function Python's callback transport calls for every outgoing message. */
export type SendFunction = (
  json: string,
  buffers: unknown,
  blocking: boolean
) => string | undefined;

/** A kernel message from the main thread: deliver it, or queue it until the kernel started. */
export function toKernel(state: WorkerState, json: string, buffers: ArrayBuffer[]): void {
  if (state.kernel) {
    deliver(state, state.kernel, json, buffers);
  } else if (!state.failed && !state.dead) {
    state.pending.push({ json, buffers });
  }
}

/** Deliver the messages queued before the kernel started, in order. */
export function deliverPending(state: WorkerState, pyKernel: IPyKernel): void {
  for (const msg of state.pending.splice(0)) {
    deliver(state, pyKernel, msg.json, msg.buffers);
  }
}

/** Acknowledge the interrupt at once (see kernel.ts), then interrupt the kernel. */
export function interrupt(state: WorkerState, id: number): void {
  state.post({ type: 'interrupt-ack', id });
  state.kernel?.interrupt();
}

function deliver(
  state: WorkerState,
  pyKernel: IPyKernel,
  json: string,
  buffers: ArrayBuffer[]
): void {
  if (state.dead) {
    return;
  }
  try {
    pyKernel.handle_msg(
      json,
      buffers.map(b => new Uint8Array(b))
    );
  } catch (error) {
    // handle_msg logs a client's bad message itself and never raises: Python may be gone.
    if (checkAlive(state, error)) {
      console.error('async-kernel worker: handle_msg failed', error);
    }
  }
}

/** The function Python calls for every outgoing message (see the callback transport's contract). */
export function pythonSender(state: WorkerState): SendFunction {
  return (json: string, buffers: unknown, blocking: boolean): string | undefined => {
    const copies = toArrayBuffers(buffers);
    if (blocking) {
      return requestInput(state, json);
    }
    state.post({ type: 'message', json, buffers: copies }, copies);
    return undefined;
  };
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
