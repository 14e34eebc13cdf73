/* async-kernel: cross-origin isolation through the service worker (AsyncKernelAddon.isolation) */
// Appended by the `jupyter lite build` addon to JupyterLite's service-worker.js when the option is
// "service-worker". Every response JupyterLite's worker hands to the page gets the COOP/COEP headers a
// static host cannot send, so that pages it controls are crossOriginIsolated (SharedArrayBuffer:
// interrupting busy loops, input() without the service worker round trip). The page reloads once
// when the worker first controls it (js/src/isolation.ts): isolation is decided when a page loads.
(() => {
  'use strict';
  const ISOLATION_HEADERS = {
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp'
  };

  /** The response with the isolation headers; opaque and redirect responses cannot change. */
  function isolated(response) {
    if (
      !response ||
      (response.type !== 'basic' && response.type !== 'cors' && response.type !== 'default')
    ) {
      return response;
    }
    const headers = new Headers(response.headers);
    for (const [name, value] of Object.entries(ISOLATION_HEADERS)) {
      headers.set(name, value);
    }
    return new Response(response.body, {
      status: response.status,
      statusText: response.statusText,
      headers
    });
  }

  const respondWith = FetchEvent.prototype.respondWith;
  FetchEvent.prototype.respondWith = function (response) {
    return respondWith.call(this, Promise.resolve(response).then(isolated));
  };
})();
