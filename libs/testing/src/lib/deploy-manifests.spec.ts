import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { env, postgresEnv, serviceEnv } from '@tributary/config';
import { checkServiceManifests } from './deploy-manifests';

const envSpec = {
  ...serviceEnv(3103),
  KAFKA_BROKERS: env.hostPorts({ description: 'bootstrap servers' }),
  KAFKA_SASL_PASSWORD: env.optionalString({ description: 'SASL password', secret: true }),
  ...postgresEnv,
};

/** A small, consistent set of files for an app listening on 3103; each test breaks one thing. */
const agreeing = {
  'k8s/cdc-listener/deployment.yaml': `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cdc-listener
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: cdc-listener
  template:
    metadata:
      labels:
        app.kubernetes.io/name: cdc-listener
    spec:
      terminationGracePeriodSeconds: 30
      containers:
        - name: cdc-listener
          image: tributary/cdc-listener:latest
          ports:
            - name: http
              containerPort: 3103
          envFrom:
            - configMapRef:
                name: cdc-listener-config
          env:
            - name: INSTANCE_ID
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: DATABASE_URL
              valueFrom:
                secretKeyRef:
                  name: cdc-listener-secrets
                  key: DATABASE_URL
          startupProbe:
            httpGet: { path: /health/live, port: http }
          livenessProbe:
            httpGet: { path: /health/live, port: http }
          readinessProbe:
            httpGet: { path: /health/ready, port: 3103 }
`,
  'k8s/cdc-listener/service.yaml': `
apiVersion: v1
kind: Service
metadata:
  name: cdc-listener
spec:
  selector:
    app.kubernetes.io/name: cdc-listener
  ports:
    - name: http
      port: 3103
      targetPort: http
`,
  'k8s/cdc-listener/configmap.yaml': `
apiVersion: v1
kind: ConfigMap
metadata:
  name: cdc-listener-config
data:
  PORT: "3103"
  LOG_LEVEL: info
  SHUTDOWN_TIMEOUT_MS: 25s
  KAFKA_BROKERS: kafka-bootstrap.kafka.svc:9092
  NODE_OPTIONS: --max-old-space-size=384
`,
  'docker/compose.yaml': `
services:
  cdc-listener:
    build:
      context: ..
      dockerfile: docker/Dockerfile
      args:
        APP: cdc-listener
    environment:
      KAFKA_BROKERS: kafka:19092
      DATABASE_URL: postgres://postgres:secret@postgres:5432/tributary
    ports:
      - "3103:3103"
    stop_grace_period: 30s
`,
};

type FixtureFile = keyof typeof agreeing;

const roots: string[] = [];

afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** Writes the fixture set with the given edits (each `[from, to]` must match) and runs the checker on it. */
function check(edits: Partial<Record<FixtureFile, [from: string, to: string][]>> = {}): string[] {
  const root = mkdtempSync(join(tmpdir(), 'tributary-manifests-'));
  roots.push(root);
  for (const [file, original] of Object.entries(agreeing) as [FixtureFile, string][]) {
    let text = original;
    for (const [from, to] of edits[file] ?? []) {
      if (!text.includes(from)) throw new Error(`fixture ${file} has no ${JSON.stringify(from)}`);
      text = text.replace(from, to);
    }
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  }
  return checkServiceManifests({ app: 'cdc-listener', port: 3103, envSpec, workspaceRoot: root });
}

function mentioning(text: string): unknown {
  return expect.stringContaining(text);
}

