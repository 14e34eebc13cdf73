/**
 * The settings that let a site that is online install packages: `pipIndexUrls` (`%pip install`
 * from a package index, with dependencies, through micropip) and `packagesUrl` (a Pyodide
 * distribution: a cell's imports of its packages load them). The index and the distribution are
 * served on 127.0.0.1 by tests/e2e/package_index.py; the settings are put into the site's
 * jupyter-lite.json as the page loads it.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

import { editPluginSettings, expect, test } from './fixtures';

let server: ChildProcess | undefined;
let serverUrl = '';

test.beforeAll(async ({ baseURL }) => {
  const lockUrl = new URL('async-kernel/pyodide/pyodide-lock.json', baseURL).href;
  const child = spawn(process.env.PYTHON ?? 'python3', ['tests/e2e/package_index.py', lockUrl], {
    stdio: ['ignore', 'pipe', 'inherit']
  });
  server = child;
  serverUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('package_index.py did not start in 30 s')),
      30_000
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      const match = /listening on (\S+)/.exec(chunk.toString());
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('exit', code => reject(new Error(`package_index.py exited (${code})`)));
  });
});

test.afterAll(() => {
  server?.kill();
});

test.beforeEach(async ({ context }) => {
  await editPluginSettings(context, {
    pipIndexUrls: [`${serverUrl}simple`],
    packagesUrl: `${serverUrl}pyodide/`
  });
});

test('%pip install takes a package and its dependency from a package index', async ({
  notebook
}) => {
  const cell = await notebook.run(
    '%pip install index-hello\nimport index_hello\nprint(index_hello.hello())'
  );
  await expect(notebook.output(cell)).toContainText('hello from the index, with its dependency');
  await notebook.waitDone(cell);

  const shipped = await notebook.run('%pip install tqdm\nimport tqdm');
  await expect(notebook.output(shipped)).toContainText('shipped with this site');
  await notebook.waitDone(shipped);

  const missing = await notebook.run('%pip install no-such-package-xyz');
  await expect(notebook.output(missing)).toContainText(
    "UsageError: Cannot install no-such-package-xyz: Can't fetch metadata for 'no-such-package-xyz'"
  );
});

test("a cell's import loads the Pyodide distribution's package first", async ({ notebook }) => {
  const cell = await notebook.run('import dist_hello\nprint("from", dist_hello.WHERE)');
  await expect(notebook.output(cell)).toContainText('from the Pyodide distribution');
  await notebook.waitDone(cell);
  const missing = await notebook.run('import no_such_module_xyz');
  await expect(notebook.output(missing)).toContainText(
    "ModuleNotFoundError: No module named 'no_such_module_xyz'"
  );
});
