/**
 * Publishes the event contracts as JSON Schema for consumers in other languages:
 * one `<Event>.v<version>.json` per event at its current version, and `catalog.json` (the topics).
 *
 *   node -r @swc-node/register libs/contracts/src/export-json-schema.ts [outDir] [--force]
 *   npx nx run contracts:export-schemas
 *
 * A published schema file never changes: if the schema of a version that already has a file differs
 * from it, this refuses and asks for a version bump. --force overwrites (only for a version nobody
 * consumed yet).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { format, resolveConfig } from 'prettier';
import { EVENTS, catalogDocument, jsonSchemaOf, publishedSchemaFileName } from './index';

async function formatted(path: string, document: unknown): Promise<string> {
  const options = (await resolveConfig(path)) ?? {};
  return format(JSON.stringify(document), { ...options, filepath: path });
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const force = args.includes('--force');
  const outDir = resolve(args.find((arg) => !arg.startsWith('--')) ?? join(__dirname, '..', 'schemas'));
  mkdirSync(outDir, { recursive: true });

  const refused: string[] = [];
  for (const event of EVENTS) {
    const path = join(outDir, publishedSchemaFileName(event.name, event.version));
    const document = jsonSchemaOf(event);
    if (existsSync(path) && !force) {
      const published: unknown = JSON.parse(readFileSync(path, 'utf8'));
      if (isDeepStrictEqual(published, document)) continue;
      refused.push(
        `${path}: ${event.name} v${event.version} is published and differs; bump ${event.name}.version`,
      );
      continue;
    }
    writeFileSync(path, await formatted(path, document));
    console.log(`wrote ${path}`);
  }
  const catalogPath = join(outDir, 'catalog.json');
  writeFileSync(catalogPath, await formatted(catalogPath, catalogDocument()));
  console.log(`wrote ${catalogPath}`);

  for (const line of refused) console.error(`refused: ${line}`);
  return refused.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
