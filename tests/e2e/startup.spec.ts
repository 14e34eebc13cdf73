/**
 * Start-up: the kernel's worker boots with the page (`prestart`, from the extension's entry
 * script) and the first kernel takes it;
 * it starts from the site's Python memory snapshot (async_kernel/jupyterlite/snapshot.mjs); a snapshot that cannot
 * be used (here: its download fails) gives a plain start, not a broken kernel.
 */
import {
  PLUGIN_ID,
  editLiteConfig,
  editPluginSettings,
  expect,
  isIsolated,
  openNotebook,
  showLogConsole,
  test
} from './fixtures';
import type { Notebook } from './fixtures';
import type { BrowserContext, Page, Worker } from '@playwright/test';

async function randomNumber(notebook: Notebook): Promise<string> {
  const cell = await notebook.run('import random\nprint("random:", random.random())');
  await notebook.waitDone(cell);
  const text = await notebook.output(cell).innerText();
  const match = /random: (0\.\d+)/.exec(text);
  expect(match, `output of the random cell: ${text}`).not.toBeNull();
  return (match as RegExpExecArray)[1];
}

test('each start from the snapshot draws other random numbers', async ({ notebook }) => {
  const first = await randomNumber(notebook);
  await notebook.restart();
  const second = await randomNumber(notebook);
  expect(second).not.toEqual(first);
});

test('a snapshot that cannot be downloaded gives a plain start', async ({ page, context }) => {
  test.setTimeout(420_000); // a plain start imports IPython from source
  await context.route('**/async-kernel/snapshot/kernel.snapshot.gz', route => route.abort());
  const notebook = await openNotebook(page);
  const cell = await notebook.run('import IPython, ipywidgets\nprint("works", 6 * 7)');
  await expect(notebook.output(cell)).toContainText('works 42');
  const log = await showLogConsole(page);
  await expect(log).toContainText(
    'The snapshot failed (TypeError: Failed to fetch); loading Pyodide'
  );
  await expect(log).toContainText(/Installing \d+ wheels/);
  await expect(log).toContainText('Python (async) is ready');
  await expect(log).not.toContainText('from the snapshot');
});

/** The page's workers that run our kernel (the bundle webpack emits as async-kernel-worker.*.js). */
function kernelWorkers(page: Page): Worker[] {
  return page.workers().filter(worker => worker.url().includes('async-kernel-worker'));
}

/**
 * Opens JupyterLab, waits for the worker it prestarts, then opens a notebook and runs one cell
 * printing `text`: the worker, and the notebook whose kernel runs on it.
 */
async function firstKernel(page: Page, text: string): Promise<[Worker, Notebook]> {
  await page.goto('lab/index.html');
  await expect.poll(() => kernelWorkers(page).length, { timeout: 30_000 }).toBe(1);
  const [prestarted] = kernelWorkers(page);
  const notebook = await openNotebook(page, false);
  const cell = await notebook.run(`print(${JSON.stringify(text)})`);
  await expect(notebook.output(cell)).toContainText(text);
  return [prestarted, notebook];
}

test('the first kernel takes the worker started with the page', async ({ page }) => {
  const [prestarted] = await firstKernel(page, 'on the prestarted worker');
  expect(kernelWorkers(page)).toEqual([prestarted]);
});

/** The file names of our extension's static files the context's pages request, in order. */
function ourRequests(context: BrowserContext): string[] {
  const ours: string[] = [];
  context.on('request', request => {
    const path = new URL(request.url()).pathname;
    if (path.includes('/extensions/@async-kernel/jupyterlite/static/')) {
      ours.push(path.slice(path.lastIndexOf('/') + 1));
    }
  });
  return ours;
}

