import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  checkClusterManifests,
  kafkaClientSettings,
  loadKustomization,
  networkFlows,
} from './deploy-manifests';
import { workspaceRoot } from './infra-env';
import { KAFKA_SERVICES } from '@tributary/contracts';

/** The five services, as their Kafka users are named. */
const SERVICES = KAFKA_SERVICES;
type Service = (typeof SERVICES)[number];

const PORTS: Record<Service, number> = {
  'options-collector': 3101,
  'kafka-gateway': 3102,
  'cdc-listener': 3103,
  'cep-engine': 3104,
  'historical-data-manager': 3105,
};

/** CoreDNS in kube-system, over UDP and TCP. */
const DNS = [
  'namespace kube-system, pods k8s-app=kube-dns: TCP/53',
  'namespace kube-system, pods k8s-app=kube-dns: UDP/53',
];
/** The brokers' SASL_SSL listener. */
const KAFKA = ['namespace kafka: TCP/9093'];
/** cdc-listener and historical-data-manager: the services whose config has DATABASE_URL. */
const POSTGRES = ['namespace db: TCP/5432'];
/** historical-data-manager only (S3_ENDPOINT): outside the cluster, a placeholder range to replace. */
const S3 = ['ipBlock 203.0.113.0/24: TCP/443'];
/** options-collector only (MARKET_SOURCE=alpaca): HTTPS and WSS to public addresses. */
const ALPACA = [
  'ipBlock 0.0.0.0/0 except 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 169.254.0.0/16, 100.64.0.0/10: TCP/443',
];

/** Everything each service may reach; anything else a NetworkPolicy allows fails the test. */
const EGRESS: Record<Service, string[]> = {
  'options-collector': [...DNS, ...KAFKA, ...ALPACA],
  'kafka-gateway': [...DNS, ...KAFKA],
  'cdc-listener': [...DNS, ...KAFKA, ...POSTGRES],
  'cep-engine': [...DNS, ...KAFKA],
  'historical-data-manager': [...DNS, ...KAFKA, ...POSTGRES, ...S3],
};

const PROMETHEUS = 'namespace monitoring, pods app.kubernetes.io/name=prometheus';
const INGRESS_CONTROLLER = 'namespace ingress-nginx, pods app.kubernetes.io/name=ingress-nginx';

/** Who may open a connection to each service: Prometheus everywhere, the ingress controller only to the gateway. */
const INGRESS: Record<Service, string[]> = {
  'options-collector': [PROMETHEUS],
  'kafka-gateway': [INGRESS_CONTROLLER, PROMETHEUS],
  'cdc-listener': [PROMETHEUS],
  'cep-engine': [PROMETHEUS],
  'historical-data-manager': [PROMETHEUS],
};

const base = loadKustomization(workspaceRoot);

describe('the Kubernetes manifests in k8s/', () => {
  it('parse, are all listed in k8s/kustomization.yaml, and pass the cluster-wide checks', () => {
    expect(checkClusterManifests(workspaceRoot)).toEqual([]);
  });

  it('deny all traffic in the namespace unless a policy of the service allows it', () => {
    const defaultDeny = base.objects.find(
      (object) => object.kind === 'NetworkPolicy' && object.name === 'default-deny',
    );
    expect(defaultDeny?.body['spec']).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  });

  it('give every Deployment a PodDisruptionBudget that never blocks a node drain', () => {
    const deployments = base.objects
      .filter((object) => object.kind === 'Deployment')
      .map((object) => object.name);
    const budgets = base.objects
      .filter((object) => object.kind === 'PodDisruptionBudget')
      .map((object) => [object.name, at(object.body, 'spec', 'maxUnavailable')]);
    expect(deployments.sort()).toEqual([...SERVICES].sort());
    expect(Object.fromEntries(budgets)).toEqual(Object.fromEntries(SERVICES.map((service) => [service, 1])));
  });

  it.each(SERVICES)('let %s reach exactly what it needs, and be reached only on its HTTP port', (service) => {
    const flows = networkFlows(base.objects, service);
    expect(flows.egress).toEqual([...EGRESS[service]].sort());
    expect(flows.ingress).toEqual(INGRESS[service].map((peer) => `${peer}: TCP/${PORTS[service]}`).sort());
  });

  it.each(SERVICES)('connect %s to Kafka over SASL_SSL with its own Secret', (service) => {
    expect(kafkaClientSettings(base.objects, service)).toEqual({
      KAFKA_BROKERS: 'kafka-bootstrap.kafka.svc:9093',
      KAFKA_TLS: 'true',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: `Secret ${service}-kafka key username`,
      KAFKA_SASL_PASSWORD: `Secret ${service}-kafka key password`,
      KAFKA_TLS_CA_FILE: '/etc/tributary/kafka-ca/ca.crt',
      'CA file': `Secret ${service}-kafka key ca.crt`,
    });
  });

  it('open egress to Kafka on the port of every broker in KAFKA_BROKERS', () => {
    for (const service of SERVICES) {
      const brokers = kafkaClientSettings(base.objects, service).KAFKA_BROKERS ?? '';
      for (const broker of brokers.split(',')) {
        expect(networkFlows(base.objects, service).egress).toContain(
          `namespace kafka: TCP/${broker.split(':').pop()}`,
        );
      }
    }
  });

  it('run no market simulator', () => {
    const marketSources = base.objects
      .filter(
        (object) => object.kind === 'ConfigMap' && at(object.body, 'data', 'MARKET_SOURCE') !== undefined,
      )
      .map((object) => [object.name, at(object.body, 'data', 'MARKET_SOURCE')]);
    expect(marketSources).toEqual([['options-collector-config', 'alpaca']]);
  });
});

