import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { EnvSpec } from '@tributary/config';
import { KAFKA_SERVICES } from '@tributary/contracts';
import {
  checkServiceManifests,
  describeVariable,
  kafkaClientSettings,
  loadKustomization,
  type KubernetesObject,
} from '@tributary/testing';
import { renderKustomization, type RenderedObject } from './kustomize-render';

const root = join(__dirname, '..', '..');
const PORTS: Record<(typeof KAFKA_SERVICES)[number], number> = {
  'options-collector': 3101,
  'kafka-gateway': 3102,
  'cdc-listener': 3103,
  'cep-engine': 3104,
  'historical-data-manager': 3105,
};

const render = (overlay: string) => renderKustomization(root, join(root, 'k8s', 'overlays', overlay));
const overlays = {
  base: renderKustomization(root, join(root, 'k8s')),
  dev: render('dev'),
  prod: render('prod'),
};

async function envSpecOf(app: string): Promise<EnvSpec> {
  const module = (await import(`../../apps/${app}/src/config`)) as Record<string, EnvSpec>;
  const name = Object.keys(module).find((key) => key.endsWith('Env'));
  if (!name) throw new Error(`apps/${app}/src/config.ts exports no *Env spec`);
  return module[name];
}

const deployments = (objects: readonly RenderedObject[]) =>
  objects.filter((object) => object.kind === 'Deployment');
const containerOf = (objects: readonly RenderedObject[], app: string): Record<string, unknown> => {
  const deployment = objects.find((object) => object.kind === 'Deployment' && object.name === app);
  return (deployment?.body as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } })
    .spec.template.spec.containers[0];
};
const configData = (objects: readonly RenderedObject[]) =>
  objects
    .filter((object) => object.kind === 'ConfigMap')
    .map((object) => ({ name: object.name, data: (object.body['data'] ?? {}) as Record<string, string> }));

/**
 * Checks each service's part of a rendered overlay with the same checks as k8s/<app>/ (variables,
 * values the app would refuse, probes, ports, grace period): the rendered objects are written to a
 * scratch workspace laid out like this one.
 */
