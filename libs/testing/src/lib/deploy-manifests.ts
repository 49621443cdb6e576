import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { EnvSpec } from '@tributary/config';

/** One service whose shipping files are checked against the code that reads them. */
export interface ServiceManifestTarget {
  /** Folder name of the app: `apps/<app>`, `k8s/<app>/` and the service of that name in `docker/compose.yaml`. */
  readonly app: string;
  /** The app's default HTTP port (health, metrics and APIs). */
  readonly port: number;
  /** The environment spec the app validates at boot (`apps/<app>/src/config.ts`). */
  readonly envSpec: EnvSpec;
  /** Repository root holding `k8s/` and `docker/`. */
  readonly workspaceRoot: string;
}

/**
 * Reads `k8s/<app>/*.yaml` (as `kubectl apply -f k8s/<app>/` would) and the app's service in
 * `docker/compose.yaml`, and lists every way they disagree with the app: ports, health probes,
 * environment variable names, required and secret variables, values the app would refuse at
 * boot, and a grace period too short for a clean shutdown. An empty list means they agree.
 */
export function checkServiceManifests(target: ServiceManifestTarget): string[] {
  const problems: string[] = [];
  const audit = new ManifestAudit(target, problems);
  audit.checkKubernetes();
  audit.checkCompose();
  return problems;
}

/** Variables read by Node.js itself rather than by the app; manifests may set them too. */
const NODE_RUNTIME_VARIABLES = new Set([
  'NODE_ENV',
  'NODE_OPTIONS',
  'NODE_EXTRA_CA_CERTS',
  'TZ',
  'UV_THREADPOOL_SIZE',
]);

/** Kubernetes' own default when a pod spec does not set terminationGracePeriodSeconds. */
const DEFAULT_GRACE_PERIOD_SECONDS = 30;

/** Compose sends SIGKILL this long after SIGTERM unless the service sets stop_grace_period. */
const DEFAULT_COMPOSE_STOP_GRACE_MS = 10_000;

const PROBES = [
  { field: 'livenessProbe', paths: ['/health/live'] },
  { field: 'readinessProbe', paths: ['/health/ready'] },
  { field: 'startupProbe', paths: ['/health/live', '/health/ready'] },
] as const;

type YamlMap = Record<string, unknown>;

interface Manifest {
  readonly file: string;
  readonly kind: string;
  readonly name: string;
  readonly body: YamlMap;
}

/** How the Deployment gives one variable to the container. */
interface ProvidedVariable {
  /** Literal value, when the manifests show it (explicit `value:` or a ConfigMap key). */
  readonly value?: string;
  /** Where it comes from, for messages. */
  readonly source: string;
  /** The file that sets it, when not the one being checked (a ConfigMap's own file). */
  readonly file?: string;
  /** True when the container may start without it (an optional Secret or ConfigMap reference). */
  readonly optional: boolean;
}

class ManifestAudit {
  private readonly variableNames: string[];

  constructor(
    private readonly target: ServiceManifestTarget,
    private readonly problems: string[],
  ) {
    this.variableNames = Object.keys(target.envSpec);
  }

  checkKubernetes(): void {
    const folder = join(this.target.workspaceRoot, 'k8s', this.target.app);
    const folderName = this.display(folder) + '/';
    if (!existsSync(folder)) {
      this.report(folderName, 'is missing');
      return;
    }
    const manifests = this.loadManifests(folder);
    const deployments = manifests.filter((manifest) => manifest.kind === 'Deployment');
    if (deployments.length !== 1) {
      this.report(folderName, `expected exactly one Deployment, found ${deployments.length}`);
      if (deployments.length === 0) return;
    }
    const deployment = deployments[0];
    const podSpec = asMap(at(deployment.body, 'spec', 'template', 'spec'));
    const containers = asList(podSpec?.['containers']);
    if (!podSpec || containers.length !== 1) {
      this.report(deployment.file, `expected one container in the pod template, found ${containers.length}`);
      if (!podSpec || containers.length === 0) return;
    }
    const container = asMap(containers[0]) ?? {};
    const namedPorts = this.checkContainerPort(deployment, container);
    this.checkProbes(deployment, container, namedPorts);
    this.checkServices(deployment, manifests, namedPorts);

    const configMaps = manifests.filter((manifest) => manifest.kind === 'ConfigMap');
    for (const configMap of configMaps) this.checkNoSecretsIn(configMap);
    const provided = this.collectKubernetesVariables(deployment, container, configMaps, manifests);
    this.checkVariables(deployment.file, provided);
    this.checkListenPort(deployment.file, provided, namedPorts.get('http'));
    this.checkGracePeriod(deployment, podSpec, container, provided);
  }