describe('checkServiceManifests', () => {
  it('finds nothing wrong when the manifests agree with the app', () => {
    expect(check()).toEqual([]);
  });

  it('reports a container port that is not the port the app listens on', () => {
    const problems = check({
      'k8s/cdc-listener/deployment.yaml': [['containerPort: 3103', 'containerPort: 8080']],
    });
    expect(problems).toContainEqual(
      'k8s/cdc-listener/deployment.yaml: container port http is 8080, but cdc-listener listens on 3103',
    );
  });

  it('reports a probe that requests another path than the health endpoint', () => {
    const problems = check({
      'k8s/cdc-listener/deployment.yaml': [['path: /health/ready', 'path: /healthz']],
    });
    expect(problems).toEqual([
      'k8s/cdc-listener/deployment.yaml: readinessProbe requests /healthz, expected /health/ready',
    ]);
  });

  it('reports a probe aimed at a port the app does not listen on, by number or by name', () => {
    const byNumber = check({ 'k8s/cdc-listener/deployment.yaml': [['port: 3103 }', 'port: 9090 }']] });
    expect(byNumber).toEqual([mentioning('readinessProbe targets port 9090')]);
    const byName = check({
      'k8s/cdc-listener/deployment.yaml': [
        ['path: /health/live, port: http', 'path: /health/live, port: metrics'],
      ],
    });
    expect(byName).toEqual([mentioning('startupProbe targets port "metrics" (not a container port)')]);
  });

  it('reports a missing probe', () => {
    const problems = check({ 'k8s/cdc-listener/deployment.yaml': [['startupProbe:', 'notAProbe:']] });
    expect(problems).toContainEqual('k8s/cdc-listener/deployment.yaml: has no startupProbe');
  });

  it('reports a Service that routes to another port or selects no pod', () => {
    expect(check({ 'k8s/cdc-listener/service.yaml': [['targetPort: http', 'targetPort: 8080']] })).toEqual([
      'k8s/cdc-listener/service.yaml: Service cdc-listener routes to 8080, not to port 3103',
    ]);
    expect(
      check({
        'k8s/cdc-listener/service.yaml': [['name: cdc-listener\n  ports', 'name: cdc-listner\n  ports']],
      }),
    ).toEqual([mentioning('does not match the pods of Deployment cdc-listener')]);
  });

  it('reports a variable the app does not read and suggests the name it probably meant', () => {
    const problems = check({ 'k8s/cdc-listener/configmap.yaml': [['LOG_LEVEL: info', 'LOG_LEVL: info']] });
    expect(problems).toEqual([
      'k8s/cdc-listener/configmap.yaml: ConfigMap cdc-listener-config sets LOG_LEVL, which cdc-listener does not read (did you mean LOG_LEVEL?)',
    ]);
  });

  it('reports a stale variable name in a secretKeyRef or in compose', () => {
    const fromSecret = check({
      'k8s/cdc-listener/deployment.yaml': [['- name: DATABASE_URL', '- name: POSTGRES_URL']],
    });
    expect(fromSecret).toEqual([
      mentioning('Secret cdc-listener-secrets sets POSTGRES_URL, which cdc-listener does not read'),
    ]);
    const fromCompose = check({ 'docker/compose.yaml': [['      DATABASE_URL:', '      PG_URL:']] });
    expect(fromCompose).toEqual([
      'docker/compose.yaml (service cdc-listener): environment sets PG_URL, which cdc-listener does not read',
    ]);
  });

  it('reports a secret variable kept in a ConfigMap or written as a plain value', () => {
    const inConfigMap = check({
      'k8s/cdc-listener/configmap.yaml': [
        ['LOG_LEVEL: info', 'LOG_LEVEL: info\n  DATABASE_URL: postgres://u:p@db:5432/tributary'],
      ],
    });
    expect(inConfigMap).toContainEqual(
      'k8s/cdc-listener/configmap.yaml: ConfigMap cdc-listener-config holds the secret variable DATABASE_URL; take it from a Secret',
    );
    const plain = check({
      'k8s/cdc-listener/deployment.yaml': [
        [
          '          env:\n',
          '          env:\n            - name: KAFKA_SASL_PASSWORD\n              value: hunter2\n',
        ],
      ],
    });
    expect(plain).toEqual([mentioning('sets the secret variable KAFKA_SASL_PASSWORD as a plain value')]);
    expect(plain.join('\n')).not.toContain('hunter2');
  });

  it('reports a required variable that nothing provides', () => {
    const problems = check({
      'k8s/cdc-listener/configmap.yaml': [['  KAFKA_BROKERS: kafka-bootstrap.kafka.svc:9092\n', '']],
      'docker/compose.yaml': [['      KAFKA_BROKERS: kafka:19092\n', '']],
    });
    expect(problems).toEqual([
      'k8s/cdc-listener/deployment.yaml: does not provide KAFKA_BROKERS, which cdc-listener requires',
      'docker/compose.yaml (service cdc-listener): does not provide KAFKA_BROKERS, which cdc-listener requires',
    ]);
  });

  it('reports a required variable taken from an optional reference', () => {
    const problems = check({
      'k8s/cdc-listener/configmap.yaml': [['  KAFKA_BROKERS: kafka-bootstrap.kafka.svc:9092\n', '']],
      'k8s/cdc-listener/deployment.yaml': [
        [
          '          env:\n',
          '          env:\n            - name: KAFKA_BROKERS\n              valueFrom:\n                secretKeyRef: { name: kafka, key: brokers, optional: true }\n',
        ],
      ],
    });
    expect(problems).toEqual([
      mentioning('takes the required KAFKA_BROKERS from an optional reference (Secret kafka)'),
    ]);
  });

  it('reports a value the app would refuse at boot', () => {
    const problems = check({
      'k8s/cdc-listener/configmap.yaml': [['LOG_LEVEL: info', 'LOG_LEVEL: verbose']],
    });
    expect(problems).toEqual([
      mentioning('sets LOG_LEVEL ("verbose"), which cdc-listener refuses: must be one of'),
    ]);
  });

  it('reports a ConfigMap PORT that is not the container port', () => {
    const problems = check({ 'k8s/cdc-listener/configmap.yaml': [['PORT: "3103"', 'PORT: "3000"']] });
    expect(problems).toEqual([
      'k8s/cdc-listener/configmap.yaml: ConfigMap cdc-listener-config sets PORT=3000, but the container port http is 3103',
    ]);
  });

  it('reports a grace period that does not outlast the shutdown timeout and the preStop pause', () => {
    const short = check({
      'k8s/cdc-listener/deployment.yaml': [
        ['terminationGracePeriodSeconds: 30', 'terminationGracePeriodSeconds: 20'],
      ],
    });
    expect(short).toEqual([
      'k8s/cdc-listener/deployment.yaml: terminationGracePeriodSeconds 20 does not outlast SHUTDOWN_TIMEOUT_MS 25000',
    ]);
    const withPause = check({
      'k8s/cdc-listener/deployment.yaml': [
        [
          'image: tributary',
          'lifecycle: { preStop: { exec: { command: ["sleep", "10"] } } }\n          image: tributary',
        ],
      ],
    });
    expect(withPause).toEqual([mentioning('plus the preStop pause of 10000 ms')]);
  });

  it('reports a compose stop_grace_period, default included, that does not outlast the shutdown timeout', () => {
    expect(check({ 'docker/compose.yaml': [['stop_grace_period: 30s', 'stop_grace_period: 1m']] })).toEqual(
      [],
    );
    expect(check({ 'docker/compose.yaml': [['    stop_grace_period: 30s\n', '']] })).toEqual([
      'docker/compose.yaml (service cdc-listener): stop_grace_period 10s (the default) does not outlast SHUTDOWN_TIMEOUT_MS 25000',
    ]);
  });

  it('reports a compose service that is missing, builds another app or publishes another port', () => {
    expect(check({ 'docker/compose.yaml': [['  cdc-listener:', '  cdc:']] })).toEqual([
      'docker/compose.yaml: has no service named cdc-listener',
    ]);
    expect(check({ 'docker/compose.yaml': [['APP: cdc-listener', 'APP: cep-engine']] })).toEqual([
      'docker/compose.yaml (service cdc-listener): builds APP=cep-engine, expected APP=cdc-listener',
    ]);
    expect(check({ 'docker/compose.yaml': [['"3103:3103"', '"3103:3000"']] })).toEqual([
      mentioning("publishes no host port for the container's port 3103"),
    ]);
  });

  it('reports a manifest that is not valid YAML', () => {
    const problems = check({ 'k8s/cdc-listener/service.yaml': [['  ports:', '  ports: [']] });
    expect(problems).toContainEqual(mentioning('k8s/cdc-listener/service.yaml: is not valid YAML'));
  });
});
