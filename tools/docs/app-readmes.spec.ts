import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EnvSpec } from '@tributary/config';

const APPS = ['options-collector', 'kafka-gateway', 'cdc-listener', 'cep-engine', 'historical-data-manager'];

describe.each(APPS)('the README of %s', (app) => {
  const readme = readFileSync(join(__dirname, '../../apps', app, 'README.md'), 'utf8');

  it('documents every environment variable the service reads, with its default', async () => {
    const module = (await import(`../../apps/${app}/src/config`)) as Record<string, EnvSpec>;
    const spec = Object.entries(module).find(([name]) => name.endsWith('Env'))?.[1] ?? {};
    const missing = Object.entries(spec)
      .filter(([name, variable]) => {
        const row = readme.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
        return !row || (variable.defaultValue !== undefined && !row.includes(`\`${variable.defaultValue}\``));
      })
      .map(([name]) => name);
    expect(missing).toEqual([]);
  });

  it('names the three endpoints every service serves', () => {
    for (const path of ['/health/live', '/health/ready', '/metrics']) expect(readme).toContain(path);
  });
});