/** A base of one service that passes every check; each test breaks one thing. */
const agreeing: Record<string, string> = {
  'k8s/kustomization.yaml': `
resources:
  - deny.yaml
  - cep-engine/configmap.yaml
  - cep-engine/deployment.yaml
  - cep-engine/policies.yaml
`,
  'k8s/deny.yaml': `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: default-deny }
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
`,
  'k8s/cep-engine/configmap.yaml': `
apiVersion: v1
kind: ConfigMap
metadata: { name: cep-engine-config }
data:
  KAFKA_BROKERS: kafka-bootstrap.kafka.svc:9093
`,
  'k8s/cep-engine/deployment.yaml': `
apiVersion: apps/v1
kind: Deployment
metadata: { name: cep-engine }
spec:
  replicas: 1
  template:
    metadata:
      labels: { app: cep-engine, tier: stream }
    spec:
      automountServiceAccountToken: false
      securityContext: { runAsNonRoot: true }
      containers:
        - name: cep-engine
          envFrom: [{ configMapRef: { name: cep-engine-config } }]
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: { drop: [ALL] }
      volumes:
        - name: tmp
          emptyDir: { sizeLimit: 64Mi }
`,
  'k8s/cep-engine/policies.yaml': `
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: { name: cep-engine }
spec:
  maxUnavailable: 1
  selector: { matchLabels: { app: cep-engine } }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: cep-engine }
spec:
  podSelector: { matchLabels: { app: cep-engine } }
  policyTypes: [Ingress, Egress]
  egress:
    - to:
        - namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: kafka } }
      ports: [{ port: 9093 }]
    - to:
        - ipBlock: { cidr: 0.0.0.0/0, except: [10.0.0.0/8] }
      ports: [{ protocol: TCP, port: 443 }]
`,
};

const roots: string[] = [];

afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** Writes the fixture base with the given edits (each `[from, to]` must match; `to` null drops the file). */
function fixture(edits: Record<string, [from: string, to: string][] | null> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'tributary-cluster-'));
  roots.push(root);
  const files = { ...agreeing };
  for (const file of Object.keys(edits)) if (!(file in files)) files[file] = '';
  for (const [file, original] of Object.entries(files)) {
    const fileEdits = edits[file];
    if (fileEdits === null) continue;
    let text = original;
    for (const [from, to] of fileEdits ?? []) {
      if (!text.includes(from)) throw new Error(`fixture ${file} has no ${JSON.stringify(from)}`);
      text = text.replace(from, to);
    }
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  }
  return root;
}

