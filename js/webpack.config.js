// Extra webpack rules merged by `jupyter labextension build` (package.json "webpackConfig").
module.exports = {
  module: {
    rules: [
      {
        // The worker bundle (esbuild) is emitted as a file; kernel.ts loads it by URL.
        test: /worker\.bundle\.js$/,
        type: 'asset/resource',
        generator: { filename: 'async-kernel-worker.[contenthash:8].js' }
      }
    ]
  }
};
