/**
 * The JupyterLite plugin: registers the "Python (async)" kernelspec (and its aliases), routes
 * the toolbar's interrupt to our kernels, hands the page's messages to them without
 * mock-socket's delay (socket.ts) and, with `isolation: "service-worker"`, reloads a page
 * once to make it crossOriginIsolated (isolation.ts). The kernels come from factory.ts, their
 * workers from workers.ts, the settings from settings.ts; the kernel itself lives in
 * kernel.ts, its worker in worker/.
 */

import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ILoggerRegistry } from '@jupyterlab/logconsole';
import { IServiceWorkerManager } from '@jupyterlite/apputils';
import { IKernelClient, IKernelSpecs } from '@jupyterlite/services';
import type { KernelSpec } from '@jupyterlab/services';
import { PageConfig } from '@jupyterlab/coreutils';

import logo32 from '../../py/async_kernel/resources/logo-32x32.png';
import logo64 from '../../py/async_kernel/resources/logo-64x64.png';
import logoSvg from '../../py/async_kernel/resources/logo-svg.svg';
import { kernelFactory, routeInterrupts } from './factory';
import { reloadForIsolation } from './isolation';
import { deliverWithoutDelay, isKernelSocket } from './socket';
import { ProgressReporter } from './progress';
import { kernelNames, readSettings, workerBoot } from './settings';
import { KERNEL_NAME, PLUGIN_ID } from './tokens';
import { prestartIfWanted, WorkerPool } from './workers';

/*
 * The page's settings and worker pool exist from when this module loads. The pool takes the
 * worker the prestart script (prestart.ts) started with the page, if it did: on a page that names
 * our kernel, unless the extension is disabled or the page may reload for isolation (then the
 * plugin decides when it activates).
 */
const settings = readSettings(PageConfig.getOption);
const names = kernelNames(settings);
const pool = new WorkerPool(workerBoot(settings, PageConfig.getOption), settings.spareWorker);
const prestarted = pool.adoptPrestarted();

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'The "Python (async)" kernel: async-kernel on Pyodide in a Web Worker.',
  autoStart: true,
  requires: [IKernelSpecs],
  optional: [IKernelClient, IServiceWorkerManager, ILoggerRegistry],
  activate: (
    app: JupyterFrontEnd,
    kernelSpecs: IKernelSpecs,
    kernelClient: IKernelClient | null,
    serviceWorker: IServiceWorkerManager | null,
    loggers: ILoggerRegistry | null
  ): void => {
    const reporter = new ProgressReporter(app, loggers);
    if (kernelClient) {
      routeInterrupts(kernelClient);
    }
    const kernelIds = new Set<string>();
    if (
      // the kernels' server settings carry mock-socket's class; the app's own are the browser's
      !deliverWithoutDelay(app.serviceManager.kernels.serverSettings.WebSocket, url =>
        isKernelSocket(url, kernelIds)
      )
    ) {
      console.debug(
        'async-kernel: the app does not use mock-socket; its WebSocket is left as it is'
      );
    }
    const create = kernelFactory({
      settings,
      pool,
      serviceWorker,
      contents: app.serviceManager.contents,
      kernelIds,
      reporter
    });
    for (const name of names) {
      kernelSpecs.register({ spec: kernelSpec(name), create });
    }
    void reloadForIsolation(settings.isolation, serviceWorker).then(reloading => {
      if (settings.prestart && !reloading && !prestarted) {
        prestartIfWanted(app, kernelSpecs, names, pool);
      }
    });
  }
};

/** The kernelspec registered under `name` (KERNEL_NAME or one of its aliases). */
function kernelSpec(name: string): KernelSpec.ISpecModel {
  return {
    name,
    display_name: name === KERNEL_NAME ? 'Python (async)' : `Python (async, as "${name}")`,
    language: 'python',
    argv: [],
    resources: {
      'logo-32x32': logo32,
      'logo-64x64': logo64,
      'logo-svg': `data:image/svg+xml;base64,${btoa(logoSvg)}`
    }
  };
}

export default plugin;