describe('checkClusterManifests', () => {
  it('finds nothing wrong in a base that follows the rules', () => {
    expect(checkClusterManifests(fixture())).toEqual([]);
  });

  it('reports a missing default-deny policy, and one that still allows something', () => {
    const problem =
      'k8s/: no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and Egress, no rules)';
    expect(
      checkClusterManifests(
        fixture({ 'k8s/kustomization.yaml': [['  - deny.yaml\n', '']], 'k8s/deny.yaml': null }),
      ),
    ).toEqual([problem]);
    expect(
      checkClusterManifests(
        fixture({ 'k8s/deny.yaml': [['policyTypes: [Ingress, Egress]', 'policyTypes: [Ingress]']] }),
      ),
    ).toEqual([problem]);
  });

  it('reports a Deployment without a PodDisruptionBudget, or with one that blocks every drain', () => {
    expect(
      checkClusterManifests(
        fixture({ 'k8s/cep-engine/policies.yaml': [['app: cep-engine } }\n---', 'app: other } }\n---']] }),
      ),
    ).toEqual(['k8s/cep-engine/deployment.yaml: Deployment cep-engine has no PodDisruptionBudget']);
    expect(
      checkClusterManifests(
        fixture({ 'k8s/cep-engine/policies.yaml': [['maxUnavailable: 1', 'minAvailable: 1']] }),
      ),
    ).toEqual([
      'k8s/cep-engine/policies.yaml: PodDisruptionBudget cep-engine lets no pod of Deployment cep-engine (1 replica) be evicted: a node drain would wait forever',
    ]);
    expect(
      checkClusterManifests(
        fixture({ 'k8s/cep-engine/policies.yaml': [['maxUnavailable: 1', 'maxUnavailable: 0%']] }),
      ),
    ).toEqual([expect.stringContaining('a node drain would wait forever')]);
  });

  it('reports a Deployment that no policy of its own selects', () => {
    const problems = checkClusterManifests(
      fixture({
        'k8s/cep-engine/policies.yaml': [
          ['podSelector: { matchLabels: { app: cep-engine } }', 'podSelector: { matchLabels: { app: x } }'],
        ],
      }),
    );
    expect(problems).toEqual([
      'k8s/cep-engine/deployment.yaml: Deployment cep-engine has no NetworkPolicy of its own selecting its pods',
    ]);
  });

  it('reports a pod that may run as root, write its root filesystem, keep capabilities or mount a token', () => {
    const problems = checkClusterManifests(
      fixture({
        'k8s/cep-engine/deployment.yaml': [
          ['automountServiceAccountToken: false', 'automountServiceAccountToken: true'],
          ['runAsNonRoot: true', 'runAsUser: 0'],
          ['readOnlyRootFilesystem: true', 'readOnlyRootFilesystem: false'],
          ['drop: [ALL]', 'drop: [NET_RAW]'],
          ['emptyDir: { sizeLimit: 64Mi }', 'emptyDir: {}'],
        ],
      }),
    );
    expect(problems).toEqual([
      expect.stringContaining('mounts a service-account token'),
      expect.stringContaining('container cep-engine may run as root'),
      expect.stringContaining('container cep-engine can write to its root filesystem'),
      expect.stringContaining('container cep-engine does not drop all capabilities'),
      expect.stringContaining('volume tmp is an emptyDir without a sizeLimit'),
    ]);
  });

  it('reports a ConfigMap that runs or configures the market simulator', () => {
    const problems = checkClusterManifests(
      fixture({
        'k8s/cep-engine/configmap.yaml': [
          ['data:\n', 'data:\n  MARKET_SOURCE: simulator\n  SIMULATOR_SEED: x\n'],
        ],
      }),
    );
    expect(problems).toEqual([
      'k8s/cep-engine/configmap.yaml: ConfigMap cep-engine-config runs the market simulator (MARKET_SOURCE=simulator)',
      'k8s/cep-engine/configmap.yaml: ConfigMap cep-engine-config configures the market simulator (SIMULATOR_SEED)',
    ]);
  });

  it('reports a manifest left out of the kustomization, a listed file that is missing, and invalid YAML', () => {
    expect(checkClusterManifests(fixture({ 'k8s/cep-engine/pdb.yaml': [] }))).toEqual([
      'k8s/cep-engine/pdb.yaml: is not listed in k8s/kustomization.yaml',
    ]);
    expect(
      checkClusterManifests(
        fixture({ 'k8s/kustomization.yaml': [['  - deny.yaml\n', '  - deny.yaml\n  - gone.yaml\n']] }),
      ),
    ).toEqual(['k8s/kustomization.yaml: lists gone.yaml, which does not exist']);
    expect(
      checkClusterManifests(
        fixture({ 'k8s/deny.yaml': [['policyTypes: [Ingress, Egress]', 'policyTypes: [']] }),
      ),
    ).toContainEqual(expect.stringContaining('k8s/deny.yaml: is not valid YAML'));
  });
});

describe('networkFlows', () => {
  it('lists each peer and port a service may reach, protocol TCP unless given', () => {
    const { objects } = loadKustomization(fixture());
    expect(networkFlows(objects, 'cep-engine')).toEqual({
      ingress: [],
      egress: ['ipBlock 0.0.0.0/0 except 10.0.0.0/8: TCP/443', 'namespace kafka: TCP/9093'],
    });
  });

  it('shows a rule without peers or ports as open to anything', () => {
    const { objects } = loadKustomization(
      fixture({
        'k8s/cep-engine/policies.yaml': [
          ['  egress:\n', '  ingress:\n    - {}\n  egress:\n    - ports: [{ port: 53, protocol: UDP }]\n'],
        ],
      }),
    );
    const flows = networkFlows(objects, 'cep-engine');
    expect(flows.ingress).toEqual(['anywhere: any port']);
    expect(flows.egress).toContain('anywhere: UDP/53');
  });
});

function at(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    current =
      current !== null && typeof current === 'object' ? (current as Record<string, unknown>)[key] : undefined;
  }
  return current;
}
