/**
 * jupyterlite-sphinx's notebooklite (browser.md): the repository's seed notebooks open in the
 * Notebook app on "Python (async)" and run; a cell awaiting a widget finishes on its click.
 */
import { expect, LiteNotebook, startLazyIframe, test } from './fixtures';

test('widget.ipynb: the cell awaiting the button finishes after the click', async ({ page }) => {
  await page.goto('browser.html');
  const iframe = page.locator('iframe.jupyterlite_sphinx_raw_iframe');
  await expect(iframe).toHaveCount(1);
  await expect(iframe).toHaveAttribute(
    'src',
    /notebooks\/index\.html\?path=examples\/widget\.ipynb$/
  );
  const notebook = new LiteNotebook(iframe, page);
  await notebook.waitIdle('Python (async)');
  await expect(notebook.cell(0)).toContainText('Awaiting a widget');

  // Cell 1 shows the button and awaits its click; cell 2 is queued behind it.
  await notebook.run(1);
  const button = notebook.output(1).getByRole('button', { name: 'Click me' });
  await expect(button).toBeVisible();
  await notebook.waitRunning(1);
  await notebook.run(2);
  await notebook.waitRunning(2);

  await button.click();
  await expect(notebook.output(1)).toContainText('clicked!');
  await notebook.waitDone(1);
  await notebook.waitDone(2);
  await expect(notebook.output(2)).toContainText('2');

  // The slider (a widget view rendered by the page's widget manager).
  await notebook.run(3);
  await notebook.waitDone(3);
  await expect(notebook.output(3).locator('.widget-slider')).toBeVisible();
});

test('concurrency.ipynb loads on click and its awaiting cell prints its ticks', async ({
  page
}) => {
  await page.goto('browser.html');
  const iframe = await startLazyIframe(page, 'Open the notebook');
  await expect(iframe).toHaveAttribute('src', /path=examples(\/|%2F)concurrency\.ipynb$/);
  const notebook = new LiteNotebook(iframe, page);
  await notebook.waitIdle('Python (async)');

  await notebook.run(1);
  await expect(notebook.output(1)).toContainText('tick 0');
  await notebook.waitDone(1, 30_000);
  await expect(notebook.output(1)).toContainText('tick 4');
  await notebook.run(3);
  await notebook.waitDone(3);
  for (const n of [0, 1, 2]) {
    await expect(notebook.output(3)).toContainText(`worker ${n} done`);
  }
});
