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
