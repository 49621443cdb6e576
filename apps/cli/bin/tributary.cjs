#!/usr/bin/env node
'use strict';
// `npx tributary`: runs the CLI of apps/cli. From a clone after `npm ci` it runs the TypeScript
// sources through @swc-node/register; where only the bundle is shipped, dist/apps/cli/main.js.
// Under a Node older than 24 it runs itself again with the repository's .tools/node-24.* when present.
const { existsSync, readdirSync } = require('node:fs');
const { join } = require('node:path');
const { spawnSync } = require('node:child_process');

const root = join(__dirname, '..', '..', '..');
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  const tools = join(root, '.tools');
  const bundled = existsSync(tools)
    ? readdirSync(tools)
        .filter((name) => name.startsWith('node-24.'))
        .sort()
        .pop()
    : undefined;
  if (!bundled) {
    process.stderr.write(`tributary: needs Node 24 or later (this is ${process.version})\n`);
    process.exit(2);
  }
  const child = spawnSync(join(tools, bundled, 'bin', 'node'), [__filename, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(child.status ?? 1);
}

const sources = join(root, 'apps', 'cli', 'src', 'main.ts');
let register;
try {
  register = require.resolve('@swc-node/register', { paths: [root] });
} catch {
  register = undefined;
}
if (existsSync(sources) && register) {
  process.env.SWC_NODE_PROJECT =
    process.env.SWC_NODE_PROJECT || join(root, 'apps', 'cli', 'tsconfig.app.json');
  require(register);
  require(sources);
} else {
  require(join(root, 'dist', 'apps', 'cli', 'main.js'));
}
