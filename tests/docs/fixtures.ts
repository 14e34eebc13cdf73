/**
 * Fixtures and helpers for the tests of the built documentation (playwright.docs.config.ts).
 *
 * The live parts of the pages are iframes of the JupyterLite site in `lite/`: the REPL app
 * (replite) and the Notebook app (notebooklite, try_examples). Every test records the requests
 * of the whole browser context (pages, iframes, workers) and fails if one left 127.0.0.1: the
 * docs must work offline. The browser console is attached to a failed test.
 */
import { expect, test as base } from '@playwright/test';
import type { FrameLocator, Locator, Page } from '@playwright/test';

/** How long a cold kernel start may take (Pyodide + wheels + IPython on 2 shared cores). */
export const KERNEL_START_MS = 180_000;

type Fixtures = { offsite: string[]; browserConsole: string[] };

export const test = base.extend<Fixtures>({
  offsite: [
    async ({ context }, use) => {
      const offsite: string[] = [];
      context.on('request', request => {
        const { protocol, hostname } = new URL(request.url());
        if (protocol.startsWith('http') && hostname !== '127.0.0.1') {
          offsite.push(request.url());
        }
      });
      await use(offsite);
      expect(offsite, 'requests outside 127.0.0.1').toEqual([]);
    },
    { auto: true }
  ],

  browserConsole: [
    async ({ page }, use, testInfo) => {
      const started = Date.now();
      const lines: string[] = [];
      const stamp = (): string => ((Date.now() - started) / 1000).toFixed(1);
      page.on('console', msg => lines.push(`${stamp()} ${msg.type()} ${msg.text()}`));
      page.on('pageerror', error => lines.push(`${stamp()} pageerror ${error.message}`));
      await use(lines);
      if (testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach('browser console', {
          body: lines.join('\n'),
          contentType: 'text/plain'
        });
      }
      if (process.env.E2E_CONSOLE) {
        console.log(lines.filter(line => !line.includes(' debug ')).join('\n'));
      }
    },
    { auto: true }
  ]
});

export { expect };

/**
 * The live iframe inside the jupyterlite-sphinx container of the page whose button (`:prompt:`)
 * reads `buttonText`: click the button, then return the iframe that replaced it.
 */
export async function startLazyIframe(page: Page, buttonText: string): Promise<Locator> {
  const container = page.locator('.jupyterlite_sphinx_iframe_container', {
    has: page.locator('.jupyterlite_sphinx_try_it_button', { hasText: buttonText })
  });
  const button = container.locator('.jupyterlite_sphinx_try_it_button');
  await expect(button).toHaveText(buttonText);
  await expect(container.locator('iframe')).toHaveCount(0);
  await button.click();
  const iframe = container.locator('iframe.jupyterlite_sphinx_iframe');
  await expect(iframe).toHaveCount(1);
  return iframe;
}

/** A JupyterLite app in an iframe of the page. */
class LiteFrame {
  readonly frame: FrameLocator;

  constructor(
    iframe: Locator,
    readonly page: Page
  ) {
    this.frame = iframe.contentFrame();
  }
}

/** JupyterLite's REPL app (a code console) in an iframe. */
export class Repl extends LiteFrame {
  /** The cells that ran (not the prompt cell). */
  cells(): Locator {
    return this.frame.locator('.jp-CodeConsole-content .jp-CodeCell');
  }

  promptCell(): Locator {
    return this.frame.locator('.jp-CodeConsole-promptCell');
  }

  banner(): Locator {
    return this.frame.locator('.jp-CodeConsole-banner');
  }

  /** Type `code` into the prompt cell and run it (Shift+Enter). */
  async run(code: string): Promise<void> {
    const editor = this.promptCell().locator('.cm-content');
    await editor.click();
    await editor.press('ControlOrMeta+a');
    await this.page.keyboard.insertText(code);
    await editor.press('Shift+Enter');
  }
}

/** JupyterLite's Notebook app in an iframe. */
export class LiteNotebook extends LiteFrame {
  /** The kernel's name in the notebook toolbar, e.g. "Python (async)". */
  kernelName(): Locator {
    return this.frame.locator('.jp-NotebookPanel-toolbar .jp-KernelName');
  }

  /** Wait until the notebook shows kernel `name` and the kernel is idle. */
  async waitIdle(name: string, timeout = KERNEL_START_MS): Promise<void> {
    await expect(this.kernelName()).toHaveText(name, { timeout });
    await expect(this.frame.locator('.jp-Notebook-ExecutionIndicator').first()).toHaveText(
      /Kernel status: Idle/,
      { timeout }
    );
  }

  cells(): Locator {
    return this.frame.locator('.jp-NotebookPanel .jp-Notebook .jp-Cell');
  }

  cell(index: number): Locator {
    return this.cells().nth(index);
  }

  output(index: number): Locator {
    return this.cell(index).locator('.jp-OutputArea').first();
  }

  prompt(index: number): Locator {
    return this.cell(index).locator('.jp-InputArea-prompt');
  }

  /** Run cell `index` (click into its editor, Shift+Enter). */
  async run(index: number): Promise<void> {
    const editor = this.cell(index).locator('.cm-content');
    await editor.click();
    await editor.press('Shift+Enter');
  }

  async waitDone(index: number, timeout = 60_000): Promise<void> {
    await expect(this.prompt(index)).toHaveText(/\[\d+\]:/, { timeout });
  }

  async waitRunning(index: number): Promise<void> {
    await expect(this.prompt(index)).toHaveText('[*]:');
  }
}
