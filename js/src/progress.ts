/** The kernel's start-up steps, shown in the log console and the browser console. */

import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { ILoggerRegistry } from '@jupyterlab/logconsole';

import type { StartupPhase } from './tokens';

/**
 * Shows the kernel's start-up steps in the log console of the notebooks/consoles using it
 * (and in the browser console).
 */
export class ProgressReporter {
  constructor(app: JupyterFrontEnd, loggers: ILoggerRegistry | null) {
    this._app = app;
    this._loggers = loggers;
  }

  report(kernelId: string, phase: StartupPhase, text: string, elapsedMs: number): void {
    const line = `[async-kernel ${(elapsedMs / 1000).toFixed(1)} s] ${text}`;
    if (phase === 'failed') {
      console.error(line);
    } else {
      console.info(line);
    }
    this._log(kernelId, phase === 'failed' ? 'critical' : 'info', line, 20);
  }

  private _log(kernelId: string, level: 'info' | 'critical', line: string, retries: number): void {
    if (!this._loggers) {
      return;
    }
    const paths = [...this._app.serviceManager.sessions.running()]
      .filter(session => session.kernel?.id === kernelId)
      .map(session => session.path);
    if (paths.length === 0 && retries > 0) {
      // The session that owns a new kernel is recorded just after the kernel starts.
      setTimeout(() => this._log(kernelId, level, line, retries - 1), 250);
      return;
    }
    for (const path of paths) {
      const logger = this._loggers.getLogger(path);
      if (level === 'info' && logger.level === 'warning') {
        logger.level = 'info';
      }
      logger.log({ type: 'text', level, data: line });
    }
  }

  private _app: JupyterFrontEnd;
  private _loggers: ILoggerRegistry | null;
}
