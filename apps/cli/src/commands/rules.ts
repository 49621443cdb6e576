import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { usageError } from '../lib/cli-error';
import type { Runner } from '../lib/cli-context';
import { renderTable, toJson } from '../lib/output';

interface RuleView {
  id: string;
  version?: number;
  enabled?: boolean;
  severity?: string;
  builtin?: string;
  description?: string;
}

/** The rules of a file: one rule object or an array of them, each with an `id`. */
export function rulesOfFile(path: string, text: string): Record<string, unknown>[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw usageError(`${path} is not JSON`);
  }
  const rules = Array.isArray(parsed) ? parsed : [parsed];
  for (const [index, rule] of rules.entries()) {
    if (
      typeof rule !== 'object' ||
      rule === null ||
      Array.isArray(rule) ||
      typeof (rule as { id?: unknown }).id !== 'string'
    ) {
      throw usageError(`${path}: rule ${index + 1} is not an object with a string id`);
    }
  }
  return rules as Record<string, unknown>[];
}

export function registerRules(program: Command, run: Runner): void {
  const rules = program.command('rules').description('CEP rules (cep-engine /rules)');
  rules
    .command('ls')
    .description('the current rules')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, cmd: Command) =>
      run(cmd, async (context) => {
        const { rules: all } = await context
          .client('cep-engine')
          .json<{ rules: RuleView[] }>('GET', '/rules');
        if (options.json) return context.io.out(toJson(all));
        context.io.out(
          renderTable(
            ['ID', 'VERSION', 'ENABLED', 'SEVERITY', 'DESCRIPTION'],
            all.map((r) => [r.id, r.version, r.enabled, r.severity, r.description ?? r.builtin]),
          ),
        );
      }),
    );
  rules
    .command('show <id>')
    .description('one rule as the rules topic holds it (JSON)')
    .option('--json', 'print JSON (the default for show)')
    .action(async (id: string, _options: unknown, cmd: Command) =>
      run(cmd, async (context) => {
        context.io.out(
          toJson(await context.client('cep-engine').json('GET', `/rules/${encodeURIComponent(id)}`)),
        );
      }),
    );
  rules
    .command('apply')
    .description(
      'creates the rules of a JSON file (one rule or an array), or stores a new version of those that exist',
    )
    .requiredOption('-f, --file <path>', 'JSON file with the rule(s)')
    .option('--json', 'print the stored rules as JSON')
    .action(async (options: { file: string; json?: boolean }, cmd: Command) =>
      run(cmd, async (context) => {
        let text: string;
        try {
          text = readFileSync(options.file, 'utf8');
        } catch (error) {
          throw usageError(
            `cannot read ${options.file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
          );
        }
        const client = context.client('cep-engine');
        const stored: RuleView[] = [];
        for (const rule of rulesOfFile(options.file, text)) {
          const path = `/rules/${encodeURIComponent(rule['id'] as string)}`;
          const existing = await client.send('GET', path, { accept: [404] });
          await existing.body?.cancel();
          const saved =
            existing.status === 404
              ? await client.json<RuleView>('POST', '/rules', { body: rule })
              : await client.json<RuleView>('PUT', path, { body: rule });
          stored.push(saved);
          if (!options.json)
            context.io.out(
              `${existing.status === 404 ? 'created' : 'updated'} ${saved.id} (version ${saved.version ?? '?'})`,
            );
        }
        if (options.json) context.io.out(toJson(stored));
      }),
    );
  rules
    .command('disable <id>')
    .description('disables a rule (a new version with enabled: false, definition kept)')
    .option('--json', 'print the stored rule as JSON')
    .action(async (id: string, options: { json?: boolean }, cmd: Command) =>
      run(cmd, async (context) => {
        const saved = await context
          .client('cep-engine')
          .json<RuleView>('DELETE', `/rules/${encodeURIComponent(id)}`);
        context.io.out(
          options.json ? toJson(saved) : `disabled ${saved.id} (version ${saved.version ?? '?'})`,
        );
      }),
    );
}
