/**
 * Gzipped files of the site, gunzipped as they arrive. Static hosts seldom compress wasm, and
 * Pyodide's `pyodide.asm.wasm` is 9.6 MB (3.5 MB gzipped), its `pyodide.asm.mjs` 1.3 MB (0.3 MB):
 * the build addon writes `.gz` files beside them (and beside the standard library's zip and the
 * lock file), and the worker loads those.
 */

/**
 * The body of a gzipped file as its plain bytes (a host that sent it with `Content-Encoding:
 * gzip` had the browser gunzip it already).
 */
export function gunzipped(response: Response): ReadableStream<Uint8Array> {
  if (!response.body) {
    throw new Error(`${response.url} has no body`);
  }
  const encoding = response.headers.get('Content-Encoding') ?? '';
  return /gzip/i.test(encoding)
    ? response.body
    : response.body.pipeThrough(new DecompressionStream('gzip'));
}

/** The runtime files Pyodide fetches that the site also has gzipped, and their types. */
const GZIPPED: Record<string, string> = {
  // the addon stores its files uncompressed: gzipped whole, it is smaller
  'python_stdlib.zip': 'application/zip',
  'pyodide-lock.json': 'application/json'
};

/** The wasm module of the runtime: Pyodide's own fetch of it gets this stand-in response. */
const WASM = 'pyodide.asm.wasm';

/**
 * Answer this worker's fetches of the GZIPPED files of `indexURL` from their `.gz` files,
 * gunzipped as they download; a site without the .gz files (one not built by the addon) gets the
 * plain ones. Other fetches are left alone. The `early` ones among them are fetched and gunzipped
 * from now on: Pyodide asks for them only once it starts, and then waits for them.
 *
 * And compile Pyodide's wasm (9.6 MB, 3.5 MB gzipped) from now on, while the rest of the start
 * downloads: Pyodide itself fetches and compiles it only once the snapshot is in, and then the
 * two would run one after the other. Its fetch of the wasm gets a stand-in response, which
 * `WebAssembly.instantiateStreaming` (wrapped here) answers with the module compiled meanwhile.
 */
export function runtimeFromGzip(indexURL: string, early: string[]): void {
  const base = new URL(indexURL, self.location.href);
  const types = new Map(
    Object.entries(GZIPPED).map(([name, type]) => [new URL(name, base).href, type])
  );
  const wasmUrl = new URL(WASM, base).href;
  const plainFetch = self.fetch.bind(self);
  const fetchGzipped = async (url: string, type: string, init?: RequestInit): Promise<Response> => {
    const gz = await plainFetch(`${url}.gz`, init).catch(() => undefined);
    if (!gz?.ok) {
      return plainFetch(url, init);
    }
    return new Response(gunzipped(gz), { headers: { 'Content-Type': type } });
  };
  const prefetched = new Map<string, Promise<Response>>();
  for (const name of early) {
    const url = new URL(name, base).href;
    const type = types.get(url) ?? 'application/octet-stream';
    const body = fetchGzipped(url, type).then(async response => {
      if (!response.ok) {
        return response; // Pyodide reports it
      }
      return new Response(await response.arrayBuffer(), { headers: { 'Content-Type': type } });
    });
    body.catch(() => undefined); // Pyodide's fetch of it reports it
    prefetched.set(url, body);
  }
  const compiled = WebAssembly.compileStreaming(fetchGzipped(wasmUrl, 'application/wasm'));
  compiled.catch(() => undefined); // Pyodide's instantiation reports it
  const standIns = new WeakSet<Response>();
  self.fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input), self.location.href);
    if (url.href === wasmUrl) {
      const standIn = new Response(null, { headers: { 'Content-Type': 'application/wasm' } });
      standIns.add(standIn);
      return standIn;
    }
    const early = prefetched.get(url.href);
    if (early) {
      prefetched.delete(url.href); // a second fetch of it downloads it again
      return early;
    }
    const type = types.get(url.href);
    return type === undefined ? plainFetch(input, init) : fetchGzipped(url.href, type, init);
  };
  const instantiateStreaming = WebAssembly.instantiateStreaming.bind(WebAssembly);
  WebAssembly.instantiateStreaming = async (source, imports) => {
    const response = await source;
    if (!standIns.has(response)) {
      return instantiateStreaming(response, imports);
    }
    const module = await compiled;
    return { module, instance: await WebAssembly.instantiate(module, imports) };
  };
}

/** The module `pyodide.asm.mjs`: its default export makes Pyodide's Emscripten module. */
export interface IAsmModule {
  default: (settings: object) => Promise<{ growMemory(bytes: number): void }>;
}

/**
 * Import `${indexURL}pyodide.asm.mjs` from `pyodide.asm.mjs.gz` (a module made from its text,
 * where `import.meta.url` reads as the plain file's URL); a site without the .gz file gets the
 * plain file.
 */
export async function importAsmModule(indexURL: string): Promise<IAsmModule> {
  const url = new URL('pyodide.asm.mjs', new URL(indexURL, self.location.href)).href;
  const gz = await fetch(`${url}.gz`).catch(() => undefined);
  if (!gz?.ok) {
    return (await import(/* webpackIgnore: true */ url)) as IAsmModule;
  }
  const text = await new Response(gunzipped(gz)).text();
  const source = text.split('import.meta.url').join(JSON.stringify(url));
  const blob = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  try {
    return (await import(/* webpackIgnore: true */ blob)) as IAsmModule;
  } finally {
    URL.revokeObjectURL(blob);
  }
}