  checkCompose(): void {
    const file = join(this.target.workspaceRoot, 'docker', 'compose.yaml');
    const name = this.display(file);
    if (!existsSync(file)) {
      this.report(name, 'is missing');
      return;
    }
    const documents = parseAllDocuments(readFileSync(file, 'utf8'), { merge: true });
    const document = Array.isArray(documents) ? documents[0] : undefined;
    if (!document) {
      this.report(name, 'is empty');
      return;
    }
    if (document.errors.length > 0) {
      this.report(name, `is not valid YAML: ${document.errors[0].message}`);
      return;
    }
    const service = asMap(at(document.toJS(), 'services', this.target.app));
    if (!service) {
      this.report(name, `has no service named ${this.target.app}`);
      return;
    }
    const where = `${name} (service ${this.target.app})`;

    const buildArgs = keyValues(at(service, 'build', 'args'));
    if (service['build'] !== undefined && buildArgs.get('APP') !== this.target.app) {
      this.report(where, `builds APP=${buildArgs.get('APP') ?? '(unset)'}, expected APP=${this.target.app}`);
    }

    const provided = new Map<string, ProvidedVariable>();
    for (const [variable, value] of keyValues(service['environment'])) {
      provided.set(variable, { value, source: 'environment', optional: false });
    }
    this.checkVariables(where, provided);

    const port = provided.get('PORT')?.value;
    if (port !== undefined && !port.includes('$') && Number(port) !== this.target.port) {
      this.report(where, `sets PORT=${port}, but ${this.target.app} listens on ${this.target.port}`);
    }
    const shutdownMs = this.shutdownTimeoutMs(provided);
    const gracePeriod = asText(service['stop_grace_period']);
    const graceMs =
      gracePeriod === undefined ? DEFAULT_COMPOSE_STOP_GRACE_MS : composeDurationMs(gracePeriod);
    if (graceMs === undefined) {
      this.report(where, `stop_grace_period ${JSON.stringify(gracePeriod)} is not a duration`);
    } else if (shutdownMs !== undefined && graceMs <= shutdownMs) {
      this.report(
        where,
        `stop_grace_period ${gracePeriod ?? '10s (the default)'} does not outlast SHUTDOWN_TIMEOUT_MS ${shutdownMs}`,
      );
    }
    const published = asList(service['ports']).map(containerSideOfPortMapping);
    if (!published.includes(this.target.port)) {
      this.report(
        where,
        `publishes no host port for the container's port ${this.target.port} (ports: ${JSON.stringify(service['ports'] ?? [])})`,
      );
    }
  }

  /** Parses every YAML document of the folder; reports files that do not parse. */
  private loadManifests(folder: string): Manifest[] {
    const manifests: Manifest[] = [];
    const files = readdirSync(folder)
      .filter((entry) => /\.ya?ml$/.test(entry))
      .sort();
    for (const entry of files) {
      const file = this.display(join(folder, entry));
      for (const document of parseAllDocuments(readFileSync(join(folder, entry), 'utf8'))) {
        if (document.errors.length > 0) {
          this.report(file, `is not valid YAML: ${document.errors[0].message}`);
          continue;
        }
        const body = asMap(document.toJS());
        if (!body) continue;
        manifests.push({
          file,
          kind: asText(body['kind']) ?? '',
          name: asText(at(body, 'metadata', 'name')) ?? '',
          body,
        });
      }
    }
    return manifests;
  }

  /** Returns the container's named ports; the one named `http` must be the app's port. */
  private checkContainerPort(deployment: Manifest, container: YamlMap): Map<string, number> {
    const namedPorts = new Map<string, number>();
    for (const entry of asList(container['ports'])) {
      const name = asText(at(entry, 'name'));
      const number = at(entry, 'containerPort');
      if (name !== undefined && typeof number === 'number') namedPorts.set(name, number);
    }
    const http = namedPorts.get('http');
    if (http === undefined) {
      this.report(
        deployment.file,
        `has no container port named http (expected containerPort ${this.target.port})`,
      );
    } else if (http !== this.target.port) {
      this.report(
        deployment.file,
        `container port http is ${http}, but ${this.target.app} listens on ${this.target.port}`,
      );
    }
    return namedPorts;
  }

  private checkProbes(deployment: Manifest, container: YamlMap, namedPorts: Map<string, number>): void {
    for (const { field, paths } of PROBES) {
      const probe = asMap(container[field]);
      if (!probe) {
        this.report(deployment.file, `has no ${field}`);
        continue;
      }
      const httpGet = asMap(probe['httpGet']);
      if (!httpGet) {
        this.report(deployment.file, `${field} is not an httpGet probe on ${paths.join(' or ')}`);
        continue;
      }
      const path = asText(httpGet['path']) ?? '/';
      if (!(paths as readonly string[]).includes(path)) {
        this.report(deployment.file, `${field} requests ${path}, expected ${paths.join(' or ')}`);
      }
      const port = resolvePort(httpGet['port'], namedPorts);
      if (port !== this.target.port) {
        this.report(
          deployment.file,
          `${field} targets port ${JSON.stringify(httpGet['port'])}${port === undefined ? ' (not a container port)' : ` (${port})`}, expected ${this.target.port}`,
        );
      }
    }
  }

