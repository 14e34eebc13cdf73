/**
 * The plugin settings (`litePluginSettings` in `jupyter-lite.json`) and the URLs they name. No
 * JupyterLab imports: the prestart script (prestart.ts) reads them too.
 */

import type { GetOption } from './page';
import { KERNEL_NAME, PLUGIN_ID } from './tokens';
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
  onlyKernel: false,
  isolation: 'headers',
  packagesUrl: '',
  pipIndexUrls: []
};

/** Settings from `jupyter-lite.json` (`litePluginSettings`), over the defaults. */
export function readSettings(getOption: GetOption): IKernelSettings {
  const all = JSON.parse(getOption('litePluginSettings') || '{}') as Record<
    string,
    Partial<IKernelSettings>
  >;
  return { ...DEFAULT_SETTINGS, ...(all[PLUGIN_ID] ?? {}) };
}

/** The kernel names our kernelspecs register: ours, then the `kernelAliases`. */
export function kernelNames(settings: IKernelSettings): string[] {
  return [KERNEL_NAME, ...settings.kernelAliases.filter(name => name !== KERNEL_NAME)];
}

/** Resolve a URL of the settings against the site root (PageConfig.getBaseUrl). */
export function siteUrl(url: string, getOption: GetOption): string {
  return new URL(url, new URL(getOption('baseUrl') || '/', location.href)).href;
}

/** What every new worker is told at once (absolute URLs). */
export function workerBoot(settings: IKernelSettings, getOption: GetOption): IWorkerBoot {
  const site = (url: string): string => siteUrl(url, getOption);
  // a folder's URL ends with `/`
  const folder = (url: string): string => site(url.endsWith('/') ? url : `${url}/`);
  return {
    pyodideUrl: site(settings.pyodideUrl),
    wheelsUrl: folder(settings.wheelsUrl),
    snapshotUrl: settings.snapshotUrl ? folder(settings.snapshotUrl) : '',
    preloadWheels: settings.preloadWheels,
    extraWheels: settings.extraWheels,
    env: settings.env,
    packagesUrl: settings.packagesUrl ? folder(settings.packagesUrl) : '',
    pipIndexUrls: settings.pipIndexUrls.map(site)
  };
}
