/**
 * A worker whose Python is gone is a dead kernel, and handled as Jupyter Server handles a kernel
 * process that died: the log console says why, JupyterLab says the kernel "appears to have
 * died" and restarts it, and the fresh kernel works. Running out of memory is not a death:
 * Python raises MemoryError and the kernel goes on.
 */
import { expect, showLogConsole, test } from './fixtures';
import type { Notebook } from './fixtures';

async function expectDiedAndRestarted(notebook: Notebook, reason: string): Promise<void> {
  const dialog = notebook.page.locator('.jp-Dialog');
  await expect(dialog).toContainText('appears to have died. It will restart automatically.', {
    timeout: 30_000
  });
  await dialog.locator('.jp-mod-accept').click();
  const log = await showLogConsole(notebook.page);
  await expect(log).toContainText(`Python (async) died: ${reason}. Starting a new Python.`);
  await notebook.waitIdle();
  const after = await notebook.run('6 * 7');
  await expect(notebook.output(after)).toContainText('42');
}

test('os._exit() in a cell: the log says why and the kernel restarts', async ({ notebook }) => {
  await notebook.run('import os\nos._exit(3)');
  await expectDiedAndRestarted(notebook, 'Program terminated with exit(3)');
});

test('a Pyodide fatal error: the log says why and the kernel restarts', async ({ notebook }) => {
  // Pyodide's own entry point for fatal errors (what a crash inside the runtime calls).
  await notebook.run('import pyodide_js\npyodide_js._api.fatal_error(RuntimeError("simulated"))');
  await expectDiedAndRestarted(
    notebook,
    'Pyodide already fatally failed and can no longer be used (the browser console has the cause)'
  );
});

test('running out of memory raises MemoryError and the kernel goes on', async ({ notebook }) => {
  const cell = await notebook.run('blocks = []\nwhile True:\n    blocks.append(bytearray(10**8))');
  await expect(notebook.output(cell)).toContainText('MemoryError', { timeout: 60_000 });
  await notebook.waitDone(cell);
  const after = await notebook.run('del blocks\n6 * 7');
  await expect(notebook.output(after)).toContainText('42');
});
