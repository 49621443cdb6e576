import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compatibilityIssues, type JsonSchema } from './compatibility';
import { EVENTS } from './events';
import { catalogDocument, jsonSchemaOf, publishedSchemaFileName } from './json-schema';

/**
 * The published schemas (libs/contracts/schemas, committed) are a promise to every consumer. These tests
 * fail when the code's schema drifts from its published file, or when it cannot read, or be read by,
 * any earlier published version. The fix is never to edit a published file: bump the event's version,
 * run `npx nx run contracts:export-schemas` and commit the new file.
 */
const SCHEMAS_DIR = join(__dirname, '..', '..', 'schemas');
const FILE = /^([A-Za-z]+)\.v([1-9][0-9]*)\.json$/;

const published = readdirSync(SCHEMAS_DIR)
  .map((file) => ({ file, match: FILE.exec(file) }))
  .filter((entry): entry is { file: string; match: RegExpExecArray } => entry.match !== null)
  .map(({ file, match }) => ({
    file,
    event: match[1],
    version: Number(match[2]),
    schema: JSON.parse(readFileSync(join(SCHEMAS_DIR, file), 'utf8')) as JsonSchema,
  }));

describe('published JSON Schemas', () => {
  it.each(EVENTS.map((event) => [event.name, event] as const))(
    '%s at its current version equals its published file (a published schema never changes)',
    (_name, event) => {
      const file = publishedSchemaFileName(event.name, event.version);
      const entry = published.find((candidate) => candidate.file === file);
      expect(entry ? file : `missing ${file}: run npx nx run contracts:export-schemas`).toBe(file);
      expect(jsonSchemaOf(event)).toEqual(entry?.schema);
    },
  );

  it.each(EVENTS.map((event) => [event.name, event] as const))(
    '%s is backward and forward compatible with every earlier published version',
    (_name, event) => {
      const current = jsonSchemaOf(event);
      const earlier = published.filter(
        (entry) => entry.event === event.name && entry.version < event.version,
      );
      const issues = earlier.flatMap((entry) =>
        compatibilityIssues(entry.schema, current).map(
          (issue) =>
            `v${entry.version} -> v${event.version} ${issue.direction} ${issue.path}: ${issue.message}`,
        ),
      );
      expect(issues).toEqual([]);
    },
  );

  it('holds no file for an unknown event or a version ahead of the code', () => {
    const strays = published
      .filter(
        (entry) => !EVENTS.some((event) => event.name === entry.event && event.version >= entry.version),
      )
      .map((entry) => entry.file);
    expect(strays).toEqual([]);
  });

  it('publishes a catalog.json that matches the catalog', () => {
    const file = JSON.parse(readFileSync(join(SCHEMAS_DIR, 'catalog.json'), 'utf8')) as unknown;
    expect(file).toEqual(JSON.parse(JSON.stringify(catalogDocument())));
  });
});
