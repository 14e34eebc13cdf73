/**
 * Faster requests to our kernels: JupyterLite's in-page WebSocket (mock-socket) hands every message
 * from the page's KernelConnection to JupyterLite's kernel client after a 4 ms timer (a "timing
 * hack" of mock-socket), which is most of an execute round trip here. For the sockets of our
 * kernels, the message is handed over in a microtask instead: the same listeners, the same order,
 * after the sending code has finished (so the KernelConnection has registered the request's future
 * first). Other kernels' sockets are left alone. Nothing is patched unless the app's WebSocket is
 * mock-socket's (the browser's own has no `dispatchEvent` listeners to call).
 */

/** The parts of mock-socket's client WebSocket this relies on. */
interface IMockSocket {
  url: string;
  readyState: number;
  listeners?: Record<string, unknown[]>;
  dispatchEvent(event: Event, ...args: unknown[]): boolean;
}

const OPEN = 1;

/**
 * Deliver the messages of sockets whose URL `ours` accepts in a microtask; returns whether the
 * app's WebSocket could be patched.
 */
export function deliverWithoutDelay(socketClass: unknown, ours: (url: string) => boolean): boolean {
  const proto = (socketClass as { prototype?: Record<string, unknown> } | undefined)?.prototype;
  if (
    !proto ||
    socketClass === globalThis.WebSocket ||
    typeof proto.send !== 'function' ||
    typeof proto.dispatchEvent !== 'function'
  ) {
    return false;
  }
  const send = proto.send as (this: IMockSocket, data: unknown) => void;
  proto.send = function (this: IMockSocket, data: unknown): void {
    if (this.readyState !== OPEN || !this.listeners || !ours(this.url)) {
      send.call(this, data);
      return;
    }
    // As mock-socket's own send: the event carries the data as a string (or binary), the
    // listeners get the data as it was sent.
    const payload = data instanceof ArrayBuffer || data instanceof Blob ? data : String(data);
    const event = new MessageEvent('server::message', { data: payload, origin: this.url });
    queueMicrotask(() => {
      this.dispatchEvent(event, data);
    });
  };
  return true;
}

/** Whether `url` is the channels socket of one of the kernels `ids` holds. */
export function isKernelSocket(url: string, ids: ReadonlySet<string>): boolean {
  const match = /\/api\/kernels\/([^/?]+)\/channels/.exec(url);
  return match !== null && ids.has(decodeURIComponent(match[1]));
}
