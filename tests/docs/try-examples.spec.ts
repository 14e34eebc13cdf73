/**
 * jupyterlite-sphinx's try_examples: the button on a docstring's "Examples" section (api.md,
 * autodoc of async_kernel.kernelspec.display_name_for) opens the examples as a notebook on this
 * kernel (alias "python", set by the build addon's kernel_aliases) and they run.
 */
import { expect, LiteNotebook, test } from './fixtures';

test('the docstring examples run in the page on the async kernel', async ({ page }) => {
  await page.goto('api.html');
  const examples = page.locator('.try_examples_outer_container').first();
  await expect(examples).toContainText('display_name_for("async", "trio")');
  await examples.getByRole('button', { name: 'Try it in your browser' }).click();

  const iframe = page.locator(
    '.try_examples_outer_iframe:not(.hidden) iframe.jupyterlite_sphinx_iframe'
  );
  await expect(iframe).toHaveCount(1);
  await expect(examples).toBeHidden();
  const notebook = new LiteNotebook(iframe, page);
  await notebook.waitIdle('Python (async, as "python")');

  // The notebook holds the docstring's expected outputs; running the cells numbers them.
  await expect(notebook.cells()).toHaveCount(4);
  await expect(notebook.prompt(0)).toHaveText('[ ]:');
  for (const index of [0, 1, 2, 3]) {
    await notebook.run(index);
    await notebook.waitDone(index);
  }
  await expect(notebook.prompt(0)).toHaveText('[1]:');
  await expect(notebook.output(0)).toContainText("'Python 3 (async)'");
  await expect(notebook.prompt(1)).toHaveText('[2]:');
  await expect(notebook.output(1)).toContainText("'Python 3 (async, trio)'");
  await expect(notebook.prompt(2)).toHaveText('[3]:');
  await expect(notebook.output(2)).toContainText("'Python 3 (async-trio)'");
  await expect(notebook.prompt(3)).toHaveText('[4]:');
  await expect(notebook.output(3)).toContainText("'Python 3 (python-tk, Tk)'");
  await expect(
    notebook.frame.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
  ).toHaveCount(0);

  // "Go Back" shows the examples again.
  await page.getByRole('button', { name: 'Go Back' }).click();
  await expect(examples).toBeVisible();
});