  private checkServices(deployment: Manifest, manifests: Manifest[], namedPorts: Map<string, number>): void {
    const services = manifests.filter((manifest) => manifest.kind === 'Service');
    if (services.length === 0) {
      this.report(
        this.display(join(this.target.workspaceRoot, 'k8s', this.target.app)) + '/',
        'has no Service',
      );
      return;
    }
    const podLabels = asMap(at(deployment.body, 'spec', 'template', 'metadata', 'labels')) ?? {};
    for (const service of services) {
      const selector = asMap(at(service.body, 'spec', 'selector')) ?? {};
      const selects =
        Object.keys(selector).length > 0 &&
        Object.entries(selector).every(([key, value]) => podLabels[key] === value);
      if (!selects) {
        this.report(
          service.file,
          `Service ${service.name} selector ${JSON.stringify(selector)} does not match the pods of Deployment ${deployment.name}`,
        );
      }
      const targets = asList(at(service.body, 'spec', 'ports')).map((entry) => {
        const targetPort = at(entry, 'targetPort') ?? at(entry, 'port');
        return { shown: JSON.stringify(targetPort), port: resolvePort(targetPort, namedPorts) };
      });
      if (!targets.some((entry) => entry.port === this.target.port)) {
        this.report(
          service.file,
          `Service ${service.name} routes to ${targets.map((entry) => entry.shown).join(', ') || 'no port'}, not to port ${this.target.port}`,
        );
      }
    }
  }

  private checkNoSecretsIn(configMap: Manifest): void {
    for (const key of Object.keys(asMap(configMap.body['data']) ?? {})) {
      if (this.target.envSpec[key]?.secret) {
        this.report(
          configMap.file,
          `ConfigMap ${configMap.name} holds the secret variable ${key}; take it from a Secret`,
        );
      }
    }
  }

  /** The variables the container gets, with Kubernetes' precedence: `env` over `envFrom`, later over earlier. */
  private collectKubernetesVariables(
    deployment: Manifest,
    container: YamlMap,
    configMaps: Manifest[],
    manifests: Manifest[],
  ): Map<string, ProvidedVariable> {
    const provided = new Map<string, ProvidedVariable>();
    const secrets = manifests.filter((manifest) => manifest.kind === 'Secret');
    for (const source of asList(container['envFrom'])) {
      const prefix = asText(at(source, 'prefix')) ?? '';
      for (const [refField, kind, candidates] of [
        ['configMapRef', 'ConfigMap', configMaps],
        ['secretRef', 'Secret', secrets],
      ] as const) {
        const ref = asMap(at(source, refField));
        if (!ref) continue;
        const name = asText(ref['name']) ?? '';
        const optional = ref['optional'] === true;
        const found = candidates.find((manifest) => manifest.name === name);
        if (!found) {
          // A Secret is created apart from the manifests, so its keys cannot be known here.
          if (kind === 'ConfigMap' && !optional) {
            this.report(
              deployment.file,
              `envFrom names ConfigMap ${name}, which is not in k8s/${this.target.app}/`,
            );
          }
          continue;
        }
        for (const [key, value] of Object.entries({
          ...asMap(found.body['data']),
          ...asMap(found.body['stringData']),
        })) {
          const shown = kind === 'ConfigMap' ? asText(value) : undefined;
          provided.set(prefix + key, { value: shown, source: `${kind} ${name}`, file: found.file, optional });
        }
      }
    }
    for (const entry of asList(container['env'])) {
      const name = asText(at(entry, 'name'));
      if (name === undefined) continue;
      const valueFrom = asMap(at(entry, 'valueFrom'));
      if (!valueFrom) {
        if (this.target.envSpec[name]?.secret) {
          this.report(
            deployment.file,
            `sets the secret variable ${name} as a plain value; take it from a Secret (secretKeyRef)`,
          );
        }
        provided.set(name, { value: asText(at(entry, 'value')) ?? '', source: 'env', optional: false });
        continue;
      }
      const secretKey = asMap(valueFrom['secretKeyRef']);
      const configMapKey = asMap(valueFrom['configMapKeyRef']);
      if (secretKey) {
        provided.set(name, {
          source: `Secret ${asText(secretKey['name'])}`,
          optional: secretKey['optional'] === true,
        });
      } else if (configMapKey) {
        if (this.target.envSpec[name]?.secret) {
          this.report(
            deployment.file,
            `takes the secret variable ${name} from a ConfigMap; take it from a Secret (secretKeyRef)`,
          );
        }
        const configMap = configMaps.find((manifest) => manifest.name === asText(configMapKey['name']));
        const key = asText(configMapKey['key']) ?? '';
        provided.set(name, {
          value: configMap ? asText(at(configMap.body, 'data', key)) : undefined,
          source: `ConfigMap ${asText(configMapKey['name'])}`,
          optional: configMapKey['optional'] === true,
        });
      } else {
        provided.set(name, { source: 'env', optional: false });
      }
    }
    return provided;
  }