async function serviceProblems(objects: readonly RenderedObject[]): Promise<string[]> {
  const scratch = mkdtempSync(join(tmpdir(), 'tributary-overlay-'));
  try {
    mkdirSync(join(scratch, 'docker'));
    copyFileSync(join(root, 'docker', 'compose.yaml'), join(scratch, 'docker', 'compose.yaml'));
    const problems: string[] = [];
    for (const app of KAFKA_SERVICES) {
      mkdirSync(join(scratch, 'k8s', app), { recursive: true });
      const own = objects.filter((object) => object.file.startsWith(`k8s/${app}/`));
      writeFileSync(
        join(scratch, 'k8s', app, 'rendered.yaml'),
        own.map((object) => stringify(object.body)).join('---\n'),
      );
      problems.push(
        ...checkServiceManifests({
          app,
          port: PORTS[app],
          envSpec: await envSpecOf(app),
          workspaceRoot: scratch,
        }),
      );
    }
    return problems;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

describe('the Kustomize overlays k8s/overlays/dev and k8s/overlays/prod', () => {
  it('the renderer gives the base exactly what k8s/kustomization.yaml lists, in the namespace tributary', () => {
    const listed: KubernetesObject[] = loadKustomization(root).objects;
    expect(overlays.base.map((object) => `${object.kind}/${object.name}`)).toEqual(
      listed.map((object) => `${object.kind}/${object.name}`),
    );
    for (const object of overlays.base.filter((item) => item.kind !== 'Namespace')) {
      expect(object.body['metadata']).toMatchObject({ namespace: 'tributary' });
    }
  });

  it.each(['dev', 'prod'] as const)(
    '%s renders the same objects as the base, every one a parsed mapping',
    (name) => {
      const objects = overlays[name];
      expect(objects.map((object) => `${object.kind}/${object.name}`)).toEqual(
        overlays.base.map((object) => `${object.kind}/${object.name}`),
      );
      for (const object of objects) expect(object.body['apiVersion']).toEqual(expect.any(String));
    },
  );

  it.each(['dev', 'prod'] as const)(
    '%s passes each service’s checks of variables, values, probes and ports on the rendered manifests',
    async (name) => {
      expect(await serviceProblems(overlays[name])).toEqual([]);
    },
  );

  it('dev runs the market simulator without Alpaca keys, one pod per service, and no development key', () => {
    const objects = overlays.dev;
    const container = containerOf(objects, 'options-collector');
    const variable = (name: string) => describeVariable(objects as KubernetesObject[], container, name);
    expect(variable('MARKET_SOURCE')).toBe('simulator');
    expect(variable('ALPACA_API_KEY_ID')).toBeUndefined();
    expect(variable('ALPACA_API_SECRET_KEY')).toBeUndefined();
    expect(
      deployments(objects).map((object) => [
        object.name,
        (object.body['spec'] as { replicas: number }).replicas,
      ]),
    ).toEqual(KAFKA_SERVICES.map((service) => [service, 1]));
    // The image runs with NODE_ENV=production, where the services refuse the development key: dev
    // authenticates with tributary-api-keys like every other cluster (k8s/README.md, "Overlays").
    for (const { name, data } of configData(objects)) {
      expect([name, data['AUTH_DEV_KEY_ENABLED'], data['NODE_ENV']]).toEqual([name, undefined, undefined]);
    }
  });

  it('prod runs Alpaca on pinned images, every service on SASL_SSL with its own Kafka Secret', () => {
    const objects = overlays.prod;
    for (const { name, data } of configData(objects)) {
      expect([name, data['MARKET_SOURCE'] ?? 'unset']).not.toEqual([name, 'simulator']);
      expect(Object.keys(data).filter((key) => key.startsWith('SIMULATOR_'))).toEqual([]);
    }
    expect(
      describeVariable(
        objects as KubernetesObject[],
        containerOf(objects, 'options-collector'),
        'MARKET_SOURCE',
      ),
    ).toBe('alpaca');
    for (const service of KAFKA_SERVICES) {
      const image = String(containerOf(objects, service)['image']);
      expect(image).toMatch(
        new RegExp(`^registry\\.example\\.com/tributary/${service}(:[\\w.-]+|@sha256:[0-9a-f]{64})$`),
      );
      expect(image).not.toMatch(/:latest$/);
      expect(kafkaClientSettings(objects as KubernetesObject[], service)).toEqual({
        KAFKA_BROKERS: 'kafka-bootstrap.kafka.svc:9093',
        KAFKA_TLS: 'true',
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: `Secret ${service}-kafka key username`,
        KAFKA_SASL_PASSWORD: `Secret ${service}-kafka key password`,
        KAFKA_TLS_CA_FILE: '/etc/tributary/kafka-ca/ca.crt',
        'CA file': `Secret ${service}-kafka key ca.crt`,
      });
    }
  });

  it('prod keeps one collector and one CDC reader, and runs the CEP engine and the gateway twice', () => {
    const replicas = Object.fromEntries(
      deployments(overlays.prod).map((object) => [
        object.name,
        (object.body['spec'] as { replicas: number }).replicas,
      ]),
    );
    expect(replicas).toEqual({
      'options-collector': 1,
      'kafka-gateway': 2,
      'cdc-listener': 1,
      'cep-engine': 2,
      'historical-data-manager': 1,
    });
    const resources = (app: string) => containerOf(overlays.prod, app)['resources'];
    expect(resources('cdc-listener')).toEqual({
      requests: { cpu: '600m', memory: '256Mi' },
      limits: { cpu: '1', memory: '512Mi' },
    });
    expect(resources('cep-engine')).toEqual({
      requests: { cpu: '500m', memory: '1Gi' },
      limits: { cpu: '2', memory: '2Gi' },
    });
  });
});
