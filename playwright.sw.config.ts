/**
 * Playwright tests of a site built with `--AsyncKernelAddon.isolation=service-worker` (by
 * scripts/plain-site.sh: build/sw-site/site), served WITHOUT COOP/COEP headers, as GitHub Pages
 * serves it: the service worker makes its pages crossOriginIsolated. Runs isolation.spec.ts and the
 * e2e specs whose behaviour isolation changes (interrupt, input) or that need the service worker
 * (files in /drive, widgets). Shared settings in tests/playwright-base.ts.
 *
 *   npx --no-install playwright test -c playwright.sw.config.ts
 */
import { browserTests } from './tests/playwright-base';

export default browserTests({
  testDir: 'tests/e2e',
  site: process.env.ASYNC_KERNEL_SW_SITE ?? 'build/sw-site/site',
  port: Number(process.env.ASYNC_KERNEL_SW_PORT ?? 8795),
  readyPath: 'lab/index.html',
  prefix: '',
  viewport: { width: 1280, height: 800 },
  isolation: 'service-worker',
  testMatch: [
    'isolation.spec.ts',
    'interrupt.spec.ts',
    'input.spec.ts',
    'files.spec.ts',
    'cell.spec.ts',
    'widget-await.spec.ts'
  ]
});