  /** Names the app does not read, required variables nobody sets, and values the app would refuse. */
  private checkVariables(where: string, provided: Map<string, ProvidedVariable>): void {
    for (const [name, { value, source, file }] of provided) {
      const variable = this.target.envSpec[name];
      if (!variable) {
        if (!NODE_RUNTIME_VARIABLES.has(name)) {
          const hint = closestName(name, this.variableNames);
          this.report(
            file ?? where,
            `${source} sets ${name}, which ${this.target.app} does not read${hint ? ` (did you mean ${hint}?)` : ''}`,
          );
        }
        continue;
      }
      // `$(VAR)` (Kubernetes) and `${VAR}` (compose) are filled in later; their result cannot be checked here.
      if (value === undefined || value.includes('$')) continue;
      const trimmed = value.trim();
      try {
        variable.parse(trimmed === '' ? variable.defaultValue : trimmed);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        const shown = variable.secret ? '' : ` (${JSON.stringify(value)})`;
        this.report(
          file ?? where,
          `${source} sets ${name}${shown}, which ${this.target.app} refuses: ${reason}`,
        );
      }
    }
    for (const [name, variable] of Object.entries(this.target.envSpec)) {
      if (!variable.required) continue;
      const given = provided.get(name);
      if (!given) {
        this.report(where, `does not provide ${name}, which ${this.target.app} requires`);
      } else if (given.optional) {
        this.report(where, `takes the required ${name} from an optional reference (${given.source})`);
      }
    }
  }

  /** PORT, when the manifests set it, must be the port the probes and the Service use. */
  private checkListenPort(
    file: string,
    provided: Map<string, ProvidedVariable>,
    containerPort: number | undefined,
  ): void {
    const port = provided.get('PORT');
    if (port?.value !== undefined && !port.value.includes('$')) {
      if (Number(port.value) !== containerPort) {
        this.report(
          port.file ?? file,
          `${port.source} sets PORT=${port.value}, but the container port http is ${containerPort ?? '(missing)'}`,
        );
      }
      return;
    }
    const defaultPort = this.target.envSpec['PORT']?.defaultValue;
    if (!port && defaultPort !== undefined && Number(defaultPort) !== containerPort) {
      this.report(
        file,
        `leaves PORT at its default ${defaultPort}, but the container port http is ${containerPort ?? '(missing)'}`,
      );
    }
  }

  /** Kubernetes sends SIGKILL after the grace period: it must outlast the preStop pause plus the app's own shutdown. */
  private checkGracePeriod(
    deployment: Manifest,
    podSpec: YamlMap | undefined,
    container: YamlMap,
    provided: Map<string, ProvidedVariable>,
  ): void {
    const shutdownMs = this.shutdownTimeoutMs(provided);
    if (shutdownMs === undefined) return;
    const grace = podSpec?.['terminationGracePeriodSeconds'];
    const graceSeconds = typeof grace === 'number' ? grace : DEFAULT_GRACE_PERIOD_SECONDS;
    const preStopMs = preStopPauseSeconds(container) * 1000;
    if (graceSeconds * 1000 <= shutdownMs + preStopMs) {
      this.report(
        deployment.file,
        `terminationGracePeriodSeconds ${graceSeconds} does not outlast SHUTDOWN_TIMEOUT_MS ${shutdownMs}` +
          (preStopMs > 0 ? ` plus the preStop pause of ${preStopMs} ms` : ''),
      );
    }
  }

  /** SHUTDOWN_TIMEOUT_MS as the app will read it, when it has one and the value is valid. */
  private shutdownTimeoutMs(provided: Map<string, ProvidedVariable>): number | undefined {
    const variable = this.target.envSpec['SHUTDOWN_TIMEOUT_MS'];
    if (!variable) return undefined;
    const raw = provided.get('SHUTDOWN_TIMEOUT_MS')?.value?.trim() || variable.defaultValue;
    try {
      const value = variable.parse(raw);
      return typeof value === 'number' ? value : undefined;
    } catch {
      return undefined; // reported as a refused value
    }
  }

  private report(where: string, message: string): void {
    this.problems.push(`${where}: ${message}`);
  }

  private display(path: string): string {
    return relative(this.target.workspaceRoot, path).split(sep).join('/');
  }
}

function asMap(value: unknown): YamlMap | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as YamlMap)
    : undefined;
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function asText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function at(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) current = asMap(current)?.[key];
  return current;
}

/** A port given by number or by the name of a container port. */
function resolvePort(port: unknown, namedPorts: Map<string, number>): number | undefined {
  if (typeof port === 'number') return port;
  if (typeof port === 'string') return /^\d+$/.test(port) ? Number(port) : namedPorts.get(port);
  return undefined;
}

