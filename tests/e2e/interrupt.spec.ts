import { expect, isIsolated, test } from './fixtures';

test('the toolbar interrupt button cancels a cell awaiting asyncio.sleep(100)', async ({
  notebook
}) => {
  const cell = await notebook.run('import asyncio\nawait asyncio.sleep(100)');
  await notebook.waitRunning(cell);
  await notebook.toolbarButton('interrupt').click();
  await notebook.waitDone(cell, 20_000);
  const after = await notebook.run('"still alive"');
  await expect(notebook.output(after)).toContainText('still alive');
});

test('the toolbar interrupt button stops `while True: pass`', async ({ notebook }, testInfo) => {
  test.skip(!isIsolated(testInfo.project.name), 'needs SharedArrayBuffer (crossOriginIsolated)');
  const cell = await notebook.run('while True:\n    pass');
  await notebook.waitRunning(cell);
  await notebook.toolbarButton('interrupt').click();
  await expect(notebook.output(cell)).toContainText('KeyboardInterrupt', { timeout: 20_000 });
  await notebook.waitDone(cell);
  const after = await notebook.run('"still alive"');
  await expect(notebook.output(after)).toContainText('still alive');
});

test('the toolbar interrupt button wakes `time.sleep(100)` at once', async ({
  notebook
}, testInfo) => {
  test.skip(!isIsolated(testInfo.project.name), 'needs SharedArrayBuffer (crossOriginIsolated)');
  const cell = await notebook.run('import time\ntime.sleep(100)');
  await notebook.waitRunning(cell);
  await notebook.toolbarButton('interrupt').click();
  // Pyodide's own time.sleep cannot be interrupted: it would sleep the whole 100 s.
  await expect(notebook.output(cell)).toContainText('KeyboardInterrupt', { timeout: 20_000 });
  await notebook.waitDone(cell);
  const after = await notebook.run('time.sleep(0.2)\n"still alive"');
  await expect(notebook.output(after)).toContainText('still alive');
});
