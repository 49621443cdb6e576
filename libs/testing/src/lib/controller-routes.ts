import 'reflect-metadata';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { workspaceRoot } from './infra-env';

/** One HTTP route of a service, read from its controllers' metadata. */
export interface ControllerRoute {
  readonly method: string;
  /** The path with its parameters, e.g. `/v1/datasets/:dataset/rows`. */
  readonly path: string;
  /** `none` (open), `any credential`, or the scope in backquotes as the README writes it (`read:history.<dataset>`). */
  readonly scope: string;
  /** File and handler, for messages. */
  readonly where: string;
}

function controllerFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return controllerFiles(path);
    return entry.name.endsWith('.controller.ts') ? [path] : [];
  });
}

/** What a route's scope metadata holds: a scope, `authenticated`, or a function of the request. */
type RequiredScope = string | ((request: { params?: Record<string, string> }) => string);

/** Where the services keep a route's scope, and the paths open to all (from `@tributary/service`). */
export interface RouteScopeMetadata {
  readonly scopeKey: string;
  readonly openPaths: readonly string[];
}

function documented(required: RequiredScope | undefined): string {
  if (required === undefined) return '`admin`';
  if (required === 'authenticated') return 'any credential';
  if (typeof required === 'string') return `\`${required}\``;
  // A scope built from the request is shown with its path parameters as <name>.
  const params = new Proxy({}, { get: (_target, name) => `<${String(name)}>` }) as Record<string, string>;
  return `\`${required({ params })}\``;
}

/**
 * Every route of the `*.controller.ts` files of `apps/<app>/src`, inherited handlers included.
 * The metadata names come from the caller, as this library sits below `@tributary/service`.
 */
export async function controllerRoutes(
  app: string,
  { scopeKey, openPaths }: RouteScopeMetadata,
): Promise<ControllerRoute[]> {
  const routes: ControllerRoute[] = [];
  for (const file of controllerFiles(join(workspaceRoot, 'apps', app, 'src'))) {
    const module = (await import(file)) as Record<string, unknown>;
    for (const exported of Object.values(module)) {
      if (typeof exported !== 'function' || Reflect.getMetadata(PATH_METADATA, exported) === undefined)
        continue;
      const prefix = String(Reflect.getMetadata(PATH_METADATA, exported));
      for (
        let proto = exported.prototype as object | null;
        proto && proto !== Object.prototype;
        proto = Object.getPrototypeOf(proto) as object | null
      ) {
        for (const name of Object.getOwnPropertyNames(proto)) {
          const handler = (proto as Record<string, unknown>)[name];
          if (typeof handler !== 'function' || Reflect.getMetadata(METHOD_METADATA, handler) === undefined)
            continue;
          const path = `/${[prefix, String(Reflect.getMetadata(PATH_METADATA, handler))].filter((part) => part !== '' && part !== '/').join('/')}`;
          const required = (Reflect.getMetadata(scopeKey, handler) ??
            Reflect.getMetadata(scopeKey, exported)) as RequiredScope | undefined;
          routes.push({
            method: RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number],
            path: path.replace(/\/+/g, '/'),
            scope: openPaths.includes(path) ? 'none' : documented(required),
            where: `${relative(workspaceRoot, file)} ${name}`,
          });
        }
      }
    }
  }
  return routes;
}
