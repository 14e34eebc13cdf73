// Extra webpack (rspack) config merged by `jupyter labextension build` (package.json "webpackConfig").
const fs = require('fs');
const path = require('path');

/** The prestart script (src/prestart.ts), bundled by esbuild (`npm run build:prestart`). */
const PRESTART = path.join(__dirname, 'lib', 'prestart.bundle.js');
/** Where the prestart script names the worker bundle's file; replaced by its emitted name. */
const WORKER_FILE_PLACEHOLDER = '__ASYNC_KERNEL_WORKER_FILE__';

/**
 * Puts the prestart script at the top of remoteEntry.js, the one file of the extension that
 * JupyterLite runs before JupyterLab's core, with the worker's emitted file name written in.
 * Before the content hashes are final, so remoteEntry's name changes with the script.
 */
class PrestartInRemoteEntry {
  apply(compiler) {
    const { Compilation, WebpackError, sources } = compiler.webpack;
    compiler.hooks.thisCompilation.tap('PrestartInRemoteEntry', compilation => {
      compilation.hooks.processAssets.tap(
        { name: 'PrestartInRemoteEntry', stage: Compilation.PROCESS_ASSETS_STAGE_ADDITIONS },
        () => {
          const fail = text =>
            compilation.errors.push(new WebpackError(`async-kernel prestart: ${text}`));
          const names = compilation.getAssets().map(asset => asset.name);
          const entries = names.filter(name => /^remoteEntry\.[^/]*\.js$/.test(name));
          const workers = names.filter(name => /^async-kernel-worker\.[^/]*\.js$/.test(name));
          if (entries.length !== 1 || workers.length !== 1) {
            fail(`expected one remoteEntry and one worker asset, found ${entries} and ${workers}`);
            return;
          }
          if (!fs.existsSync(PRESTART)) {
            fail(`${PRESTART} is missing: run \`npm run build:prestart\` first`);
            return;
          }
          const script = fs.readFileSync(PRESTART, 'utf8').trim();
          if (!script.includes(WORKER_FILE_PLACEHOLDER)) {
            fail(`${PRESTART} does not name ${WORKER_FILE_PLACEHOLDER}`);
            return;
          }
          const prestart = script.replace(WORKER_FILE_PLACEHOLDER, workers[0]);
          compilation.updateAsset(
            entries[0],
            source => new sources.ConcatSource(prestart, '\n', source)
          );
        }
      );
    });
  }
}

module.exports = {
  module: {
    rules: [
      {
        // The worker bundle (esbuild) is emitted as a file; workers.ts loads it by URL.
        test: /worker\.bundle\.js$/,
        type: 'asset/resource',
        generator: { filename: 'async-kernel-worker.[contenthash:8].js' }
      }
    ]
  },
  plugins: [new PrestartInRemoteEntry()]
};
