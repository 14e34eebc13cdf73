/**
 * The prestart script: bundled on its own (esbuild, `npm run build:prestart`) and put at the top
 * of the extension's `remoteEntry.js` (webpack.config.js). JupyterLite loads every extension's
 * `remoteEntry.js` first, then JupyterLab's core, and only then the plugins' own modules: on a
 * cold visit the plugin's module (index.ts) loads ~1 s after this script runs. With the
 * `prestart` setting, on a page likely to use our kernel (page.ts), this script starts the
 * kernel's worker at once and leaves it at PRESTARTED; the plugin takes it (workers.ts).
 */

import { KernelWorker } from './kernel-worker';
import { liteOptions, prestartWanted } from './page';
import { kernelNames, readSettings, workerBoot } from './settings';
import { PRESTARTED } from './tokens';

/** The worker bundle's file name, beside `remoteEntry.js`: webpack.config.js writes it in. */
const WORKER_FILE = '__ASYNC_KERNEL_WORKER_FILE__';

function prestart(): void {
  const script = document.currentScript;
  const getOption = liteOptions();
  if (!(script instanceof HTMLScriptElement) || !getOption) {
    return;
  }
  const settings = readSettings(getOption);
  if (prestartWanted(settings, kernelNames(settings), getOption)) {
    const worker = new KernelWorker(
      new URL(WORKER_FILE, script.src),
      workerBoot(settings, getOption)
    );
    (globalThis as Record<symbol, unknown>)[PRESTARTED] = worker;
  }
}

try {
  prestart();
} catch (error) {
  // the plugin still prestarts when it activates (index.ts)
  console.warn('async-kernel: the prestart script failed', error);
}
