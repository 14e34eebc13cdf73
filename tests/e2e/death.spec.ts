/**
 * A worker whose Python is gone is a dead kernel, visibly: the status says so, the log console
 * says why, and a restart brings back a working kernel. Running out of memory is not a death:
 * Python raises MemoryError and the kernel goes on.
 */
import { expect, showLogConsole, test } from './fixtures';
import type { Notebook } from './fixtures';

async function expectDeadThenRestart(notebook: Notebook, reason: string): Promise<void> {
  const log = await showLogConsole(notebook.page);
  await expect(log).toContainText(`Python (async) died: ${reason}. Restart the kernel to go on.`, {
    timeout: 30_000
  });
  // JupyterLab drops the connection of a kernel that says it is dead: its status reads so.
  await expect(notebook.status('Disconnected')).toBeVisible();
  await notebook.restart();
  const after = await notebook.run('6 * 7');
  await expect(notebook.output(after)).toContainText('42');
}

test('os._exit() in a cell: the kernel is dead, the log says why, a restart brings it back', async ({
  notebook
}) => {
  await notebook.run('import os\nos._exit(3)');
  await expectDeadThenRestart(notebook, 'Program terminated with exit(3)');
});

test('a Pyodide fatal error: the kernel is dead, the log says why, a restart brings it back', async ({
  notebook
}) => {
  // Pyodide's own entry point for fatal errors (what a crash inside the runtime calls).
  await notebook.run('import pyodide_js\npyodide_js._api.fatal_error(RuntimeError("simulated"))');
  await expectDeadThenRestart(
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
