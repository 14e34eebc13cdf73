/**
 * The main thread's side of /drive on crossOriginIsolated pages (worker/drive.ts is the other):
 * answers the worker's drive requests with JupyterLite's DriveContentsProcessor, the code its
 * service worker path uses, through the shared drive buffer (layout in tokens.ts).
 */

import type { IDriveContentsProcessor } from '@jupyterlite/services';

import { DRIVE_HEADER_BYTES, DRIVE_LENGTH, DRIVE_READY, DRIVE_STATE, DRIVE_TOTAL } from './tokens';

/** Bytes of the drive buffer: answers longer than this come in parts. */
export const DRIVE_BUFFER_BYTES = 1 << 20;

/** The key of an answer that reports a failed request (the worker raises EIO). */
export const DRIVE_ERROR_KEY = 'asyncKernelDriveError';

export class SharedDriveServer {
  constructor(processor: IDriveContentsProcessor) {
    this._processor = processor;
    this.buffer = new SharedArrayBuffer(DRIVE_HEADER_BYTES + DRIVE_BUFFER_BYTES);
  }

  /** The buffer the worker waits on (IWorkerStart.driveBuffer). */
  readonly buffer: SharedArrayBuffer;

  /** Answer one request of the worker (a `drive` message). */
  async answer(json: string): Promise<void> {
    let response: unknown;
    try {
      response = await this._processor.processDriveRequest(JSON.parse(json));
    } catch (error) {
      console.warn('async-kernel: a /drive request failed', json.slice(0, 200), error);
      response = { [DRIVE_ERROR_KEY]: String(error) };
    }
    this._pending = new TextEncoder().encode(JSON.stringify(response));
    this._sent = 0;
    this.next();
  }

  /** Write the next part of the answer and wake the worker (also for `drive-more`). */
  next(): void {
    const control = new Int32Array(this.buffer, 0, 3);
    const part = this._pending.subarray(this._sent, this._sent + DRIVE_BUFFER_BYTES);
    new Uint8Array(this.buffer, DRIVE_HEADER_BYTES).set(part);
    this._sent += part.length;
    Atomics.store(control, DRIVE_LENGTH, part.length);
    Atomics.store(control, DRIVE_TOTAL, this._pending.length);
    Atomics.store(control, DRIVE_STATE, DRIVE_READY);
    Atomics.notify(control, DRIVE_STATE);
  }

  private _processor: IDriveContentsProcessor;
  private _pending = new Uint8Array(0);
  private _sent = 0;
}
