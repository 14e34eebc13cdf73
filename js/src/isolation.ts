/**
 * Cross-origin isolation through the service worker (setting `isolation: "service-worker"`, which
 * the build addon writes with its option of that name): JupyterLite's service worker then adds the
 * COOP/COEP headers a static host cannot send (async_kernel/jupyterlite/isolation-sw.js). A page
 * is isolated or not from the moment it loads, so a page that was not yet controlled by that
 * worker (the first visit) reloads once, as soon as the worker controls it.
 */

import type { IServiceWorkerManager } from '@jupyterlite/apputils';

/** How long the first visit waits for the service worker to control the page. */
const CONTROL_TIMEOUT_MS = 10_000;

/** Marks, per tab and page, a reload made for isolation: a second one would not help. */
const RELOADED_KEY = 'async-kernel:isolation-reload';

/**
 * Resolves true when the page is about to reload to become isolated (then nothing else should
 * start), false when it stays as it is: isolated already, the setting is off, or the browser
 * cannot isolate it (service workers blocked, an embedding page that is not isolated itself).
 */
export async function reloadForIsolation(
  isolation: string,
  serviceWorker: IServiceWorkerManager | null
): Promise<boolean> {
  if (isolation !== 'service-worker' || self.crossOriginIsolated) {
    sessionStorage.removeItem(RELOADED_KEY);
    return false;
  }
  const page = location.pathname;
  if (sessionStorage.getItem(RELOADED_KEY) === page) {
    console.warn(
      'Python (async): this page is not crossOriginIsolated even through the service worker (an ' +
        'embedding page without COOP/COEP, or a service worker from an older build): interrupt ' +
        'stops awaiting cells only.'
    );
    return false;
  }
  if (!serviceWorker || !navigator.serviceWorker || !(await controlled(serviceWorker))) {
    console.warn(
      'Python (async): no service worker controls this page, so it cannot be crossOriginIsolated ' +
        '(service workers blocked: a private window or an embed).'
    );
    return false;
  }
  sessionStorage.setItem(RELOADED_KEY, page);
  console.info(
    'Python (async): reloading once, through the service worker, to be crossOriginIsolated.'
  );
  location.reload();
  return true;
}

/** Whether a service worker controls the page, waiting for it (bounded) on a first visit. */
async function controlled(serviceWorker: IServiceWorkerManager): Promise<boolean> {
  const container = navigator.serviceWorker;
  const registered = await Promise.race([
    serviceWorker.ready.then(
      () => true,
      () => false
    ),
    delay(CONTROL_TIMEOUT_MS, false)
  ]);
  if (!registered || !serviceWorker.enabled) {
    return false;
  }
  if (container.controller) {
    return true;
  }
  return Promise.race([
    new Promise<boolean>(resolve =>
      container.addEventListener('controllerchange', () => resolve(true), { once: true })
    ),
    delay(CONTROL_TIMEOUT_MS, false)
  ]);
}

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise(resolve => setTimeout(() => resolve(value), ms));
}