test("the worker starts from the extension's entry script, before the plugin's module loads", async ({
  page,
  context
}) => {
  // JupyterLite runs the extensions' entry scripts first, then JupyterLab's core, and only then
  // loads the plugins' modules: the prestart script in remoteEntry.js starts the worker ~1 s earlier.
  // On our site the page asks for our kernel (defaultKernelName); a plain `jupyter lite build` site
  // asks for "python", but the addon found no other extension that registers kernels (onlyKernel).
  const ours = ourRequests(context);
  const [prestarted] = await firstKernel(page, 'started with the entry script');
  expect(kernelWorkers(page)).toEqual([prestarted]);
  expect(ours[0], ours.join(' ')).toMatch(/^remoteEntry\./);
  expect(ours[1], ours.join(' ')).toMatch(/^async-kernel-worker\./);
});

test('on a site that may have other kernels, the plugin starts the worker once they are registered', async ({
  page,
  context
}) => {
  // a page asking for "python" on a site where another extension may register kernels (no
  // onlyKernel): the plugin waits until every kernel is registered; ours is the only one here
  await editLiteConfig(context, data => {
    data.defaultKernelName = 'python';
    const plugins = (data.litePluginSettings ??= {});
    plugins[PLUGIN_ID] = { ...plugins[PLUGIN_ID], onlyKernel: false };
  });
  const ours = ourRequests(context);
  const [prestarted] = await firstKernel(page, 'started by the plugin');
  expect(kernelWorkers(page)).toEqual([prestarted]);
  const worker = ours.findIndex(name => name.startsWith('async-kernel-worker.'));
  expect(worker, ours.join(' ')).toBeGreaterThan(1); // after the plugin's own module
});

test('with spareWorker, the next kernel takes a worker that loaded meanwhile', async ({
  page,
  context
}) => {
  await editPluginSettings(context, { spareWorker: true });
  const [prestarted, notebook] = await firstKernel(page, 'first kernel');
  // once the kernel is ready, the spare loads
  await expect.poll(() => kernelWorkers(page).length, { timeout: 30_000 }).toBe(2);
  const spare = kernelWorkers(page).find(worker => worker !== prestarted);
  await notebook.restart();
  const again = await notebook.run('print("second kernel")');
  await expect(notebook.output(again)).toContainText('second kernel');
  expect(kernelWorkers(page)).toContain(spare);
  expect(kernelWorkers(page)).not.toContain(prestarted);
});

const GZIPPED = ['pyodide.asm.wasm', 'pyodide.asm.mjs', 'python_stdlib.zip', 'pyodide-lock.json'];

/**
 * Open a notebook, import standard library modules the snapshot lacks (they come from the site's
 * zip), and return how many requests asked for each file name.
 */
async function requestsWhileStarting(
  page: Page,
  context: BrowserContext
): Promise<(name: string) => number> {
  const paths: string[] = [];
  context.on('request', request => paths.push(new URL(request.url()).pathname));
  const notebook = await openNotebook(page);
  const cell = await notebook.run('import wave, colorsys, pyodide.http\nprint("imported", 6 * 7)');
  await expect(notebook.output(cell)).toContainText('imported 42');
  return name => paths.filter(path => path.endsWith(`/${name}`)).length;
}

test("the worker downloads Pyodide's runtime files gzipped", async ({ page, context }) => {
  const requests = await requestsWhileStarting(page, context);
  for (const name of GZIPPED) {
    expect(requests(`${name}.gz`), name).toBeGreaterThan(0);
    expect(requests(name), name).toBe(0);
  }
});

test('a start from the snapshot imports no module the snapshot lacks', async ({ page }) => {
  const warnings: string[] = [];
  page.on('console', message => {
    if (message.text().includes('modules the snapshot lacks')) warnings.push(message.text());
  });
  const notebook = await openNotebook(page);
  const cell = await notebook.run('print("started", 6 * 7)');
  await expect(notebook.output(cell)).toContainText('started 42');
  const log = await showLogConsole(page);
  await expect(log).toContainText('from the snapshot');
  expect(warnings).toEqual([]); // each such module is read and compiled at every start
});

