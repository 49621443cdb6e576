/**
 * Prints the Markdown table of a service's environment variables from its config spec, so the
 * app README can list them exactly: `node -r @swc-node/register tools/docs/env-table.ts cep-engine`.
 */
import type { EnvSpec } from '@tributary/config';

async function main(): Promise<void> {
  const app = process.argv[2];
  if (!app) throw new Error('usage: env-table.ts <app>');
  const module = (await import(`../../apps/${app}/src/config`)) as Record<string, EnvSpec>;
  const spec = Object.entries(module).find(([name]) => name.endsWith('Env'))?.[1];
  if (!spec) throw new Error(`apps/${app}/src/config.ts exports no *Env spec`);
  const rows = Object.entries(spec).map(([name, variable]) => {
    const fallback = variable.required ? '**required**' : variable.defaultValue === undefined ? '—' : `\`${variable.defaultValue}\``;
    return `| \`${name}\` | ${fallback} | ${variable.description}${variable.secret ? ' (secret)' : ''} |`;
  });
  process.stdout.write(['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n') + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
