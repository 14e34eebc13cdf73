/**
 * Fixtures and page helpers for the e2e tests.
 *
 * Every test gets `notebook`: a new notebook on the "Python (async)" kernel, opened from the
 * launcher, with the kernel idle. After each test the fixture asserts that the page made no
 * request outside 127.0.0.1 (the site must work offline).
 */
import { expect, test as base } from '@playwright/test';
import type { BrowserContext, Locator, Page } from '@playwright/test';

/** How long a cold kernel start may take (Pyodide + wheels + IPython on 2 shared cores). */
export const KERNEL_START_MS = 180_000;

export class Notebook {
  constructor(readonly page: Page) {}

  /** The kernel status in the status bar, e.g. "Python (async) | Idle". */
  status(state: string): Locator {
    return this.page
      .locator('.jp-StatusBar-Widget')
      .getByText(`Python (async) | ${state}`, { exact: true });
  }

  async waitIdle(timeout = KERNEL_START_MS): Promise<void> {
    await expect(this.status('Idle')).toBeVisible({ timeout });
  }

  cells(): Locator {
    return this.page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');
  }

  cell(index: number): Locator {
    return this.cells().nth(index);
  }

  /** The whole output area of cell `index` (all its outputs). */
  output(index: number): Locator {
    return this.cell(index).locator('.jp-OutputArea').first();
  }

  /** Type `code` into the last cell and run it (Shift+Enter); returns the cell's index. */
  async run(code: string): Promise<number> {
    const index = (await this.cells().count()) - 1;
    await this.type(index, code);
    await this.page.keyboard.press('Shift+Enter');
    // Shift+Enter on the last cell adds a new one below: wait for it, so the next run() types there.
    await expect(this.cells()).toHaveCount(index + 2);
    return index;
  }

  /** Put `code` into cell `index` (edit mode), replacing what it held. */
  async type(index: number, code: string): Promise<void> {
    const editor = this.cell(index).locator('.cm-content');
    await editor.click();
    await this.page.keyboard.press('ControlOrMeta+a');
    await this.page.keyboard.insertText(code);
  }

  /** The cell's prompt ("[*]:" while it runs, "[3]:" once done). */
  prompt(index: number): Locator {
    return this.cell(index).locator('.jp-InputArea-prompt');
  }

  async waitDone(index: number, timeout = 60_000): Promise<void> {
    await expect(this.prompt(index)).toHaveText(/\[\d+\]:/, { timeout });
  }

  async waitRunning(index: number): Promise<void> {
    await expect(this.prompt(index)).toHaveText('[*]:');
  }

  toolbarButton(name: string): Locator {
    return this.page
      .locator(`.jp-NotebookPanel-toolbar [data-jp-item-name="${name}"] button`)
      .first();
  }

  /**
   * Restart from the toolbar and wait until the new kernel is idle. The status bar leaves "Idle"
   * for as little as one frame when the new kernel takes a worker that is already loaded: a
   * MutationObserver, not a polling locator, sees it.
   */
  async restart(): Promise<void> {
    await this.page.evaluate(() => {
      const bar = document.querySelector('.jp-StatusBar-Widget');
      const seen = window as unknown as { restartSeen?: boolean };
      seen.restartSeen = false;
      const observer = new MutationObserver(() => {
        const text = bar?.textContent ?? '';
        if (/Python \(async\) \| (?!Idle)/.test(text)) {
          seen.restartSeen = true;
          observer.disconnect();
        }
      });
      observer.observe(bar ?? document.body, {
        subtree: true,
        childList: true,
        characterData: true
      });
    });
    await this.toolbarButton('restart').click();
    await this.page.locator('.jp-Dialog .jp-mod-accept').click();
    await expect
      .poll(() => this.page.evaluate(() => (window as { restartSeen?: boolean }).restartSeen))
      .toBe(true);
    await this.waitIdle();
  }
}

type Fixtures = { offsite: string[]; notebook: Notebook };

