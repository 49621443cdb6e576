import { checkServiceManifests, workspaceRoot } from '@tributary/testing';
import { cepEngineEnv } from './config';

describe('cep-engine shipping files', () => {
  it('k8s/cep-engine/ and docker/compose.yaml match its port, health endpoints and environment variables', () => {
    expect(
      checkServiceManifests({ app: 'cep-engine', port: 3104, envSpec: cepEngineEnv, workspaceRoot }),
    ).toEqual([]);
  });
});
