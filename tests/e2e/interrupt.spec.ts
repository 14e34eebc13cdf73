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

// Synchronous code, stopped through Pyodide's interrupt buffer. Pyodide's own time.sleep cannot
// be interrupted (it would sleep the whole 100 s): the kernel's waits on that buffer. Each cell
// prints before it blocks: "[*]" shows as soon as the page sends the request, and an interrupt
// the worker acknowledges before the cell starts finds nothing to stop (as in ipykernel).
const blocking = [
  {
    what: 'stops `while True: pass`',
    code: 'print("looping", flush=True)\nwhile True:\n    pass',
    marker: 'looping',
    after: '"still alive"'
  },
  {
    what: 'wakes `time.sleep(100)` at once',
    code: 'import time\nprint("sleeping", flush=True)\ntime.sleep(100)',
    marker: 'sleeping',
    after: 'time.sleep(0.2)\n"still alive"'
  }
];

for (const { what, code, marker, after } of blocking) {
  test(`the toolbar interrupt button ${what}`, async ({ notebook }, testInfo) => {
    test.skip(!isIsolated(testInfo.project.name), 'needs SharedArrayBuffer (crossOriginIsolated)');
    const cell = await notebook.run(code);
    await expect(notebook.output(cell)).toContainText(marker);
    await notebook.toolbarButton('interrupt').click();
    await expect(notebook.output(cell)).toContainText('KeyboardInterrupt', { timeout: 20_000 });
    await notebook.waitDone(cell);
    const next = await notebook.run(after);
    await expect(notebook.output(next)).toContainText('still alive');
  });
}
