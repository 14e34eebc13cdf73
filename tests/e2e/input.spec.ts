import { expect, test } from './fixtures';

test('two consecutive input() calls both get their answers', async ({ notebook, page }) => {
  const cell = await notebook.run(
    'a = input("first? ")\nb = input("second? ")\nprint("got", a, b)'
  );
  // An answered prompt may keep its (disabled) input: the live one is the last.
  const stdin = notebook.output(cell).locator('input.jp-Stdin-input').last();
  await expect(stdin).toBeVisible();
  await stdin.fill('apple');
  await page.keyboard.press('Enter');
  await expect(notebook.output(cell).getByText('second?')).toBeVisible();
  await expect(stdin).toBeVisible();
  await stdin.fill('banana');
  await page.keyboard.press('Enter');
  await expect(notebook.output(cell)).toContainText('got apple banana');
  await notebook.waitDone(cell);
});

test.describe('where service workers are blocked (a private window, some embeds)', () => {
  test.use({ serviceWorkers: 'block' });

  test('input() says in one line why it is unavailable and what would enable it', async ({
    notebook
  }, testInfo) => {
    test.skip(
      testInfo.project.name === 'isolated',
      'pages isolated by their headers take input through SharedArrayBuffer'
    );
    const cell = await notebook.run('input("name? ")');
    await notebook.waitDone(cell);
    // JupyterLite believes its service worker registered (Playwright blocks it quietly), so the
    // worker asks the server for input, which answers 501: the case users saw as a long traceback.
    // A site isolated by its service worker (sw-isolated) is not isolated here either.
    await expect(notebook.output(cell)).toContainText(
      'StdinNotImplementedError: input() is unavailable: this page is not served through its ' +
        'service worker (HTTP 501 from the server instead); reload the page, or serve the site ' +
        'with COOP/COEP headers or build it with AsyncKernelAddon.isolation=service-worker'
    );
    const after = await notebook.run('"still serving"');
    await expect(notebook.output(after)).toContainText('still serving');
  });
});
