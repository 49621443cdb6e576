import { checkServiceManifests, workspaceRoot } from '@tributary/testing';
import { cdcListenerEnv } from './config';

describe('cdc-listener shipping files', () => {
  it('k8s/cdc-listener/ and docker/compose.yaml match its port, health endpoints and environment variables', () => {
    expect(
      checkServiceManifests({ app: 'cdc-listener', port: 3103, envSpec: cdcListenerEnv, workspaceRoot }),
    ).toEqual([]);
  });
});
