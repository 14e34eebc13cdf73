/**
 * Playwright tests of the JupyterLite site with the "Python (async)" kernel (tests/e2e/).
 *
 * Debian's /usr/bin/chromium (no downloaded browser), every host but 127.0.0.1 unresolvable,
 * two servers: crossOriginIsolated (COOP/COEP) and not isolated. Build the site first
 * (`python3 lite/build.py`, done by scripts/e2e.sh). ASYNC_KERNEL_SITE=DIR tests another built
 * site (scripts/plain-site.sh builds one with plain `jupyter lite build`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { defineConfig } from '@playwright/test';

/** Headless, offline Chromium flags, shared with bench/browser/run.mjs. */
const CHROMIUM_ARGS: string[] = JSON.parse(
  readFileSync(join(__dirname, 'tests', 'e2e', 'chromium-args.json'), 'utf8')
);

const ISOLATED_PORT = Number(process.env.ASYNC_KERNEL_E2E_PORT ?? 8765);
const PLAIN_PORT = ISOLATED_PORT + 1;
const PYTHON = process.env.PYTHON ?? 'python3';
const SITE = process.env.ASYNC_KERNEL_SITE ? ` --dir ${process.env.ASYNC_KERNEL_SITE}` : '';

export default defineConfig({
  testDir: 'tests/e2e',
  outputDir: 'tests/e2e/.results',
  timeout: 300_000,
  expect: { timeout: 30_000 },
  fullyParallel: false,
  workers: Number(process.env.E2E_WORKERS ?? 1),
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  use: {
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS
    },
    viewport: { width: 1280, height: 800 },
    actionTimeout: 30_000,
    navigationTimeout: 60_000,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure'
  },
  projects: [
    { name: 'isolated', use: { baseURL: `http://127.0.0.1:${ISOLATED_PORT}/` } },
    { name: 'not-isolated', use: { baseURL: `http://127.0.0.1:${PLAIN_PORT}/` } }
  ],
  webServer: [
    {
      command: `${PYTHON} lite/serve.py --port ${ISOLATED_PORT}${SITE}`,
      url: `http://127.0.0.1:${ISOLATED_PORT}/lab/index.html`,
      reuseExistingServer: !process.env.CI,
      timeout: 30_000
    },
    {
      command: `${PYTHON} lite/serve.py --port ${PLAIN_PORT} --no-isolation${SITE}`,
      url: `http://127.0.0.1:${PLAIN_PORT}/lab/index.html`,
      reuseExistingServer: !process.env.CI,
      timeout: 30_000
    }
  ]
});
