import 'reflect-metadata';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PATH_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import { OPEN_PATHS, REQUIRED_SCOPE, type RequiredScope } from '@tributary/service';

const APPS = ['options-collector', 'kafka-gateway', 'cdc-listener', 'cep-engine', 'historical-data-manager'];
const ROOT = join(__dirname, '../..');

function controllerFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return controllerFiles(path);
    return entry.name.endsWith('.controller.ts') ? [path] : [];
  });
}

/** How the README writes a route's scope: the scope in backquotes, `any credential` or `none`. */
function documented(required: RequiredScope | undefined): string {
  if (required === undefined) return '`admin`';
  if (required === 'authenticated') return 'any credential';
  if (typeof required === 'string') return `\`${required}\``;
  // A scope built from the request is shown with its path parameters as <name>.
  const params = new Proxy({}, { get: (_target, name) => `<${String(name)}>` }) as Record<string, string>;
  return `\`${required({ params })}\``;
}

interface Route {
  readonly route: string;
  readonly scope: string;
  readonly where: string;
}

async function routesOf(app: string): Promise<Route[]> {
  const routes: Route[] = [];
  for (const file of controllerFiles(join(ROOT, 'apps', app, 'src'))) {
    const module = (await import(file)) as Record<string, unknown>;
    for (const exported of Object.values(module)) {
      if (typeof exported !== 'function' || Reflect.getMetadata(PATH_METADATA, exported) === undefined) continue;
      const prefix = String(Reflect.getMetadata(PATH_METADATA, exported));
      for (let proto = exported.prototype as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
        for (const name of Object.getOwnPropertyNames(proto)) {
          const handler = (proto as Record<string, unknown>)[name];
          if (typeof handler !== 'function' || Reflect.getMetadata(METHOD_METADATA, handler) === undefined) continue;
          const path = `/${[prefix, String(Reflect.getMetadata(PATH_METADATA, handler))].filter((part) => part !== '' && part !== '/').join('/')}`.replace(/\/+/g, '/');
          const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
          const required = (Reflect.getMetadata(REQUIRED_SCOPE, handler) ?? Reflect.getMetadata(REQUIRED_SCOPE, exported)) as RequiredScope | undefined;
          routes.push({
            route: `${method} ${path}`,
            scope: OPEN_PATHS.includes(path) ? 'none' : documented(required),
            where: `${relative(ROOT, file)} ${name}`,
          });
        }
      }
    }
  }
  return routes;
}

describe.each(APPS)('the endpoint table of %s', (app) => {
  const readme = readFileSync(join(ROOT, 'apps', app, 'README.md'), 'utf8');
  const rows = readme
    .slice(readme.indexOf('## Endpoints'))
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => line.split(' | '));

  it('lists every route of every controller with the scope the route requires', async () => {
    const routes = await routesOf(app);
    expect(routes.length).toBeGreaterThan(0);
    const wrong = routes.flatMap(({ route, scope, where }) => {
      const row = rows.find((cells) => cells[0].split(/,\s*/).some((cell) => cell.replace(/^\|\s*/, '').replace(/^`|`.*$/g, '').split('?')[0] === route));
      if (row === undefined) return [`${route} (${where}) has no row`];
      return row[1] === scope ? [] : [`${route} (${where}) requires ${scope}, the README says ${row[1]}`];
    });
    expect(wrong).toEqual([]);
  });
});
