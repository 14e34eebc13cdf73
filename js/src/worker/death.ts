/**
 * A worker whose Python can no longer run (`os._exit()`, a Pyodide fatal error) is a dead
 * kernel: the main thread is told once, with the reason, and replaces the worker (kernel.ts),
 * so the page never waits on it. Pyodide refuses every call once it exited or
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
  const refused = state.py ? refusal(state.py) : undefined;
  if (refused === undefined) {
    return true;
  }
  state.dead = true;
  state.kernel = undefined;
  state.pending.length = 0;
  const elapsedMs = Math.round(performance.now() - state.started);
  // An exit names its status; after a fatal error, what escaped is often a follow-up error, and
  // Pyodide's refusal says what happened (it printed the cause to the console).
  const why = EXIT.test(describe(cause))
    ? describe(cause)
    : `${describe(refused)} (the browser console has the cause)`;
  const text = `Python (async) died: ${why}. Starting a new Python.`;
  console.error('async-kernel worker:', text, cause);
  state.post({ type: 'died', text, elapsedMs });
  return false;
}

/** Emscripten's message for `os._exit(n)` (and any exit of the runtime). */
const EXIT = /^Program terminated with exit\(-?\d+\)$/;

/** Undefined while Python runs; else Pyodide's refusal ("Pyodide already exited ..."). */
function refusal(py: NonNullable<WorkerState['py']>): unknown {
  try {
    py.runPython('None');
    return undefined;
  } catch (error) {
    return error;
  }
}

/** The first line of what went wrong, without its final period. */
function describe(cause: unknown): string {
  const text = cause instanceof Error ? cause.message : String(cause ?? 'unknown error');
  const line = text.trim().split('\n')[0] ?? '';
  return line.replace(/\.$/, '') || 'unknown error';
}
