/**
 * /drive: Python's files and the file browser's are the same. Through the service worker on pages
 * that are not crossOriginIsolated; through SharedArrayBuffer on isolated ones, which the second
 * half checks with service workers blocked (a private window, some embeds).
 */
import { expect, test } from './fixtures';

function fileTests(): void {
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
}

fileTests();

test.describe('with service workers blocked, an isolated page still has /drive', () => {
  test.use({ serviceWorkers: 'block' });
  // eslint-disable-next-line no-empty-pattern -- Playwright's way to ask for no fixture
  test.beforeEach(({}, testInfo) => {
    test.skip(testInfo.project.name !== 'isolated', 'needs a page isolated by its headers');
  });

  fileTests();

  test('a 3 MB file goes to the drive and back whole (an answer in parts)', async ({
    notebook
  }) => {
    const cell = await notebook.run(
      'import hashlib, os\n' +
        'data = os.urandom(3_000_000)\n' +
        'open("big.bin", "wb").write(data)\n' +
        'back = open("big.bin", "rb").read()\n' +
        'print("same:", back == data, len(back))'
    );
    await expect(notebook.output(cell)).toContainText('same: True 3000000');
  });
});