/** Compose `environment:` / `args:` in either form: a map, or a list of `KEY=value` (a bare `KEY` passes the host's value). */
function keyValues(value: unknown): Map<string, string | undefined> {
  const entries = new Map<string, string | undefined>();
  const map = asMap(value);
  if (map) {
    for (const [key, item] of Object.entries(map)) entries.set(key, item === null ? undefined : asText(item));
    return entries;
  }
  for (const item of asList(value)) {
    const text = asText(item);
    if (text === undefined) continue;
    const equals = text.indexOf('=');
    if (equals < 0) entries.set(text, undefined);
    else entries.set(text.slice(0, equals), text.slice(equals + 1));
  }
  return entries;
}

/** The container side of a compose port: `"3101:3101"`, `"127.0.0.1:3101:3101/tcp"`, `3101` or `{ target: 3101 }`. */
function containerSideOfPortMapping(mapping: unknown): number | undefined {
  const target = at(mapping, 'target');
  if (target !== undefined) return Number(target);
  const text = asText(mapping);
  if (text === undefined) return undefined;
  const last =
    text
      .replace(/\/(tcp|udp)$/, '')
      .split(':')
      .pop() ?? '';
  return /^\d+$/.test(last) ? Number(last) : undefined;
}

/** A compose duration such as `35s`, `1m30s` or `500ms`, in milliseconds. */
function composeDurationMs(text: string): number | undefined {
  const units: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.trim().matchAll(/(\d+(?:\.\d+)?)(us|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text.trim()) return undefined;
  return parts.reduce((total, part) => total + Number(part[1]) * units[part[2]], 0);
}

/** Seconds a `preStop` hook sleeps before the app sees SIGTERM (`exec: sleep N` or the `sleep` action). */
function preStopPauseSeconds(container: YamlMap): number {
  const preStop = at(container, 'lifecycle', 'preStop');
  const sleepAction = at(preStop, 'sleep', 'seconds');
  if (typeof sleepAction === 'number') return sleepAction;
  const command = asList(at(preStop, 'exec', 'command')).map(asText);
  const seconds = command[0] === 'sleep' || command[0]?.endsWith('/sleep') ? Number(command[1]) : NaN;
  return Number.isFinite(seconds) ? seconds : 0;
}

/** The known name within two edits of a misspelt one, for a helpful message. */
function closestName(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}

/** One object of the Kustomize base in `k8s/`, with the file it comes from. */
export interface KubernetesObject {
  /** Path from the repository root, e.g. `k8s/cep-engine/deployment.yaml`. */
  readonly file: string;
  readonly kind: string;
  readonly name: string;
  readonly body: Record<string, unknown>;
}

/**
 * Reads every resource `k8s/kustomization.yaml` lists, as `kubectl apply -k k8s/` would apply them.
 * Problems: a listed file that is missing or is not valid YAML, and a manifest under `k8s/` the
 * kustomization leaves out (it would never be applied with the rest).
 */
export function loadKustomization(workspaceRoot: string): {
  objects: KubernetesObject[];
  problems: string[];
} {
  const problems: string[] = [];
  const objects: KubernetesObject[] = [];
  const base = join(workspaceRoot, 'k8s');
  const kustomization = join(base, 'kustomization.yaml');
  if (!existsSync(kustomization)) return { objects, problems: ['k8s/kustomization.yaml: is missing'] };
  const listed = asList(at(parseYamlFile(kustomization, 'k8s/kustomization.yaml', problems)[0], 'resources'))
    .map(asText)
    .filter((entry): entry is string => entry !== undefined);
  for (const resource of listed) {
    const file = `k8s/${resource}`;
    if (!existsSync(join(base, resource))) {
      problems.push(`k8s/kustomization.yaml: lists ${resource}, which does not exist`);
      continue;
    }
    for (const body of parseYamlFile(join(base, resource), file, problems)) {
      const map = asMap(body);
      if (!map) continue;
      objects.push({
        file,
        kind: asText(map['kind']) ?? '',
        name: asText(at(map, 'metadata', 'name')) ?? '',
        body: map,
      });
    }
  }
  for (const file of yamlFilesUnder(base, '')) {
    if (file !== 'kustomization.yaml' && !listed.includes(file)) {
      problems.push(`k8s/${file}: is not listed in k8s/kustomization.yaml`);
    }
  }
  return { objects, problems };
}

/**
 * Lists what makes the Kustomize base unsafe to run: a file it cannot read, no default-deny
 * NetworkPolicy, a Deployment without a NetworkPolicy or without a PodDisruptionBudget (or with one
 * that lets no pod be evicted, so a node drain waits forever), a pod that may run as root, write to
 * its root filesystem, keep capabilities or mount a service-account token, an unbounded emptyDir,
 * and a ConfigMap that runs the market simulator. An empty list means none of these.
 */
export function checkClusterManifests(workspaceRoot: string): string[] {
  const { objects, problems } = loadKustomization(workspaceRoot);
  const report = (object: KubernetesObject, message: string) =>
    problems.push(`${object.file}: ${object.kind} ${object.name} ${message}`);
  const policies = objects.filter((object) => object.kind === 'NetworkPolicy');
  if (!policies.some(isDefaultDeny)) {
    problems.push(
      'k8s/: no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and Egress, no rules)',
    );
  }
  for (const deployment of objects.filter((object) => object.kind === 'Deployment')) {
    const podLabels = asMap(at(deployment.body, 'spec', 'template', 'metadata', 'labels')) ?? {};
    const replicas = numberOr(at(deployment.body, 'spec', 'replicas'), 1);
    const budgets = objects.filter(
      (object) =>
        object.kind === 'PodDisruptionBudget' && selectsPods(at(object.body, 'spec', 'selector'), podLabels),
    );
    if (budgets.length === 0) report(deployment, 'has no PodDisruptionBudget');
    for (const budget of budgets) {
      if (evictionsAllowed(asMap(budget.body['spec']) ?? {}, replicas) < 1) {
        report(
          budget,
          `lets no pod of Deployment ${deployment.name} (${replicas} replica${replicas === 1 ? '' : 's'}) be evicted: a node drain would wait forever`,
        );
      }
    }
    const guarded = policies.some(
      (policy) =>
        !isDefaultDeny(policy) &&
        Object.keys(asMap(at(policy.body, 'spec', 'podSelector', 'matchLabels')) ?? {}).length > 0 &&
        selectsPods(at(policy.body, 'spec', 'podSelector'), podLabels),
    );
    if (!guarded) report(deployment, 'has no NetworkPolicy of its own selecting its pods');
    for (const message of podSecurityProblems(asMap(at(deployment.body, 'spec', 'template', 'spec')) ?? {})) {
      report(deployment, message);
    }
  }
  for (const configMap of objects.filter((object) => object.kind === 'ConfigMap')) {
    const data = asMap(configMap.body['data']) ?? {};
    if (asText(data['MARKET_SOURCE']) === 'simulator')
      report(configMap, 'runs the market simulator (MARKET_SOURCE=simulator)');
    const simulatorKeys = Object.keys(data).filter((key) => key.startsWith('SIMULATOR_'));
    if (simulatorKeys.length > 0)
      report(configMap, `configures the market simulator (${simulatorKeys.join(', ')})`);
  }
  return problems;
}

/** The traffic the NetworkPolicies let in and out of one service's pods, one `peer: protocol/port` line per flow, sorted. */
export function networkFlows(
  objects: readonly KubernetesObject[],
  app: string,
): { ingress: string[]; egress: string[] } {
  const deployment = objects.find((object) => object.kind === 'Deployment' && object.name === app);
  const podLabels = asMap(at(deployment?.body, 'spec', 'template', 'metadata', 'labels')) ?? {};
  const ingress = new Set<string>();
  const egress = new Set<string>();
  for (const policy of objects.filter((object) => object.kind === 'NetworkPolicy')) {
    const spec = asMap(policy.body['spec']) ?? {};
    if (!deployment || !selectsPods(spec['podSelector'], podLabels)) continue;
    for (const [field, peersField, flows] of [
      ['ingress', 'from', ingress],
      ['egress', 'to', egress],
    ] as const) {
      for (const rule of asList(spec[field])) {
        const peers = asList(at(rule, peersField));
        const ports = asList(at(rule, 'ports'));
        for (const peer of peers.length > 0 ? peers.map(describePeer) : ['anywhere']) {
          for (const port of ports.length > 0 ? ports.map(describePort) : ['any port'])
            flows.add(`${peer}: ${port}`);
        }
      }
    }
  }
  return { ingress: [...ingress].sort(), egress: [...egress].sort() };
}

/**
 * How one service reaches Kafka, as its Deployment and ConfigMaps set it: each variable shown as its
 * value or as the Secret key it comes from, and where the CA file named by KAFKA_TLS_CA_FILE is mounted from.
 */
export function kafkaClientSettings(
  objects: readonly KubernetesObject[],
  app: string,
): Record<string, string | undefined> {
  const deployment = objects.find((object) => object.kind === 'Deployment' && object.name === app);
  const podSpec = asMap(at(deployment?.body, 'spec', 'template', 'spec')) ?? {};
  const container = asMap(asList(podSpec['containers'])[0]) ?? {};
  const variable = (name: string) => describeVariable(objects, container, name);
  const caFile = variable('KAFKA_TLS_CA_FILE');
  return {
    KAFKA_BROKERS: variable('KAFKA_BROKERS'),
    KAFKA_TLS: variable('KAFKA_TLS'),
    KAFKA_SASL_MECHANISM: variable('KAFKA_SASL_MECHANISM'),
    KAFKA_SASL_USERNAME: variable('KAFKA_SASL_USERNAME'),
    KAFKA_SASL_PASSWORD: variable('KAFKA_SASL_PASSWORD'),
    KAFKA_TLS_CA_FILE: caFile,
    'CA file': caFile === undefined ? undefined : mountedFileSource(podSpec, container, caFile),
  };
}

/** One variable of a container: its literal value, or `Secret <name> key <key>` (`optional` when it may be absent). */
export function describeVariable(
  objects: readonly KubernetesObject[],
  container: Record<string, unknown>,
  name: string,
): string | undefined {
  const entry = asList(container['env']).find((item) => at(item, 'name') === name);
  if (entry !== undefined) {
    const secret = asMap(at(entry, 'valueFrom', 'secretKeyRef'));
    const configMap = asMap(at(entry, 'valueFrom', 'configMapKeyRef'));
    const ref = secret ?? configMap;
    if (ref) {
      const optional = ref['optional'] === true ? ' (optional)' : '';
      return `${secret ? 'Secret' : 'ConfigMap'} ${asText(ref['name'])} key ${asText(ref['key'])}${optional}`;
    }
    return asText(at(entry, 'value')) ?? '';
  }
  let found: string | undefined;
  for (const source of asList(container['envFrom'])) {
    const configMapName = asText(at(source, 'configMapRef', 'name'));
    const configMap = objects.find((object) => object.kind === 'ConfigMap' && object.name === configMapName);
    const value = asText(at(configMap?.body, 'data', name));
    if (value !== undefined) found = value; // a later source wins; a Secret's keys are not in the manifests
  }
  return found;
}

function parseYamlFile(path: string, shown: string, problems: string[]): unknown[] {
  const bodies: unknown[] = [];
  for (const document of parseAllDocuments(readFileSync(path, 'utf8'))) {
    if (document.errors.length > 0) {
      problems.push(`${shown}: is not valid YAML: ${document.errors[0].message}`);
      continue;
    }
    const body = document.toJS();
    if (body !== null && body !== undefined) bodies.push(body);
  }
  return bodies;
}

/**
 * The YAML files of a kustomization folder, skipping subfolders with their own kustomization.yaml
 * (k8s/kafka/, k8s/overlays/<env>/): those are applied on their own with `kubectl apply -k`.
 */
function yamlFilesUnder(folder: string, prefix: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (existsSync(join(folder, entry.name, 'kustomization.yaml'))) continue;
      files.push(...yamlFilesUnder(join(folder, entry.name), `${prefix}${entry.name}/`));
    } else if (/\.ya?ml$/.test(entry.name)) files.push(prefix + entry.name);
  }
  return files.sort();
}

