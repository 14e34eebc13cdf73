/**
 * /drive without the service worker, on crossOriginIsolated pages: JupyterLite's DriveFS with a
 * contents API that posts each request to the main thread and waits on the shared drive buffer
 * for the answer (layout in tokens.ts). Emscripten's file system calls are synchronous, so the
 * worker must block; the main thread answers from the same contents manager as the file browser.
 */

import { ContentsAPI, DriveFS } from '@jupyterlite/services/lib/contents/drivefs';
import type {
  TDriveMethod,
  TDriveRequest,
  TDriveResponse
} from '@jupyterlite/services/lib/contents/drivefs';

import {
  DRIVE_HEADER_BYTES,
  DRIVE_LENGTH,
  DRIVE_STATE,
  DRIVE_TOTAL,
  DRIVE_WAITING
} from '../tokens';
import type { WorkerState } from './state';

/** The key of an answer that reports a failed request (drive.ts on the main thread). */
const DRIVE_ERROR_KEY = 'asyncKernelDriveError';

/** How long one part of an answer may take before the file operation fails (EIO). */
const ANSWER_TIMEOUT_MS = 60_000;

type SharedOptions = DriveFS.IOptions & { state: WorkerState; buffer: SharedArrayBuffer };

/** A DriveFS whose requests go through the shared drive buffer. */
export function sharedDriveFS(options: SharedOptions): DriveFS {
  return new SharedDriveFS(options);
}

class SharedDriveFS extends DriveFS {
  createAPI(options: DriveFS.IOptions): ContentsAPI {
    return new SharedContentsAPI(options as SharedOptions);
  }
}

class SharedContentsAPI extends ContentsAPI {
  constructor(options: SharedOptions) {
    super(options);
    this._state = options.state;
    this._buffer = options.buffer;
  }

  request<T extends TDriveMethod>(data: TDriveRequest<T>): TDriveResponse<T> {
    const control = new Int32Array(this._buffer, 0, 3);
    const payload = new Uint8Array(this._buffer, DRIVE_HEADER_BYTES);
    Atomics.store(control, DRIVE_STATE, DRIVE_WAITING);
    this._state.post({ type: 'drive', json: JSON.stringify(data) });
    const parts: Uint8Array[] = [];
    let received = 0;
    for (;;) {
      if (Atomics.wait(control, DRIVE_STATE, DRIVE_WAITING, ANSWER_TIMEOUT_MS) === 'timed-out') {
        throw new this.FS.ErrnoError(this.ERRNO_CODES.EIO);
      }
      const length = Atomics.load(control, DRIVE_LENGTH);
      parts.push(payload.slice(0, length));
      received += length;
      if (received >= Atomics.load(control, DRIVE_TOTAL)) {
        break;
      }
      Atomics.store(control, DRIVE_STATE, DRIVE_WAITING);
      this._state.post({ type: 'drive-more' });
    }
    const whole = new Uint8Array(received);
    let offset = 0;
    for (const part of parts) {
      whole.set(part, offset);
      offset += part.length;
    }
    const answer = JSON.parse(new TextDecoder().decode(whole)) as Record<string, unknown>;
    if (answer !== null && typeof answer === 'object' && DRIVE_ERROR_KEY in answer) {
      console.warn(
        `async-kernel: /drive ${data.method} ${data.path}: ${String(answer[DRIVE_ERROR_KEY])}`
      );
      throw new this.FS.ErrnoError(this.ERRNO_CODES.EIO);
    }
    return answer as TDriveResponse<T>;
  }

  private _state: WorkerState;
  private _buffer: SharedArrayBuffer;
}
