import { expect, test } from './fixtures';

test("a subshell console runs code while the notebook's cell awaits", async ({
  notebook,
  page
}) => {
  const waiting = await notebook.run('import asyncio\nawait asyncio.sleep(120)');
  await notebook.waitRunning(waiting);

  // JupyterLab offers the command only for kernels that list "kernel subshells" in kernel_info.
  await page.keyboard.press('ControlOrMeta+Shift+C');
  const palette = page.locator('.lm-CommandPalette-input');
  await palette.fill('New Subshell Console for Notebook');
  await page.locator('.lm-CommandPalette-item:not(.lm-mod-disabled)').first().click();

  const prompt = page.locator('.jp-CodeConsole-promptCell .cm-content');
  await expect(prompt).toBeVisible({ timeout: 30_000 });
  await prompt.click();
  await page.keyboard.insertText("print('from the subshell', 6 * 7)");
  await page.keyboard.press('Shift+Enter');
  await expect(page.locator('.jp-CodeConsole-content .jp-OutputArea-output').last()).toContainText(
    'from the subshell 42',
    { timeout: 30_000 }
  );
  await notebook.waitRunning(waiting);
});
