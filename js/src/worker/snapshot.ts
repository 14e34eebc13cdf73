/**
 * Starting Python from the site's memory snapshot (made by async_kernel/jupyterlite/snapshot.mjs,
 * the kernel's modules already imported) and writing the files of its pack.
 */

import type { PyodideAPI } from 'pyodide';

import type { IWorkerBoot } from '../tokens';
import { gunzipped } from './gzip';
import type { IAsmModule } from './gzip';
import { pyodideConfig } from './pyodide';
import type { IPyodideModule, PyodideConfig } from './pyodide';
import type { WorkerState } from './state';
import type { IWheelLists } from './wheels';

/** What async_kernel/jupyterlite/snapshot.mjs made the snapshot from (`snapshot.json`). */
export interface ISnapshotManifest {
  file: string;
  /** The files of the unpacked wheels the start needs (see async_kernel/jupyterlite/snapshot.mjs). */
  pack: string;
  /** The other files, and the top-level packages they are in (written when an import needs them). */
  rest?: { file: string; packages: string[] };
  pyodideVersion: string;
  /** Size of the wasm memory the snapshot holds. */
  bytes: number;
  /**
   * Where the file's bytes go in that memory: it holds only the pages that are not all zeros, one
   * after another, and `runs` lists them as [first page, number of pages].
   */
  pages: { size: number; runs: [number, number][] };
  /** The wheels whose modules it imported and files it packed, in install order. */
  wheels: string[];
}

/** The file the snapshot's manifest names, as async_kernel/jupyterlite/snapshot.mjs writes it. */
const SNAPSHOT_FILE = 'kernel.snapshot.gz';

/**
 * The snapshot's download, started with the boot, before its manifest is read (the manifest
 * and the wheel lists take a while when the worker is busy compiling the wasm).
 */
export interface ISnapshotDownload {
  url: string;
  response: Promise<Response>;
  /** Give up the download (a start without the snapshot, or it names another file). */
  cancel(): void;
}

/** The snapshot's memory while it fills; dropped once Pyodide has it in the wasm memory. */
interface ISnapshotMemory {
  memory?: Uint8Array;
}

/** The runtime's two modules, imported while the rest of the start downloads. */
export interface IRuntimeModules {
  /** `pyodide.mjs` */
  pyodide: Promise<IPyodideModule>;
  /** `pyodide.asm.mjs` */
  asm: Promise<IAsmModule>;
}

/**
 * The site's snapshot manifest (`snapshot.json`), or undefined when the site has none, it
 * cannot be read (the reason goes to the console) or the `snapshotUrl` setting is empty.
 */
export async function readManifest(options: IWorkerBoot): Promise<ISnapshotManifest | undefined> {
  if (!options.snapshotUrl) {
    return undefined;
  }
  const url = new URL('snapshot.json', options.snapshotUrl).href;
  try {
    const response = await fetch(url);
    if (response.status === 404) {
      return undefined; // a site built without a snapshot
    }
    if (!response.ok) {
      throw new Error(`HTTP ${response.status}`);
    }
    return (await response.json()) as ISnapshotManifest;
  } catch (error) {
    console.warn(
      `async-kernel: cannot read ${url} (${String(error)}); starting without the snapshot`
    );
    return undefined;
  }
}

/**
 * The manifest if the snapshot was made from the wheels this kernel installs; otherwise
 * undefined (a plain start), with the reason in the console.
 */
export function snapshotToUse(
  manifest: ISnapshotManifest | undefined,
  lists: IWheelLists
): ISnapshotManifest | undefined {
  if (manifest && manifest.wheels.join(' ') !== lists.files.join(' ')) {
    console.warn(
      'async-kernel: the snapshot was made from other wheels than this kernel installs ' +
        '(preloadWheels set, or wheels changed without remaking it); starting without it'
    );
    return undefined;
  }
  return manifest;
}

/** Start downloading the snapshot, if the site has a snapshot folder. */
export function beginSnapshotDownload(options: IWorkerBoot): ISnapshotDownload | undefined {
  if (!options.snapshotUrl) {
    return undefined;
  }
  const url = new URL(SNAPSHOT_FILE, options.snapshotUrl).href;
  const controller = new AbortController();
  const response = fetch(url, { signal: controller.signal });
  response.catch(() => undefined); // awaited by fillSnapshot, or given up
  return { url, response, cancel: () => controller.abort() };
}

/** Download a gzipped file of the snapshot folder and gunzip it as it arrives. */
async function fetchGzipped(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`cannot download ${url} (HTTP ${response.status})`);
  }
  return new Uint8Array(await new Response(gunzipped(response)).arrayBuffer());
}

/**
 * Put the snapshot's pages in place as they download, in `memory` (zeroed, of the snapshot's
 * size: its file holds no page of zeros, see ISnapshotManifest.pages).
 */
