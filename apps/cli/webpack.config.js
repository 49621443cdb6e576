// Bundled like the services (tools/build/service-webpack-config.js): dist/apps/cli/main.js, which bin/tributary.cjs runs when the sources are absent.
module.exports = require('../../tools/build/service-webpack-config')(__dirname);
