/**
 * The kernel object JupyterLite talks to (main thread).
 *
 * Guarantees:
 * - `handleMessage` forwards the message to the worker and returns at once. JupyterLite
 *   processes the messages of one kernel one at a time, awaiting this promise: waiting for
 *   the reply here would block a comm message (a button click) behind a cell that awaits it.
 *   Replies come back from the worker in whatever order the kernel produces them.
 * - `dispose` is synchronous: it terminates the worker, so a restart that follows at once
 *   starts a fresh worker and a fresh Python.
 * - `interrupt` first asks the worker (cancels an awaiting cell); if the worker does not
 *   acknowledge within `interruptGraceMs` it is stuck in synchronous Python, and when the page
 *   is crossOriginIsolated the kernel writes SIGINT into Pyodide's interrupt buffer.
 * - A worker whose Python died (worker/death.ts) is replaced at once, as Jupyter Server restarts
 *   a kernel process that died: the log console says why, clients get status `restarting`
 *   (JupyterLab's "Kernel Restarting" dialog, then it reconnects) and a fresh Python starts.
 */

import type { KernelMessage } from '@jupyterlab/services';
import type { IDriveContentsProcessor, IKernel } from '@jupyterlite/services';
import { PromiseDelegate } from '@lumino/coreutils';
import { Signal } from '@lumino/signaling';
import type { ISignal } from '@lumino/signaling';

import {
  PROTOCOL_VERSION,
  STDIN_HEADER_BYTES,
  STDIN_LENGTH,
  STDIN_READY,
  STDIN_STATE
} from './tokens';
import type { IWorkerStart, MainToWorker, StartupPhase, WorkerToMain } from './tokens';
import { SharedDriveServer } from './drive';
import type { KernelWorker } from './kernel-worker';

/** SIGINT, as Pyodide's interrupt buffer expects it. */
const SIGINT = 2;

/** Room for one input reply (JSON) in the shared stdin buffer. */
const STDIN_BUFFER_BYTES = 1 << 20;

export class AsyncKernel implements IKernel {
  constructor(options: AsyncKernel.IOptions) {
    this._id = options.id;
    this._name = options.name;
    this._location = options.location;
    this._sendMessage = options.sendMessage;
    this._onProgress = options.onProgress;
    this._interruptGraceMs = options.interruptGraceMs;

    const start: IWorkerStart = { ...options.start, location: options.location };
    if (start.stdinMode === 'shared') {
      start.stdinBuffer = new SharedArrayBuffer(STDIN_HEADER_BYTES + STDIN_BUFFER_BYTES);
      this._stdin = start.stdinBuffer;
    }
    if (options.drive) {
      this._drive = new SharedDriveServer(options.drive);
      start.driveBuffer = this._drive.buffer;
    }
    if (typeof SharedArrayBuffer !== 'undefined' && globalThis.crossOriginIsolated) {
      // Four bytes: Pyodide reads byte 0; time.sleep waits on the Int32 (hosts/pyodide.py).
      start.interruptBuffer = new SharedArrayBuffer(4);
      this._interruptBuffer = new Uint8Array(start.interruptBuffer);
    }
    this._start = start;
    this._newWorker = options.newWorker;
    this._worker = options.worker;
    this._worker.listen(msg => this._onWorkerMessage(msg));
    this._post({ type: 'start', start });
    // Messages are queued in the worker until Python is ready: the kernel is "ready" to
    // accept them now. JupyterLab shows "starting" until the kernel_info_reply arrives.
    this._ready.resolve();
  }

  get id(): string {
    return this._id;
  }

  get name(): string {
    return this._name;
  }

  get location(): string {
    return this._location;
  }

  get ready(): Promise<void> {
    return this._ready.promise;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  get disposed(): ISignal<this, void> {
    return this._disposed;
  }

  /** Forward one message to the worker; never waits for the reply (see the module doc). */
  handleMessage(msg: KernelMessage.IMessage): Promise<void> {
    if (this._isDisposed) {
      return Promise.resolve();
    }
    if (msg.channel === 'stdin' && msg.header.msg_type === 'input_reply' && this._stdin) {
      this._answerInput(msg);
      return Promise.resolve();
    }
    this._lastClientSession = msg.header.session;
    const buffers = (msg.buffers ?? []).map(toArrayBuffer);
    const json = JSON.stringify({ ...msg, buffers: undefined });
    this._post({ type: 'message', json, buffers }, buffers);
    return Promise.resolve();
  }

  /** Interrupt the running cell (see the module doc for the protocol). */
  interrupt(): void {
    if (this._isDisposed) {
      return;
    }
    const id = ++this._interruptId;
    this._post({ type: 'interrupt', id });
    const flag = this._interruptBuffer;
    if (flag === undefined) {
      return;
    }
    setTimeout(() => {
      if (!this._isDisposed && this._interruptAcked < id) {
        flag[0] = SIGINT;
        Atomics.notify(new Int32Array(flag.buffer, 0, 1), 0); // wakes a time.sleep
      }
    }, this._interruptGraceMs);
  }

  /** Terminate the worker at once (synchronous, so a restart gets a fresh kernel). */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._worker.terminate();
    this._disposed.emit();
    Signal.clearData(this);
  }

  private _post(msg: MainToWorker, transfer: Transferable[] = []): void {
    this._worker.post(msg, transfer);
  }

