import { parseEnv } from '@tributary/config';
import {
  checkServiceManifests,
  describeVariable,
  loadKustomization,
  workspaceRoot,
} from '@tributary/testing';
import { optionsCollectorEnv, optionsCollectorConfigIssues } from './config';

describe('options-collector shipping files', () => {
  it('k8s/options-collector/ and docker/compose.yaml match its port, health endpoints and environment variables', () => {
    expect(
      checkServiceManifests({
        app: 'options-collector',
        port: 3101,
        envSpec: optionsCollectorEnv,
        workspaceRoot,
      }),
    ).toEqual([]);
  });

  it('the Kubernetes deployment collects real market data from Alpaca, with its keys from a Secret it cannot start without', () => {
    const { objects } = loadKustomization(workspaceRoot);
    const deployment = objects.find(
      (object) => object.kind === 'Deployment' && object.name === 'options-collector',
    );
    const container = (
      deployment?.body as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } }
    ).spec.template.spec.containers[0];
    const variable = (name: string) => describeVariable(objects, container, name);

    expect(variable('MARKET_SOURCE')).toBe('alpaca');
    expect(variable('ALPACA_API_KEY_ID')).toBe('Secret options-collector-secrets key ALPACA_API_KEY_ID');
    expect(variable('ALPACA_API_SECRET_KEY')).toBe(
      'Secret options-collector-secrets key ALPACA_API_SECRET_KEY',
    );
    const simulatorSettings = Object.keys(optionsCollectorEnv).filter(
      (name) => name.startsWith('SIMULATOR_') && variable(name) !== undefined,
    );
    expect(simulatorSettings).toEqual([]);
  });

  it('with the keys in place, the ConfigMap passes the checks the collector runs at start-up', () => {
    const { objects } = loadKustomization(workspaceRoot);
    const configMap = objects.find(
      (object) => object.kind === 'ConfigMap' && object.name === 'options-collector-config',
    );
    const data = (configMap?.body['data'] ?? {}) as Record<string, string>;
    const config = parseEnv(optionsCollectorEnv, {
      ...data,
      ALPACA_API_KEY_ID: 'id',
      ALPACA_API_SECRET_KEY: 'key',
    });
    expect(config.MARKET_SOURCE).toBe('alpaca');
    expect(optionsCollectorConfigIssues(config)).toEqual([]);
    expect(optionsCollectorConfigIssues({ ...config, ALPACA_API_SECRET_KEY: undefined })).toEqual([
      expect.objectContaining({ variable: 'ALPACA_API_SECRET_KEY' }),
    ]);
  });
});
