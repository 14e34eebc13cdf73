/**
 * The page's config as JupyterLab's PageConfig reads it, and whether the page is likely to use
 * our kernel. No JupyterLab imports: the prestart script (prestart.ts), which runs before
 * JupyterLab's modules exist, uses this too.
 */

import { PLUGIN_ID } from './tokens';
import type { IKernelSettings } from './tokens';

/** An option of the page's config as a string, '' when unset (PageConfig.getOption's contract). */
export type GetOption = (name: string) => string;

/**
 * The options of a JupyterLite page, from its `#jupyter-config-data` element: JupyterLite's
 * config-utils.js has merged the site's `jupyter-lite.json` files into it before any extension
 * loads. undefined on other pages: JupyterLab or Notebook served by Jupyter Server load this
 * extension too when the wheel is installed, and must not start a worker.
 */
export function liteOptions(): GetOption | undefined {
  const element = document.getElementById('jupyter-config-data');
  if (!element?.hasAttribute('data-jupyter-lite-root')) {
    return undefined;
  }
  const data = JSON.parse(element.textContent || '{}') as Record<string, unknown>;
  return name => {
    const value = data[name];
    if (value === undefined || value === null) {
      return '';
    }
    return typeof value === 'string' ? value : JSON.stringify(value);
  };
}

/**
 * The kernel this page asks for: the REPL app's `kernel` URL parameter, else the site's
 * `defaultKernelName`. Prestarting is worth its CPU and memory when it is ours.
 */
export function wantedKernel(getOption: GetOption): string {
  return new URLSearchParams(location.search).get('kernel') ?? getOption('defaultKernelName');
}

/**
 * Whether to start a worker with the page (the prestart script): the `prestart` setting is on,
 * the plugin is not disabled, the page will not reload for isolation, and it asks for one of our
 * kernels (`ours`: our name and its aliases) or the site has no other kernel (`onlyKernel`).
 */
export function prestartWanted(
  settings: IKernelSettings,
  ours: string[],
  getOption: GetOption
): boolean {
  return (
    settings.prestart &&
    !isDisabled(getOption, PLUGIN_ID) &&
    (settings.isolation !== 'service-worker' || self.crossOriginIsolated) &&
    (ours.includes(wantedKernel(getOption)) || settings.onlyKernel)
  );
}

/** PageConfig.Extension.isDisabled: the plugin or its extension is in `disabledExtensions`. */
function isDisabled(getOption: GetOption, id: string): boolean {
  const extension = id.split(':')[0];
  const disabled = JSON.parse(getOption('disabledExtensions') || '[]') as string[];
  return disabled.some(name => name === id || name === extension);
}