test('the wasm downloads once, before the snapshot, and compiles meanwhile', async ({
  page,
  context
}) => {
  const paths: string[] = [];
  context.on('request', request => {
    if (!request.serviceWorker()) paths.push(new URL(request.url()).pathname); // not its fetches too
  });
  const notebook = await openNotebook(page);
  const cell = await notebook.run('print("compiled", 6 * 7)');
  await expect(notebook.output(cell)).toContainText('compiled 42');
  const wasm = paths.filter(path => path.endsWith('/pyodide.asm.wasm.gz'));
  expect(wasm).toHaveLength(1); // Pyodide's own fetch got the module compiled meanwhile
  const order = (name: string): number => paths.findIndex(path => path.endsWith(`/${name}`));
  expect(order('pyodide.asm.wasm.gz')).toBeLessThan(order('kernel.snapshot.gz'));
});

test("the kernel's start and first cells do not list the drive", async ({ page }, testInfo) => {
  test.skip(
    isIsolated(testInfo.project.name),
    'isolated pages reach the drive through SharedArrayBuffer, not through the service worker'
  );
  // the service worker hands the worker's drive requests to the page on this channel
  await page.addInitScript(() => {
    const methods: string[] = [];
    (window as unknown as { driveMethods: string[] }).driveMethods = methods;
    new BroadcastChannel('/sw-api.v1').onmessage = (event: MessageEvent) => {
      const message = event.data as { pathname?: string; data?: { method?: string } };
      if (message.pathname?.includes('/api/drive')) methods.push(message.data?.method ?? '?');
    };
  });
  const methods = (): Promise<string[]> =>
    page.evaluate(() => (window as unknown as { driveMethods: string[] }).driveMethods);
  const notebook = await openNotebook(page);
  let cell = await notebook.run('import os\nprint("in", os.getcwd())');
  await expect(notebook.output(cell)).toContainText('in /drive');
  expect(await methods()).not.toContain('readdir'); // listing /drive costs a request per file
  cell = await notebook.run('print(sorted(os.listdir()))');
  await expect(notebook.output(cell)).toContainText('.ipynb');
  expect(await methods()).toContain('readdir'); // (this test sees the drive's requests)
});

test('a site without the gzipped runtime files serves the plain ones', async ({
  page,
  context
}) => {
  await context.route(/\/async-kernel\/pyodide\/[^/]+\.gz$/, route =>
    route.fulfill({ status: 404 })
  );
  const requests = await requestsWhileStarting(page, context);
  for (const name of GZIPPED) {
    expect(requests(name), name).toBeGreaterThan(0);
  }
  const log = await showLogConsole(page);
  await expect(log).toContainText('from the snapshot');
});

test('the sources of modules the snapshot lacks download with the first import that needs them', async ({
  page,
  context
}) => {
  const rest: string[] = [];
  context.on('request', request => {
    if (request.url().endsWith('/site-packages-rest.pack.gz')) rest.push(request.url());
  });
  const notebook = await openNotebook(page);
  let cell = await notebook.run(
    'import sys\nprint("lexer loaded:", "pygments.lexers.rust" in sys.modules)'
  );
  await expect(notebook.output(cell)).toContainText('lexer loaded: False');
  expect(rest).toEqual([]);
  cell = await notebook.run(
    'from pygments.lexers.rust import RustLexer\nimport prompt_toolkit\nprint(RustLexer.name, prompt_toolkit.__name__)'
  );
  await expect(notebook.output(cell)).toContainText('Rust prompt_toolkit');
  cell = await notebook.run(
    'import inspect, pygments.lexers.rust\nprint(len(inspect.getsource(pygments.lexers.rust)) > 100)'
  );
  await expect(notebook.output(cell)).toContainText('True');
  expect(rest.length).toBeGreaterThan(0); // (without isolation, the service worker's fetch too)
});
