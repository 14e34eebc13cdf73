import { expect, showLogConsole, test } from './fixtures';

test('a cell runs and shows its result', async ({ notebook }) => {
  const cell = await notebook.run('import sys\nprint(sys.platform)\n6 * 7');
  await expect(notebook.output(cell)).toContainText('emscripten');
  await expect(notebook.output(cell)).toContainText('42');
  await notebook.waitDone(cell);
});

test('the log console shows the kernel start-up steps', async ({ notebook, page }) => {
  void notebook; // the fixture waited for the kernel to be idle
  const log = await showLogConsole(page);
  await expect(log).toContainText("Restoring Python from the site's snapshot");
  await expect(log).toContainText('Writing the files of');
  await expect(log).toContainText(/Python \(async\) is ready \(.*, from the snapshot\)/);
});

test('widgets render', async ({ notebook }) => {
  const cell = await notebook.run(
    'import ipywidgets as ipw\nipw.VBox([ipw.IntSlider(value=3, max=10, description="n"), ipw.Button(description="Press")])'
  );
  await expect(notebook.output(cell).locator('.widget-slider')).toBeVisible();
  await expect(notebook.output(cell).getByRole('button', { name: 'Press' })).toBeVisible();
});

test("the page's requests reach the kernel without mock-socket's 4 ms timer", async ({
  notebook,
  page
}) => {
  // JupyterLite's in-page WebSocket (mock-socket) delivers each message a client sends
  // after setTimeout(…, 4); our kernels' sockets hand them over in a microtask instead.
  await page.evaluate(() => {
    const global = window as unknown as { timers4: number; setTimeout: typeof setTimeout };
    const setTimeout_ = window.setTimeout.bind(window);
    global.timers4 = 0;
    global.setTimeout = ((handler: TimerHandler, ms?: number, ...args: unknown[]) => {
      if (ms === 4) global.timers4++;
      return setTimeout_(handler, ms, ...args);
    }) as typeof setTimeout;
  });
  for (const value of [11, 22, 33, 44, 55]) {
    const cell = await notebook.run(`${value} * 2`);
    await expect(notebook.output(cell)).toContainText(String(value * 2));
  }
  expect(await page.evaluate(() => (window as unknown as { timers4: number }).timers4)).toBe(0);
});
