const { basename, join } = require('node:path');
const { NxAppWebpackPlugin } = require('@nx/webpack/app-plugin');

/**
 * The webpack config of one service (`apps/<name>/webpack.config.js` calls this with its folder):
 * a Node bundle of src/main.ts into dist/apps/<name>, with source maps; node_modules stay external
 * and are listed in a generated package.json with its package-lock.json, so the image installs
 * exactly the workspace's versions.
 */
module.exports = function serviceWebpackConfig(appDir) {
  return {
    output: { path: join(appDir, '../../dist/apps', basename(appDir)) },
    devtool: 'source-map',
    plugins: [
      new NxAppWebpackPlugin({
        target: 'node',
        compiler: 'tsc',
        main: './src/main.ts',
        tsConfig: './tsconfig.app.json',
        generatePackageJson: true,
        // The bundle calls tslib's helpers (importHelpers), which the generated package.json must list.
        runtimeDependencies: ['tslib'],
        outputHashing: 'none',
        optimization: false,
        sourceMap: true,
      }),
    ],
  };
};
