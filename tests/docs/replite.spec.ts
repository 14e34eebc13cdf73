/**
 * jupyterlite-sphinx's `replite`: consoles of the REPL app on the "Python (async)" kernel that run
 * the directive's code at once (index.md), and one that uses the REPL app's URL parameters and
 * loads only when clicked (embedding.md).
 */
import { expect, KERNEL_START_MS, Repl, startLazyIframe, test } from './fixtures';

test('the console on the front page runs its code on the async kernel', async ({ page }) => {
  await page.goto('index.html');
  const iframe = page.locator('iframe.jupyterlite_sphinx_raw_iframe');
  await expect(iframe).toHaveCount(1);
  await expect(iframe).toHaveAttribute('src', /^lite\/repl\/index\.html\?kernel=async&/);
  const repl = new Repl(iframe, page);

  const ran = repl.cells().first();
  await expect(ran).toContainText('hello from emscripten', { timeout: KERNEL_START_MS });
  await expect(ran).toContainText("['a done', 'b done']");
  await expect(ran.locator('.jp-InputArea-prompt')).toHaveText('[1]:');
  // showBanner (the default): the kernel's own banner names it.
  await expect(repl.banner()).toContainText('on async-kernel');
});

test('the console with URL parameters: toolbar, prompt on top, no banner, cells cleared on execute', async ({
  page
}) => {
  await page.goto('embedding.html');
  const iframe = await startLazyIframe(page, 'Start the console');
  const src = (await iframe.getAttribute('src')) ?? '';
  const params = new URL(src, page.url()).searchParams;
  expect(Object.fromEntries(params)).toMatchObject({
    kernel: 'async',
    toolbar: '1',
    execute: '1',
    promptCellPosition: 'top',
    showBanner: '0',
    clearCellsOnExecute: '1'
  });
  const repl = new Repl(iframe, page);

  // code + execute: the directive's code ran.
  await expect(repl.cells().first()).toContainText('console ready on emscripten', {
    timeout: KERNEL_START_MS
  });
  // toolbar=1: a toolbar naming the kernel.
  await expect(repl.frame.locator('.jp-ConsolePanel .jp-Toolbar .jp-KernelName')).toHaveText(
    'Python (async)'
  );
  // showBanner=0: no banner.
  await expect(repl.banner()).toHaveCount(0);
  // promptCellPosition=top: the prompt cell is above the cells that ran.
  const promptBox = await repl.promptCell().boundingBox();
  const ranBox = await repl.cells().first().boundingBox();
  expect(promptBox && ranBox && promptBox.y < ranBox.y).toBe(true);

  // clearCellsOnExecute=1: running another cell replaces the earlier one.
  await repl.run('print("second run", 6 * 7)');
  await expect(repl.cells()).toHaveCount(1);
  await expect(repl.cells().first()).toContainText('second run 42');
  await expect(repl.cells().first()).not.toContainText('console ready');
});
