import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { usageError } from './cli-error';

/** The five services and the local port each listens on (`npm start`). */
export const SERVICE_PORTS = {
  'options-collector': 3101,
  'kafka-gateway': 3102,
  'cdc-listener': 3103,
  'cep-engine': 3104,
  'historical-data-manager': 3105,
} as const;

export type ServiceName = keyof typeof SERVICE_PORTS;
export const SERVICES = Object.keys(SERVICE_PORTS) as ServiceName[];

/** The short flag of each service's URL: `--gateway-url`, `--hdm-url`, ... */
export const SERVICE_URL_FLAGS: Readonly<Record<ServiceName, string>> = {
  'options-collector': 'collector-url',
  'kafka-gateway': 'gateway-url',
  'cdc-listener': 'cdc-url',
  'cep-engine': 'cep-url',
  'historical-data-manager': 'hdm-url',
};

/** `TRIBUTARY_KAFKA_GATEWAY_URL`, `TRIBUTARY_HISTORICAL_DATA_MANAGER_URL`, ... */
export function serviceUrlVariable(service: ServiceName): string {
  return `TRIBUTARY_${service.toUpperCase().replaceAll('-', '_')}_URL`;
}

/** `~/.config/tributary/config.json` (or `$TRIBUTARY_CONFIG`): the same settings as the flags. */
export interface ConfigFile {
  apiKey?: string;
  host?: string;
  urls?: Partial<Record<ServiceName, string>>;
}

/** One layer of settings: flags, environment or config file. */
interface Layer {
  apiKey?: string;
  host?: string;
  urls: Partial<Record<ServiceName, string>>;
}

export interface Endpoints {
  urls: Record<ServiceName, string>;
  apiKey?: string;
}

export type Flags = Record<string, unknown>;

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function flagLayer(flags: Flags): Layer {
  const urls: Partial<Record<ServiceName, string>> = {};
  for (const service of SERVICES) {
    // commander names `--gateway-url` gatewayUrl
    const key = SERVICE_URL_FLAGS[service].replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const url = text(flags[key]);
    if (url) urls[service] = url;
  }
  return { apiKey: text(flags['apiKey']), host: text(flags['host']), urls };
}

function envLayer(env: NodeJS.ProcessEnv): Layer {
  const urls: Partial<Record<ServiceName, string>> = {};
  for (const service of SERVICES) {
    const url = text(env[serviceUrlVariable(service)]);
    if (url) urls[service] = url;
  }
  return { apiKey: text(env['TRIBUTARY_API_KEY']), host: text(env['TRIBUTARY_HOST']), urls };
}

function fileLayer(file: ConfigFile | undefined): Layer {
  const urls: Partial<Record<ServiceName, string>> = {};
  for (const service of SERVICES) {
    const url = text(file?.urls?.[service]);
    if (url) urls[service] = url;
  }
  return { apiKey: text(file?.apiKey), host: text(file?.host), urls };
}

/** `host` (`example.com`, `10.0.0.5`, `https://ops.example.com`) with the service's port unless it names one. */
export function urlOnHost(host: string, service: ServiceName): string {
  const withScheme = /^[a-z]+:\/\//i.test(host) ? host : `http://${host}`;
  const url = new URL(withScheme);
  if (url.port === '') url.port = String(SERVICE_PORTS[service]);
  return url.origin;
}

function checkedUrl(url: string, service: ServiceName, origin: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
    return url.replace(/\/+$/, '');
  } catch {
    throw usageError(`the URL of ${service} from ${origin} is not an http(s) URL: ${JSON.stringify(url)}`);
  }
}

/**
 * Each service's URL and the key, first found wins: flags, then the environment, then the config
 * file, then the local defaults (127.0.0.1 and the service's port). Within a layer, a service's own
 * URL beats the layer's host.
 */
export function resolveEndpoints(
  flags: Flags,
  env: NodeJS.ProcessEnv,
  file: ConfigFile | undefined,
): Endpoints {
  const layers: [string, Layer][] = [
    ['the flags', flagLayer(flags)],
    ['the environment', envLayer(env)],
    ['the config file', fileLayer(file)],
  ];
  const urls = {} as Record<ServiceName, string>;
  for (const service of SERVICES) {
    urls[service] = `http://127.0.0.1:${SERVICE_PORTS[service]}`;
    for (const [origin, layer] of layers) {
      const own = layer.urls[service];
      if (own) {
        urls[service] = checkedUrl(own, service, origin);
        break;
      }
      if (layer.host) {
        try {
          urls[service] = urlOnHost(layer.host, service);
        } catch {
          throw usageError(
            `the host from ${origin} is not a host name or URL: ${JSON.stringify(layer.host)}`,
          );
        }
        break;
      }
    }
  }
  const apiKey = layers.map(([, layer]) => layer.apiKey).find((key) => key !== undefined);
  return { urls, apiKey };
}

/** Where the config file is: `--config`, `$TRIBUTARY_CONFIG`, else `$XDG_CONFIG_HOME` or `~/.config`. */
export function configPath(flags: Flags, env: NodeJS.ProcessEnv): { path: string; explicit: boolean } {
  const named = text(flags['config']) ?? text(env['TRIBUTARY_CONFIG']);
  if (named) return { path: named, explicit: true };
  const base = text(env['XDG_CONFIG_HOME']) ?? join(homedir(), '.config');
  return { path: join(base, 'tributary', 'config.json'), explicit: false };
}

/** Reads the config file; a missing default file is no config, a missing named one or bad JSON is a usage error. */
export function readConfigFile(path: string, explicit: boolean): ConfigFile | undefined {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (error) {
    if (!explicit && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw usageError(
      `cannot read the config file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw usageError(`the config file ${path} is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw usageError(`the config file ${path} must hold an object ({ "apiKey", "host", "urls" })`);
  }
  const config = parsed as Record<string, unknown>;
  const unknownKeys = Object.keys(config).filter((key) => !['apiKey', 'host', 'urls'].includes(key));
  if (unknownKeys.length > 0)
    throw usageError(`the config file ${path} has unknown settings: ${unknownKeys.join(', ')}`);
  const urls = config['urls'];
  if (urls !== undefined) {
    if (typeof urls !== 'object' || urls === null || Array.isArray(urls))
      throw usageError(`urls in ${path} must be an object`);
    const unknownServices = Object.keys(urls).filter((name) => !(SERVICES as string[]).includes(name));
    if (unknownServices.length > 0) {
      throw usageError(
        `urls in ${path} names unknown services: ${unknownServices.join(', ')} (known: ${SERVICES.join(', ')})`,
      );
    }
  }
  return config as ConfigFile;
}
