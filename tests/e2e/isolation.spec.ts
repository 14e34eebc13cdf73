/**
 * A site built with `--AsyncKernelAddon.isolation=service-worker`, served without COOP/COEP (run by
 * playwright.sw.config.ts only): its service worker isolates the pages it controls. The other specs
 * that config runs check what isolation brings (interrupting busy loops and time.sleep, input()) and
 * that the service worker still serves /drive and widgets.
 */
import { expect, openNotebook, test, waitIsolated } from './fixtures';

test('the first visit reloads once into a crossOriginIsolated page; later loads are isolated at once', async ({
  page
}) => {
  const direct = await page.request.get('lab/index.html');
  expect(
    direct.headers()['cross-origin-embedder-policy'],
    'the server sends no COEP'
  ).toBeUndefined();

  let loads = 0;
  page.on('load', () => (loads += 1));
  await page.goto('lab/index.html');
  await waitIsolated(page);
  expect(loads, 'one load, then one reload').toBe(2);

  await page.reload();
  expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
  const notebook = await openNotebook(page, false);
  const cell = await notebook.run(
    'import js\nprint("isolated in the worker:", js.crossOriginIsolated)'
  );
  await expect(notebook.output(cell)).toContainText('isolated in the worker: True');
  expect(loads, 'no reload after the first').toBe(3);
});
