/**
 * The kernel's wheels: the lists the site serves, downloading and unpacking them at start,
 * and `%pip install` of the site's extra wheels later (async_kernel.hosts.pyodide_pip).
 */

import type { PyodideAPI } from 'pyodide';
import type { PyProxy } from 'pyodide/ffi';

import type { IWorkerBoot } from '../tokens';
import type { WorkerState } from './state';

export interface IWheelLists {
  /** Installed at start, in order (`index.json`, then the `preloadWheels` setting). */
  files: string[];
  /** Installable later by %pip (`extra.json` and the `extraWheels` setting). */
  extra: string[];
}

export interface IWheelDownloads extends IWheelLists {
  bodies: Uint8Array[];
}

/** Read a JSON list of wheel file names; `optional` lists may be missing (HTTP 404). */
async function fetchWheelList(url: string, optional: boolean): Promise<string[]> {
  const response = await fetch(url);
  if (optional && response.status === 404) {
    return [];
  }
  if (!response.ok) {
    throw new Error(
      `cannot read the wheel list ${url} (HTTP ${response.status}); build the site with jupyter lite build and async-kernel-jupyter installed`
    );
  }
  const listed = (await response.json()) as unknown;
  if (!Array.isArray(listed) || !listed.every(item => typeof item === 'string')) {
    throw new Error(`${url} must be a JSON list of wheel file names`);
  }
  return listed as string[];
}

export async function fetchWheelLists(options: IWorkerBoot): Promise<IWheelLists> {
  const [listed, extra] = await Promise.all([
    fetchWheelList(new URL('index.json', options.wheelsUrl).href, false),
    fetchWheelList(new URL('extra.json', options.wheelsUrl).href, true)
  ]);
  return {
    files: [...listed, ...options.preloadWheels],
    extra: [...extra, ...options.extraWheels]
  };
}

/** Fetch every wheel to install, in parallel. */
export async function downloadWheels(
  options: IWorkerBoot,
  lists: IWheelLists
): Promise<IWheelDownloads> {
  const bodies = await Promise.all(
    lists.files.map(async file => {
      const url = new URL(file, options.wheelsUrl).href;
      const wheel = await fetch(url);
      if (!wheel.ok) {
        throw new Error(`cannot download ${url} (HTTP ${wheel.status})`);
      }
      return new Uint8Array(await wheel.arrayBuffer());
    })
  );
  return { ...lists, bodies };
}

/** Unpack the downloaded wheels into site-packages. */
export function installWheels(
  state: WorkerState,
  py: PyodideAPI,
  downloads: IWheelDownloads
): void {
  const { files, bodies } = downloads;
  state.progress('installing-packages', `Installing ${files.length} wheels`);
  const extractDir = sitePackages(py);
  bodies.forEach((bytes, i) => {
    try {
      py.unpackArchive(bytes, 'wheel', { extractDir });
    } catch (error) {
      throw new Error(`cannot install ${files[i]}: ${String(error)}`);
    }
  });
  py.runPython('import importlib; importlib.invalidate_caches()');
}

/** Where wheels are unpacked (the default would be the current directory). */
function sitePackages(py: PyodideAPI): string {
  return py.runPython('import site; site.getsitepackages()[0]') as string;
}

/** The glue module (`%pip` in the browser). */
export type Glue = PyProxy & {
  setup(
    files: string[],
    installFile: (file: string) => void,
    indexUrls: string[],
    packagesUrl: string
  ): void;
};

/**
 * Import the glue module. Before the drive is mounted: on a start without the snapshot, that
 * import walks `sys.path`, whose first entry is the current folder, and listing /drive costs a
 * request per file.
 */
export function importGlue(py: PyodideAPI): Glue {
  return py.pyimport('async_kernel.hosts.pyodide_pip') as Glue;
}

/**
 * Set up `%pip install` (once the kernel's shell exists): it takes `files` from the site's
 * wheels, and from the package indexes and the Pyodide distribution the settings name (if any).
 */
export function setupGlue(py: PyodideAPI, glue: Glue, files: string[], options: IWorkerBoot): void {
  glue.setup(
    files,
    (file: string) => installWheelSync(py, options, file),
    options.pipIndexUrls,
    options.packagesUrl
  );
  glue.destroy();
}

/** Download one wheel with a synchronous XHR (allowed in workers) and unpack it. */
function installWheelSync(py: PyodideAPI, options: IWorkerBoot, file: string): void {
  const url = new URL(file, options.wheelsUrl).href;
  const xhr = new XMLHttpRequest();
  xhr.open('GET', url, false);
  xhr.responseType = 'arraybuffer';
  xhr.send();
  if (xhr.status !== 200) {
    throw new Error(`cannot download ${url} (HTTP ${xhr.status})`);
  }
  py.unpackArchive(new Uint8Array(xhr.response as ArrayBuffer), 'wheel', {
    extractDir: sitePackages(py)
  });
}
