// Built like every service: see tools/build/service-webpack-config.js.
module.exports = require('../../tools/build/service-webpack-config')(__dirname);
