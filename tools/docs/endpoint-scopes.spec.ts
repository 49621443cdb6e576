import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { controllerRoutes, workspaceRoot } from '@tributary/testing';
import { OPEN_PATHS, REQUIRED_SCOPE } from '@tributary/service';

const APPS = ['options-collector', 'kafka-gateway', 'cdc-listener', 'cep-engine', 'historical-data-manager'];

describe.each(APPS)('the endpoint table of %s', (app) => {
  const readme = readFileSync(join(workspaceRoot, 'apps', app, 'README.md'), 'utf8');
  const rows = readme
    .slice(readme.indexOf('## Endpoints'))
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => line.split(' | '));

  it('lists every route of every controller with the scope the route requires', async () => {
    const routes = await controllerRoutes(app, { scopeKey: REQUIRED_SCOPE, openPaths: OPEN_PATHS });
    expect(routes.length).toBeGreaterThan(0);
    const wrong = routes.flatMap(({ method, path, scope, where }) => {
      const route = `${method} ${path}`;
      const row = rows.find((cells) =>
        cells[0].split(/,\s*/).some(
          (cell) =>
            cell
              .replace(/^\|\s*/, '')
              .replace(/^`|`.*$/g, '')
              .split('?')[0] === route,
        ),
      );
      if (row === undefined) return [`${route} (${where}) has no row`];
      return row[1] === scope ? [] : [`${route} (${where}) requires ${scope}, the README says ${row[1]}`];
    });
    expect(wrong).toEqual([]);
  });
});
