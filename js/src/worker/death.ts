/**
 * A worker whose Python can no longer run (`os._exit()`, a Pyodide fatal error) is a dead
 * kernel: the main thread is told once, with the reason, and shows the kernel as dead
 * (kernel.ts), so the page never waits on it. Pyodide refuses every call once it exited or
 * failed fatally: a call that throws tells a dead Python from an error in one message.
 */

import type { WorkerState } from './state';

/**
 * After `cause` escaped from Python (a message it failed to take, an error nobody caught):
 * whether Python still runs. If it does not, the main thread hears why, once.
 */
export function checkAlive(state: WorkerState, cause: unknown): boolean {
  if (state.dead) {
    return false;
  }
  if (!state.py || usable(state.py)) {
    return true;
  }
  state.dead = true;
  state.kernel = undefined;
  state.pending.length = 0;
  const elapsedMs = Math.round(performance.now() - state.started);
  const text = `Python (async) died: ${describe(cause)}. Restart the kernel to go on.`;
  console.error('async-kernel worker:', text, cause);
  state.post({ type: 'died', text, elapsedMs });
  return false;
}

function usable(py: NonNullable<WorkerState['py']>): boolean {
  try {
    py.runPython('None');
    return true;
  } catch {
    return false;
  }
}

/** The first line of what went wrong ("Program terminated with exit(3)", a fatal error's cause). */
function describe(cause: unknown): string {
  const text = cause instanceof Error ? cause.message : String(cause ?? 'unknown error');
  return text.trim().split('\n')[0] || 'unknown error';
}