  private _onWorkerMessage(msg: WorkerToMain): void {
    switch (msg.type) {
      case 'message':
        this._forwardToClient(msg.json, msg.buffers);
        break;
      case 'progress':
        this._onProgress(msg.phase, msg.text, msg.elapsedMs);
        if (msg.phase === 'failed') {
          this._publishDead();
        }
        break;
      case 'interrupt-ack':
        this._interruptAcked = Math.max(this._interruptAcked, msg.id);
        break;
      case 'died':
        this._onProgress('failed', msg.text, msg.elapsedMs);
        this._restartAfterDeath();
        break;
      case 'drive':
        void this._drive?.answer(msg.json);
        break;
      case 'drive-more':
        this._drive?.next();
        break;
      default: {
        const unknown: never = msg;
        console.warn('async-kernel: unknown message from the worker', unknown);
      }
    }
  }

  private _forwardToClient(json: string, buffers: ArrayBuffer[]): void {
    let msg: KernelMessage.IMessage;
    try {
      msg = JSON.parse(json) as KernelMessage.IMessage;
    } catch (error) {
      console.error('async-kernel: the kernel sent a message that is not JSON', error, json);
      return;
    }
    msg.buffers = buffers;
    // JupyterLite looks up a client socket by `header.session` for every message (iopub too,
    // before broadcasting it): name the client that asked (the parent's session), or the last
    // client heard from when there is no parent. The kernel's own session names no socket.
    const parentSession = (msg.parent_header as Partial<KernelMessage.IHeader>)?.session;
    const session = parentSession || this._lastClientSession;
    if (session) {
      msg.header = { ...msg.header, session };
    }
    this._sendMessage(msg);
  }

  /** Write the reply into the shared stdin buffer and wake the blocked worker. */
  private _answerInput(msg: KernelMessage.IMessage): void {
    const stdin = this._stdin as SharedArrayBuffer;
    const control = new Int32Array(stdin, 0, 2);
    const payload = new Uint8Array(stdin, STDIN_HEADER_BYTES);
    let bytes = new TextEncoder().encode(JSON.stringify({ ...msg, buffers: undefined }));
    if (bytes.length > payload.length) {
      const content = { value: '', status: 'error' };
      bytes = new TextEncoder().encode(JSON.stringify({ ...msg, buffers: undefined, content }));
      console.error('async-kernel: input reply too long, sent an empty value instead');
    }
    payload.set(bytes);
    Atomics.store(control, STDIN_LENGTH, bytes.length);
    Atomics.store(control, STDIN_STATE, STDIN_READY);
    Atomics.notify(control, STDIN_STATE);
  }

  /** Python died: a fresh worker and Python replace them (see the module doc). */
  private _restartAfterDeath(): void {
    this._publishStatus('restarting');
    this._worker.terminate();
    if (this._interruptBuffer) {
      this._interruptBuffer[0] = 0;
    }
    this._worker = this._newWorker();
    this._worker.listen(msg => this._onWorkerMessage(msg));
    this._post({ type: 'start', start: this._start });
  }

  /** Tell every client the kernel is dead (start-up failed), so the UI stops waiting. */
  private _publishDead(): void {
    this._publishStatus('dead');
  }

  private _publishStatus(state: 'dead' | 'restarting'): void {
    const header = {
      msg_id: `async-kernel-${state}-${this._id}-${++this._statusCount}`,
      msg_type: 'status',
      // JupyterLite delivers a message to the client socket its session names (see _forwardToClient).
      session: this._lastClientSession,
      username: '',
      date: new Date().toISOString(),
      version: PROTOCOL_VERSION
    };
    const msg = {
      channel: 'iopub',
      header,
      parent_header: {},
      metadata: {},
      content: { execution_state: state },
      buffers: []
    } as unknown as KernelMessage.IMessage;
    this._sendMessage(msg);
  }

  private _id: string;
  private _name: string;
  private _location: string;
  private _sendMessage: IKernel.SendMessage;
  private _onProgress: AsyncKernel.ProgressCallback;
  private _interruptGraceMs: number;
  private _worker: KernelWorker;
  private _newWorker: () => KernelWorker;
  private _start: IWorkerStart;
  private _statusCount = 0;
  private _stdin?: SharedArrayBuffer;
  private _drive?: SharedDriveServer;
  private _interruptBuffer?: Uint8Array;
  private _lastClientSession = '';
  private _interruptId = 0;
  private _interruptAcked = 0;
  private _ready = new PromiseDelegate<void>();
  private _isDisposed = false;
  private _disposed = new Signal<this, void>(this);
}

function toArrayBuffer(buffer: ArrayBuffer | ArrayBufferView): ArrayBuffer {
  if (buffer instanceof ArrayBuffer) {
    return buffer.slice(0);
  }
  const view = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  return view.slice().buffer;
}

export namespace AsyncKernel {
  export type ProgressCallback = (phase: StartupPhase, text: string, elapsedMs: number) => void;

  export interface IOptions extends IKernel.IOptions {
    /** The worker to run on: booting already (prestarted) or just created. */
    worker: KernelWorker;
    /** Another worker, for a restart after Python died. */
    newWorker: () => KernelWorker;
    /** How to start the kernel, except what the kernel object itself adds. */
    start: Omit<IWorkerStart, 'location' | 'stdinBuffer' | 'interruptBuffer' | 'driveBuffer'>;
    /** On crossOriginIsolated pages: answers /drive's requests through a shared buffer. */
    drive?: IDriveContentsProcessor;
    interruptGraceMs: number;
    /** Called for each start-up step and on failure. */
    onProgress: ProgressCallback;
  }
}