function isDefaultDeny(policy: KubernetesObject): boolean {
  const spec = asMap(policy.body['spec']) ?? {};
  const selector = asMap(spec['podSelector']);
  const types = asList(spec['policyTypes']);
  return (
    selector !== undefined &&
    Object.keys(asMap(selector['matchLabels']) ?? {}).length === 0 &&
    asList(selector['matchExpressions']).length === 0 &&
    types.includes('Ingress') &&
    types.includes('Egress') &&
    asList(spec['ingress']).length === 0 &&
    asList(spec['egress']).length === 0
  );
}

/** A label selector (matchLabels and matchExpressions) against the labels of a pod. */
function selectsPods(selector: unknown, podLabels: Record<string, unknown>): boolean {
  const map = asMap(selector);
  if (!map) return false;
  const matchLabels = Object.entries(asMap(map['matchLabels']) ?? {});
  const labelsMatch = matchLabels.every(([key, value]) => podLabels[key] === value);
  const expressionsMatch = asList(map['matchExpressions']).every((expression) => {
    const key = asText(at(expression, 'key')) ?? '';
    const values = asList(at(expression, 'values')).map(asText);
    const present = key in podLabels;
    switch (asText(at(expression, 'operator'))) {
      case 'In':
        return present && values.includes(asText(podLabels[key]));
      case 'NotIn':
        return !present || !values.includes(asText(podLabels[key]));
      case 'Exists':
        return present;
      case 'DoesNotExist':
        return !present;
      default:
        return false;
    }
  });
  return labelsMatch && expressionsMatch;
}

