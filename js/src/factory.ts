/**
 * How our kernels plug into JupyterLite: the factory the kernelspecs register (a kernel on a
 * worker from the pool, with the page's stdin and drive options), and the toolbar's interrupt.
 */

import { PageConfig } from '@jupyterlab/coreutils';
import type { Contents } from '@jupyterlab/services';
import type { IServiceWorkerManager } from '@jupyterlite/apputils';
import { DriveContentsProcessor } from '@jupyterlite/services';
import type { IKernel, IKernelClient } from '@jupyterlite/services';

import { AsyncKernel } from './kernel';
import type { ProgressReporter } from './progress';
import { siteUrl } from './settings';
import type { IKernelSettings } from './tokens';
import type { WorkerPool } from './workers';

/** What a kernelspec's `create` needs. */
export interface IKernelFactoryOptions {
  settings: IKernelSettings;
  pool: WorkerPool;
  serviceWorker: IServiceWorkerManager | null;
  /** The app's contents manager: /drive's files on crossOriginIsolated pages. */
  contents: Contents.IManager;
  /** The ids of our kernels that exist (socket.ts delivers their messages without delay). */
  kernelIds: Set<string>;
  reporter: ProgressReporter;
}

/** The `create` function of our kernelspecs. */
export function kernelFactory(
  factory: IKernelFactoryOptions
): (options: IKernel.IOptions) => Promise<IKernel> {
  const { settings, pool, serviceWorker, reporter } = factory;
  const baseUrl = siteUrl('./', PageConfig.getOption);
  // Isolated pages need no service worker: stdin and /drive go through SharedArrayBuffers.
  const isolated = typeof SharedArrayBuffer !== 'undefined' && globalThis.crossOriginIsolated;
  const drive = isolated
    ? new DriveContentsProcessor({ contentsManager: factory.contents })
    : undefined;
  return async (options: IKernel.IOptions): Promise<IKernel> => {
    const worker = pool.take();
    const serviceWorkerReady = !isolated && (await waitForServiceWorker(serviceWorker));
    const stdinMode = isolated ? 'shared' : serviceWorkerReady ? 'service-worker' : 'none';
    const kernel = new AsyncKernel({
      ...options,
      worker,
      newWorker: () => pool.take(),
      drive: settings.mountDrive ? drive : undefined,
      interruptGraceMs: settings.interruptGraceMs,
      onProgress: (phase, text, elapsedMs) => {
        reporter.report(options.id, phase, text, elapsedMs);
        if (phase === 'ready') {
          pool.kernelReady();
        }
      },
      start: {
        baseUrl,
        startupCode: settings.startupCode,
        mountDrive: settings.mountDrive && (isolated || serviceWorkerReady),
        browsingContextId: serviceWorker?.browsingContextId ?? '',
        stdinMode
      }
    });
    factory.kernelIds.add(kernel.id);
    kernel.disposed.connect(() => factory.kernelIds.delete(kernel.id));
    return kernel;
  };
}

/** Whether the service worker (drive and stdin endpoints) is usable; waits at most 10 s. */
async function waitForServiceWorker(serviceWorker: IServiceWorkerManager | null): Promise<boolean> {
  if (!serviceWorker) {
    return false;
  }
  const timeout = new Promise<void>(resolve => setTimeout(resolve, 10_000));
  await Promise.race([serviceWorker.ready.catch(() => undefined), timeout]);
  return serviceWorker.enabled;
}

/**
 * JupyterLite's kernel client answers the toolbar's interrupt by cancelling its own message
 * queue only; it never tells the kernel. Wrap its `interrupt` so our kernels hear about it.
 */
export function routeInterrupts(kernelClient: IKernelClient): void {
  const original = kernelClient.interrupt.bind(kernelClient);
  kernelClient.interrupt = async (kernelId: string): Promise<void> => {
    const kernel = await (
      kernelClient as IKernelClient & {
        getModel?: (id: string) => Promise<IKernel | undefined>;
      }
    ).getModel?.(kernelId);
    if (kernel instanceof AsyncKernel) {
      kernel.interrupt();
      return;
    }
    return original(kernelId);
  };
}
