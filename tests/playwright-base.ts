/**
 * What the Playwright configs share (playwright.config.ts: the site; playwright.docs.config.ts: the
 * built docs): Debian's /usr/bin/chromium (no downloaded browser), every host but 127.0.0.1
 * unresolvable, and two lite/serve.py servers on ports of their own: crossOriginIsolated (COOP/COEP)
 * and not isolated; or, for a site built with `AsyncKernelAddon.isolation=service-worker`, one server
 * without COOP/COEP, whose pages the service worker isolates (project `sw-isolated`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { defineConfig } from '@playwright/test';
import type { PlaywrightTestConfig } from '@playwright/test';

type WebServer = Exclude<NonNullable<PlaywrightTestConfig['webServer']>, unknown[]>;

/** Headless, offline Chromium flags, shared with bench/browser/run.mjs. */
const CHROMIUM_ARGS: string[] = JSON.parse(
  readFileSync(join(__dirname, 'e2e', 'chromium-args.json'), 'utf8')
);

export interface IBrowserTests {
  /** The spec folder, e.g. 'tests/e2e'. */
  testDir: string;
  /** The built site to serve (lite/serve.py --dir). */
  site: string;
  /** Port of the isolated server; the other one is the next port. */
  port: number;
  /** A page that exists once the site is built, checked before the tests start. */
  readyPath: string;
  /** Prefix of the two project names ('' for the site's own tests). */
  prefix: string;
  viewport: { width: number; height: number };
  /** 'service-worker': one project, `sw-isolated`, served without COOP/COEP (see above). */
  isolation?: 'headers' | 'service-worker';
  /** Spec files to run (default: all); `testIgnore`: spec files to leave out. */
  testMatch?: string[];
  testIgnore?: string[];
}

export function browserTests(options: IBrowserTests): PlaywrightTestConfig {
  const python = process.env.PYTHON ?? 'python3';
  const server = (port: number, flags: string): WebServer => ({
    command: `${python} lite/serve.py --port ${port} --dir ${options.site}${flags}`,
    url: `http://127.0.0.1:${port}/${options.readyPath}`,
    reuseExistingServer: !process.env.CI,
    timeout: 30_000
  });
  const plainPort = options.port + 1;
  const byServiceWorker = options.isolation === 'service-worker';
  return defineConfig({
    testDir: options.testDir,
    testMatch: options.testMatch,
    testIgnore: options.testIgnore,
    outputDir: `${options.testDir}/.results`,
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
      viewport: options.viewport,
      actionTimeout: 30_000,
      navigationTimeout: 60_000,
      trace: 'retain-on-failure',
      screenshot: 'only-on-failure'
    },
    projects: byServiceWorker
      ? [
          {
            name: `${options.prefix}sw-isolated`,
            use: { baseURL: `http://127.0.0.1:${options.port}/` }
          }
        ]
      : [
          {
            name: `${options.prefix}isolated`,
            use: { baseURL: `http://127.0.0.1:${options.port}/` }
          },
          {
            name: `${options.prefix}not-isolated`,
            use: { baseURL: `http://127.0.0.1:${plainPort}/` }
          }
        ],
    webServer: byServiceWorker
      ? [server(options.port, ' --no-isolation')]
      : [server(options.port, ''), server(plainPort, ' --no-isolation')]
  });
}
