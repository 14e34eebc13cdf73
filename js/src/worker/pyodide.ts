/** Loading the Pyodide runtime from the site, and mounting the JupyterLite drive into it. */

import { DriveFS } from '@jupyterlite/services/lib/contents/drivefs';
import type { PyodideAPI } from 'pyodide';

import type { IWorkerBoot, IWorkerStart } from '../tokens';
import { sharedDriveFS } from './drive';
import type { WorkerState } from './state';

const DRIVE = '/drive';
const HOME = '/home/pyodide';

/** The module `pyodide.mjs`. */
export interface IPyodideModule {
  loadPyodide: (config: object) => Promise<PyodideAPI>;
}

/** The config of `loadPyodide` (also used to find the runtime's other files). */
export type PyodideConfig = { indexURL: string } & Record<string, unknown>;

export async function importPyodide(options: IWorkerBoot): Promise<IPyodideModule> {
  try {
    return (await import(/* webpackIgnore: true */ options.pyodideUrl)) as IPyodideModule;
  } catch (error) {
    throw new Error(
      `cannot load ${options.pyodideUrl} (${String(error)}). The site must ship the Pyodide ` +
        'runtime (`jupyter lite build` with async-kernel-jupyter installed puts it there) or set "pyodideUrl" in the plugin settings.'
    );
  }
}

export function pyodideConfig(options: IWorkerBoot): PyodideConfig {
  const indexURL = options.pyodideUrl.slice(0, options.pyodideUrl.lastIndexOf('/') + 1);
  return {
    indexURL,
    env: { HOME, ...options.env },
    stdout: (text: string) => console.log('[python]', text),
    stderr: (text: string) => console.warn('[python]', text),
    ...(options.packagesUrl
      ? {
          packageBaseUrl: options.packagesUrl,
          lockFileContents: distributionLock(options.packagesUrl, indexURL)
        }
      : {})
  };
}

/**
 * The lock file of the `packagesUrl` distribution; the site's own (same runtime, no package
 * files) when it cannot be read, so that Python still starts and the log says why.
 */
async function distributionLock(packagesUrl: string, indexURL: string): Promise<string> {
  const url = `${packagesUrl}pyodide-lock.json`;
  try {
    const response = await fetch(url);
    if (!response.ok) {
      throw new Error(`HTTP ${response.status}`);
    }
    return await response.text();
  } catch (error) {
    console.warn(
      `async-kernel: cannot read ${url} (${String(error)}): Pyodide's packages are unavailable ` +
        '(the "packagesUrl" setting)'
    );
    return await (await fetch(`${indexURL}pyodide-lock.json`)).text();
  }
}

/**
 * Mount the JupyterLite drive at /drive (through the shared drive buffer when the page gave one,
 * else through the service worker); return the folder Python starts in.
 */
export function mountDrive(state: WorkerState, py: PyodideAPI, options: IWorkerStart): string {
  const { FS, PATH, ERRNO_CODES } = py as unknown as {
    FS: { mkdirTree(path: string): void; mount(fs: unknown, opts: object, path: string): void };
    PATH: unknown;
    ERRNO_CODES: unknown;
  };
  FS.mkdirTree(HOME);
  if (!options.mountDrive) {
    console.warn(
      'async-kernel: the JupyterLite drive is not mounted (no service worker, not cross-origin ' +
        'isolated): files written ' +
        'by Python stay in memory and do not appear in the file browser.'
    );
    return HOME;
  }
  FS.mkdirTree(DRIVE);
  const driveOptions = {
    FS,
    PATH,
    ERRNO_CODES,
    baseUrl: options.baseUrl,
    driveName: '',
    mountpoint: DRIVE,
    browsingContextId: options.browsingContextId
  } as unknown as ConstructorParameters<typeof DriveFS>[0];
  const drive = options.driveBuffer
    ? sharedDriveFS({ ...driveOptions, state, buffer: options.driveBuffer })
    : new DriveFS(driveOptions);
  FS.mount(drive, {}, DRIVE);
  return options.location ? `${DRIVE}/${options.location}` : DRIVE;
}
