import { expect, test } from './fixtures';

test('a file written by Python appears in the file browser', async ({ notebook, page }) => {
  const cell = await notebook.run(
    'with open("from-python.txt", "w") as f:\n    f.write("hello")\nimport os; print(os.getcwd())'
  );
  await expect(notebook.output(cell)).toContainText('/drive');
  const listing = page.locator('.jp-DirListing-content');
  const entry = listing.getByText('from-python.txt', { exact: true });
  await expect(async () => {
    await page.locator('.jp-FileBrowser [data-command="filebrowser:refresh"]').first().click();
    await expect(entry).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 30_000 });
});

test('a file uploaded in the UI is readable by Python', async ({ notebook, page }) => {
  const chooser = page.waitForEvent('filechooser');
  await page.locator('.jp-FileBrowser .jp-id-upload').first().click();
  await (
    await chooser
  ).setFiles({
    name: 'uploaded.txt',
    mimeType: 'text/plain',
    buffer: Buffer.from('from the browser\n')
  });
  await expect(
    page.locator('.jp-DirListing-content').getByText('uploaded.txt', { exact: true })
  ).toBeVisible();
  // JupyterLite opens the uploaded file in a tab (a moment later): go back to the notebook.
  const textTab = page.getByRole('tab', { name: 'uploaded.txt' });
  await textTab.waitFor({ timeout: 10_000 }).catch(() => undefined);
  const notebookTab = page.getByRole('tab', { name: 'Untitled.ipynb' });
  await notebookTab.click();
  await expect(notebookTab).toHaveAttribute('aria-selected', 'true');
  const cell = await notebook.run('print(open("uploaded.txt").read().strip())');
  await expect(notebook.output(cell)).toContainText('from the browser');
});