/** Pods of a Deployment of `replicas` ready pods that a PodDisruptionBudget lets be evicted at once. */
function evictionsAllowed(spec: Record<string, unknown>, replicas: number): number {
  const count = (value: unknown, roundUp: boolean): number | undefined => {
    if (typeof value === 'number') return value;
    const percent = /^(\d+)%$/.exec(asText(value) ?? '');
    if (!percent) return undefined;
    const exact = (replicas * Number(percent[1])) / 100;
    return roundUp ? Math.ceil(exact) : Math.floor(exact);
  };
  // Kubernetes rounds both percentages up (minAvailable: more pods kept; maxUnavailable: more pods allowed).
  const maxUnavailable = count(spec['maxUnavailable'], true);
  if (maxUnavailable !== undefined) return maxUnavailable;
  const minAvailable = count(spec['minAvailable'], true);
  return minAvailable === undefined ? 0 : replicas - minAvailable;
}

function podSecurityProblems(podSpec: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (podSpec['automountServiceAccountToken'] !== false) {
    problems.push('mounts a service-account token (set automountServiceAccountToken: false)');
  }
  const podContext = asMap(podSpec['securityContext']) ?? {};
  for (const item of asList(podSpec['containers'])) {
    const container = asMap(item) ?? {};
    const context = asMap(container['securityContext']) ?? {};
    const name = asText(container['name']) ?? '(unnamed)';
    const runAsNonRoot = context['runAsNonRoot'] ?? podContext['runAsNonRoot'];
    if (runAsNonRoot !== true) problems.push(`container ${name} may run as root (runAsNonRoot is not true)`);
    if (context['readOnlyRootFilesystem'] !== true)
      problems.push(`container ${name} can write to its root filesystem`);
    if (context['allowPrivilegeEscalation'] !== false)
      problems.push(`container ${name} allows privilege escalation`);
    if (!asList(at(context, 'capabilities', 'drop')).includes('ALL')) {
      problems.push(`container ${name} does not drop all capabilities`);
    }
  }
  for (const volume of asList(podSpec['volumes'])) {
    const emptyDir = at(volume, 'emptyDir');
    if (emptyDir !== undefined && at(emptyDir, 'sizeLimit') === undefined) {
      problems.push(`volume ${asText(at(volume, 'name'))} is an emptyDir without a sizeLimit`);
    }
  }
  return problems;
}

