const { composePlugins, withNx } = require('@nx/webpack');

// Node bundle of the service; node_modules stay external and are listed in the generated package.json.
module.exports = composePlugins(withNx({ target: 'node' }), (config) => {
  config.devtool = 'source-map';
  return config;
});
