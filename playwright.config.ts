/**
 * Playwright tests of the JupyterLite site with the "Python (async)" kernel (tests/e2e/); shared
 * settings in tests/playwright-base.ts. Build the site first (`python3 lite/build.py`, done by
 * scripts/e2e.sh). ASYNC_KERNEL_SITE=DIR tests another built site (scripts/plain-site.sh builds one
 * with plain `jupyter lite build`).
 */
import { browserTests } from './tests/playwright-base';

export default browserTests({
  testDir: 'tests/e2e',
  site: process.env.ASYNC_KERNEL_SITE ?? 'lite/_output',
  port: Number(process.env.ASYNC_KERNEL_E2E_PORT ?? 8765),
  readyPath: 'lab/index.html',
  prefix: '',
  viewport: { width: 1280, height: 800 },
  testIgnore: ['isolation.spec.ts'] // playwright.sw.config.ts runs it
});