function describePeer(peer: unknown): string {
  const ipBlock = asMap(at(peer, 'ipBlock'));
  if (ipBlock) {
    const except = asList(ipBlock['except']).map(asText);
    return `ipBlock ${asText(ipBlock['cidr'])}${except.length > 0 ? ` except ${except.join(', ')}` : ''}`;
  }
  const namespaceSelector = asMap(at(peer, 'namespaceSelector'));
  const podSelector = asMap(at(peer, 'podSelector'));
  const parts: string[] = [];
  if (!namespaceSelector) parts.push('this namespace');
  else {
    const labels = asMap(namespaceSelector['matchLabels']) ?? {};
    const name = asText(labels['kubernetes.io/metadata.name']);
    const others = describeSelector({
      ...namespaceSelector,
      matchLabels: { ...labels, 'kubernetes.io/metadata.name': undefined },
    });
    if (name !== undefined) parts.push(`namespace ${name}`);
    if (others !== '' || name === undefined) parts.push(`namespaces ${others || 'all'}`);
  }
  if (podSelector) {
    const pods = describeSelector(podSelector);
    if (pods !== '') parts.push(`pods ${pods}`);
  }
  return parts.join(', ');
}

function describeSelector(selector: Record<string, unknown>): string {
  const labels = Object.entries(asMap(selector['matchLabels']) ?? {})
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${asText(value)}`);
  const expressions = asList(selector['matchExpressions']).map((expression) => JSON.stringify(expression));
  return [...labels, ...expressions].join(',');
}

function describePort(port: unknown): string {
  const protocol = asText(at(port, 'protocol')) ?? 'TCP';
  const number = asText(at(port, 'port'));
  const endPort = asText(at(port, 'endPort'));
  return `${protocol}/${number ?? 'any'}${endPort !== undefined ? `-${endPort}` : ''}`;
}

/** `Secret <name> key <key>` for a file read from a volume mount of the container, or `not mounted`. */
function mountedFileSource(
  podSpec: Record<string, unknown>,
  container: Record<string, unknown>,
  path: string,
): string {
  for (const mount of asList(container['volumeMounts'])) {
    const mountPath = (asText(at(mount, 'mountPath')) ?? '').replace(/\/+$/, '');
    if (!path.startsWith(`${mountPath}/`)) continue;
    const inside = path.slice(mountPath.length + 1);
    const volume = asList(podSpec['volumes']).find((item) => at(item, 'name') === at(mount, 'name'));
    const secret = asMap(at(volume, 'secret'));
    if (!secret) return `volume ${asText(at(mount, 'name'))} (not a Secret)`;
    const items = asList(secret['items']);
    const item = items.find((entry) => at(entry, 'path') === inside);
    const key = items.length === 0 ? inside : asText(at(item, 'key'));
    if (key === undefined) return `Secret ${asText(secret['secretName'])} has no item at ${inside}`;
    return `Secret ${asText(secret['secretName'])} key ${key}${secret['optional'] === true ? ' (optional)' : ''}`;
  }
  return 'not mounted';
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}
