/**
 * input() in the worker: the kernel's blocking `send` of an input_request, answered through
 * the shared stdin buffer (crossOriginIsolated pages, layout in tokens.ts) or a synchronous
 * XHR to the service worker's stdin endpoint; elsewhere an error reply that says why.
 */

import { STDIN_HEADER_BYTES, STDIN_LENGTH, STDIN_STATE, STDIN_WAITING } from '../tokens';
import type { IWorkerStart } from '../tokens';
import type { WorkerState } from './state';

/** What would make input() work, for the one-line errors below. */
const ENABLE_INPUT =
  'serve the site with COOP/COEP headers or build it with AsyncKernelAddon.isolation=service-worker ' +
  '(cross-origin isolation), or open it in a window that allows service workers';

/**
 * Send an input_request and block until the reply; returns the reply's JSON. Where the page
 * cannot take input the reply is an error whose one line says why (the kernel raises it in the
 * cell as StdinNotImplementedError).
 */
export function requestInput(state: WorkerState, json: string): string {
  const options = state.start as IWorkerStart;
  switch (options.stdinMode) {
    case 'shared':
      return requestInputShared(state, options, json);
    case 'service-worker':
      return requestInputServiceWorker(options, json);
    default:
      return errorReply(
        json,
        'input() is unavailable on this page: it is not cross-origin isolated and no service ' +
          `worker serves it (a private window or an embed may block them); ${ENABLE_INPUT}`
      );
  }
}

function requestInputShared(state: WorkerState, options: IWorkerStart, json: string): string {
  const stdin = options.stdinBuffer as SharedArrayBuffer;
  const control = new Int32Array(stdin, 0, 2);
  Atomics.store(control, STDIN_STATE, STDIN_WAITING);
  state.post({ type: 'message', json, buffers: [] });
  const interrupt = options.interruptBuffer ? new Uint8Array(options.interruptBuffer) : undefined;
  // Wake up now and then to notice an interrupt (the main thread cannot post to a blocked worker).
  while (Atomics.wait(control, STDIN_STATE, STDIN_WAITING, 200) === 'timed-out') {
    if (interrupt && interrupt[0] !== 0) {
      // Leave the flag set: Pyodide raises KeyboardInterrupt as soon as Python resumes.
      return replyWithValue(json, '');
    }
  }
  const length = Atomics.load(control, STDIN_LENGTH);
  const bytes = new Uint8Array(stdin, STDIN_HEADER_BYTES, length).slice();
  Atomics.store(control, STDIN_STATE, STDIN_WAITING);
  return new TextDecoder().decode(bytes);
}

function requestInputServiceWorker(options: IWorkerStart, json: string): string {
  const request = JSON.parse(json) as Record<string, unknown>;
  const xhr = new XMLHttpRequest();
  xhr.open('POST', new URL('api/stdin/kernel', options.baseUrl).href, false);
  xhr.send(
    JSON.stringify({
      data: { ...request, buffers: [] },
      browsingContextId: options.browsingContextId
    })
  );
  if (xhr.status !== 200) {
    // The page's requests bypass the service worker (a reload that skipped it, or it is gone):
    // the site's server answered instead.
    return errorReply(
      json,
      `input() is unavailable: this page is not served through its service worker (HTTP ${xhr.status} ` +
        `from the server instead); reload the page, or ${ENABLE_INPUT}`
    );
  }
  return xhr.responseText;
}

/** An input_reply for `requestJson` carrying `value` (used when the wait is interrupted). */
function replyWithValue(requestJson: string, value: string): string {
  return inputReply(requestJson, 'interrupted', { value, status: 'ok' });
}

/** An input_reply saying the front end cannot take input, and why (one line). */
function errorReply(requestJson: string, why: string): string {
  return inputReply(requestJson, 'unavailable', {
    status: 'error',
    ename: 'StdinNotImplementedError',
    evalue: why,
    traceback: []
  });
}

function inputReply(requestJson: string, suffix: string, content: Record<string, unknown>): string {
  const request = JSON.parse(requestJson) as { header: Record<string, unknown> };
  return JSON.stringify({
    channel: 'stdin',
    header: {
      ...request.header,
      msg_id: `${String(request.header.msg_id)}-${suffix}`,
      msg_type: 'input_reply'
    },
    parent_header: request.header,
    metadata: {},
    content
  });
}
