/**
 * Playwright tests of the built documentation (tests/docs/): its live parts (jupyterlite-sphinx's
 * replite, notebooklite and try_examples) run the "Python (async)" kernel in the page. Shared
 * settings in tests/playwright-base.ts. Build the docs first (`scripts/docs.sh`, after
 * `python3 lite/build.py`).
 *
 *   npx --no-install playwright test -c playwright.docs.config.ts
 */
import { browserTests } from './tests/playwright-base';

export default browserTests({
  testDir: 'tests/docs',
  site: process.env.ASYNC_KERNEL_DOCS_HTML ?? 'docs/_build/html',
  port: Number(process.env.ASYNC_KERNEL_DOCS_PORT ?? 8785),
  readyPath: 'index.html',
  prefix: 'docs-',
  viewport: { width: 1280, height: 900 }
});