async function fillSnapshot(
  memory: Uint8Array,
  manifest: ISnapshotManifest,
  url: string,
  download: ISnapshotDownload | undefined
): Promise<void> {
  const speculated = download?.url === url;
  if (download && !speculated) {
    download.cancel(); // the manifest names another file
  }
  const response = await (download && speculated ? download.response : fetch(url));
  if (!response.ok) {
    throw new Error(`cannot download ${url} (HTTP ${response.status})`);
  }
  const { size, runs } = manifest.pages;
  const ranges = runs.map(([first, count]) => [
    first * size,
    Math.min((first + count) * size, manifest.bytes)
  ]);
  let range = 0;
  let at = ranges[0]?.[0] ?? 0;
  const reader = gunzipped(response).getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    const bytes = chunk.value;
    for (let offset = 0; offset < bytes.length;) {
      if (range === ranges.length) {
        throw new Error(`${url} holds more than the pages snapshot.json lists`);
      }
      const end = ranges[range][1];
      const count = Math.min(end - at, bytes.length - offset);
      memory.set(bytes.subarray(offset, offset + count), at);
      at += count;
      offset += count;
      if (at === end) {
        range += 1;
        at = ranges[range]?.[0] ?? 0;
      }
    }
  }
  if (range !== ranges.length) {
    throw new Error(`${url} holds fewer than the pages snapshot.json lists`);
  }
}

/**
 * Start Pyodide from the site's memory snapshot (the kernel's modules already imported). Any
 * failure is logged and answered with undefined: the caller then starts Pyodide the plain way.
 */
export async function restoreRuntime(
  state: WorkerState,
  options: IWorkerBoot,
  manifest: ISnapshotManifest,
  runtime: IRuntimeModules,
  download: ISnapshotDownload | undefined
): Promise<PyodideAPI | undefined> {
  try {
    const memory = new Uint8Array(manifest.bytes);
    const snapshot: ISnapshotMemory = { memory };
    const url = new URL(manifest.file, options.snapshotUrl).href;
    const filled = fillSnapshot(memory, manifest, url, download);
    const pack = fetchGzipped(new URL(manifest.pack, options.snapshotUrl).href);
    filled.catch(() => undefined); // awaited by loadPyodide
    pack.catch(() => undefined); // awaited below
    const py = await loadSnapshot(runtime, pyodideConfig(options), manifest, snapshot, filled);
    state.progress('installing-packages', `Writing the files of ${manifest.wheels.length} wheels`);
    writePack(py, await pack);
    if (manifest.rest) {
      const url = new URL(manifest.rest.file, options.snapshotUrl).href;
      const lazy = py.pyimport('async_kernel.hosts.lazy_files') as unknown as {
        install(url: string, packages: unknown): void;
        destroy(): void;
      };
      const packages = py.toPy(manifest.rest.packages) as { destroy(): void };
      lazy.install(url, packages);
      packages.destroy();
      lazy.destroy();
    }
    // The snapshot holds the random module's seed: reseed, or every page load draws the same numbers.
    py.runPython('import random; random.seed()');
    return py;
  } catch (error) {
    console.warn('async-kernel: cannot start from the snapshot; starting without it', error);
    state.progress('loading-pyodide', `The snapshot failed (${String(error)}); loading Pyodide`);
    return undefined;
  }
}

/**
 * `loadPyodide` with the snapshot's memory in place of a fresh start. Pyodide waits for the
 * snapshot only to learn its size before it makes its wasm module (~0.2 s of JavaScript and wasm
 * set-up): it gets the memory while it still fills, and the module, once made, waits for
 * `filled` before Pyodide copies the memory in.
 */
async function loadSnapshot(
  runtime: IRuntimeModules,
  config: PyodideConfig,
  manifest: ISnapshotManifest,
  snapshot: ISnapshotMemory,
  filled: Promise<void>
): Promise<PyodideAPI> {
  const module = await runtime.pyodide;
  const { default: createModule } = await runtime.asm;
  const py = await module.loadPyodide({
    ...config,
    // Pyodide keeps its config for good: hand it a thenable rather than the memory, so the
    // snapshot's memory (~55 MB) can be freed once it is in the wasm memory.
    _loadSnapshot: {
      then: (resolve: (memory?: Uint8Array) => void) => resolve(snapshot.memory)
    },
    // Pyodide copies the snapshot into the wasm memory as it is, and that memory starts
    // smaller: grow it first.
    createPyodideModule: async (settings: object) => {
      const wasm = await createModule(settings);
      wasm.growMemory(manifest.bytes);
      await filled;
      return wasm;
    }
  });
  snapshot.memory = undefined;
  return py;
}

/** Write the files of a pack (async_kernel/jupyterlite/snapshot.mjs) into Pyodide's file system. */
function writePack(py: PyodideAPI, pack: Uint8Array): void {
  const headerLength = new DataView(pack.buffer, pack.byteOffset).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(pack.subarray(4, 4 + headerLength))) as {
    root: string;
    files: [string, number][];
  };
  const made = new Set<string>();
  let offset = 4 + headerLength;
  for (const [path, size] of header.files) {
    const file = `${header.root}/${path}`;
    const dir = file.slice(0, file.lastIndexOf('/'));
    if (!made.has(dir)) {
      py.FS.mkdirTree(dir);
      made.add(dir);
    }
    py.FS.writeFile(file, pack.subarray(offset, offset + size), { canOwn: true });
    offset += size;
  }
  if (offset !== pack.length) {
    throw new Error(`the pack ${header.files.length} files do not add up to its size`);
  }
}
