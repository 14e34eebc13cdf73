/** The plugin settings (`litePluginSettings` in `jupyter-lite.json`) and the URLs they name. */

import { PageConfig } from '@jupyterlab/coreutils';

import { PLUGIN_ID } from './tokens';
import type { IKernelSettings, IWorkerBoot } from './tokens';

const DEFAULT_SETTINGS: IKernelSettings = {
  pyodideUrl: './async-kernel/pyodide/pyodide.mjs',
  wheelsUrl: './async-kernel/wheels/',
  snapshotUrl: './async-kernel/snapshot/',
  preloadWheels: [],
  extraWheels: [],
  env: {},
  startupCode: '',
  mountDrive: true,
  interruptGraceMs: 100,
  prestart: true,
  spareWorker: false,
  kernelAliases: [],
  isolation: 'headers',
  packagesUrl: '',
  pipIndexUrls: []
};

/** Settings from `jupyter-lite.json` (`litePluginSettings`), over the defaults. */
export function readSettings(): IKernelSettings {
  const all = JSON.parse(PageConfig.getOption('litePluginSettings') || '{}') as Record<
    string,
    Partial<IKernelSettings>
  >;
  return { ...DEFAULT_SETTINGS, ...(all[PLUGIN_ID] ?? {}) };
}

/** Resolve a URL of the settings against the site root. */
export function siteUrl(url: string): string {
  return new URL(url, new URL(PageConfig.getBaseUrl(), location.href)).href;
}

/** Resolve a folder URL of the settings against the site root (the result ends with `/`). */
function folderUrl(url: string): string {
  return siteUrl(url.endsWith('/') ? url : `${url}/`);
}

/** What every new worker is told at once (absolute URLs). */
export function workerBoot(settings: IKernelSettings): IWorkerBoot {
  return {
    pyodideUrl: siteUrl(settings.pyodideUrl),
    wheelsUrl: folderUrl(settings.wheelsUrl),
    snapshotUrl: settings.snapshotUrl ? folderUrl(settings.snapshotUrl) : '',
    preloadWheels: settings.preloadWheels,
    extraWheels: settings.extraWheels,
    env: settings.env,
    packagesUrl: settings.packagesUrl ? folderUrl(settings.packagesUrl) : '',
    pipIndexUrls: settings.pipIndexUrls.map(url => siteUrl(url))
  };
}