export const test = base.extend<Fixtures>({
  offsite: [
    async ({ context }, use) => {
      const offsite: string[] = [];
      const record = (url: string): void => {
        const { protocol, hostname } = new URL(url);
        if (protocol.startsWith('http') && hostname !== '127.0.0.1') {
          offsite.push(url);
        }
      };
      context.on('request', request => record(request.url()));
      await use(offsite);
      expect(offsite, 'requests outside 127.0.0.1').toEqual([]);
    },
    { auto: true }
  ],

  notebook: async ({ page, offsite, serviceWorkers }, use, testInfo) => {
    void offsite; // recorded for the whole context (page, workers, service worker)
    const started = Date.now();
    const consoleLines: string[] = [];
    const stamp = (): string => ((Date.now() - started) / 1000).toFixed(1);
    page.on('console', msg => consoleLines.push(`${stamp()} ${msg.type()} ${msg.text()}`));
    page.on('pageerror', error => consoleLines.push(`${stamp()} pageerror ${error.message}`));
    const attachConsole = (): Promise<void> =>
      testInfo.attach('browser console', {
        body: consoleLines.join('\n'),
        contentType: 'text/plain'
      });
    let notebook: Notebook;
    try {
      notebook = await openNotebook(page, true, serviceWorkers);
    } catch (error) {
      await attachConsole();
      throw error;
    }
    testInfo.annotations.push({ type: 'kernel idle after', description: `${stamp()} s` });
    await use(notebook);
    if (testInfo.status !== testInfo.expectedStatus) {
      await attachConsole();
    }
    if (process.env.E2E_CONSOLE) {
      console.log(consoleLines.filter(line => !line.includes(' debug ')).join('\n'));
    }
  }
});

export { expect };

/**
 * Open JupyterLab (unless `navigate` is false: it is open), start a notebook on
 * "Python (async)" from the launcher, wait until the kernel is idle. On the `sw-isolated`
 * project, first wait until the service worker has made the page isolated (unless
 * `serviceWorkers` is 'block', as the test's context was made).
 */
export async function openNotebook(
  page: Page,
  navigate = true,
  serviceWorkers: 'allow' | 'block' = 'allow'
): Promise<Notebook> {
  const notebook = new Notebook(page);
  if (navigate) {
    await page.goto('lab/index.html');
    if (test.info().project.name === 'sw-isolated' && serviceWorkers === 'allow') {
      await waitIsolated(page);
    }
  }
  await page.locator('.jp-LauncherCard[data-category="Notebook"][title="Python (async)"]').click();
  await expect(notebook.cells()).toHaveCount(1);
  await notebook.waitIdle();
  return notebook;
}

/** Open the log console (View menu) and return its panel. */
export async function showLogConsole(page: Page): Promise<Locator> {
  await page.getByRole('menuitem', { name: 'View' }).click();
  await page.getByText('Show Log Console').click();
  return page.locator('.jp-LogConsolePanel');
}

/** Whether the current project's pages are crossOriginIsolated (by headers or the service worker). */
export function isIsolated(projectName: string): boolean {
  return projectName === 'isolated' || projectName === 'sw-isolated';
}

/**
 * Wait until the page is crossOriginIsolated: on a site isolated by its service worker, the first
 * visit reloads once (js/src/isolation.ts); the page may be navigating meanwhile.
 */
export async function waitIsolated(page: Page): Promise<void> {
  await expect
    .poll(() => page.evaluate(() => self.crossOriginIsolated).catch(() => false), {
      message: 'the page becomes crossOriginIsolated through the service worker',
      timeout: 60_000
    })
    .toBe(true);
  await page.waitForLoadState('load');
}

/** The site's config data, as a jupyter-lite.json holds it under `jupyter-config-data`. */
export interface ILiteConfigData {
  defaultKernelName?: string;
  litePluginSettings?: Record<string, Record<string, unknown>>;
  [name: string]: unknown;
}

/** Our plugin's id: its settings' key in `litePluginSettings`. */
export const PLUGIN_ID = '@async-kernel/jupyterlite:kernel';

/**
 * Change every jupyter-lite.json the context's pages load, as a site's own would say it (pytest
 * --lite merges its settings the same way): `edit` changes the config data in place.
 */
export async function editLiteConfig(
  context: BrowserContext,
  edit: (data: ILiteConfigData) => void
): Promise<void> {
  await context.route('**/jupyter-lite.json', async route => {
    const response = await route.fetch();
    const json = (await response.json()) as { 'jupyter-config-data'?: ILiteConfigData };
    edit((json['jupyter-config-data'] ??= {}));
    await route.fulfill({ response, json });
  });
}

/** Change our plugin's settings in every jupyter-lite.json (editLiteConfig). */
export async function editPluginSettings(
  context: BrowserContext,
  settings: Record<string, unknown>
): Promise<void> {
  await editLiteConfig(context, data => {
    const plugins = (data.litePluginSettings ??= {});
    plugins[PLUGIN_ID] = { ...plugins[PLUGIN_ID], ...settings };
  });
}
