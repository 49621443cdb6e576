import { checkServiceManifests, workspaceRoot } from '@tributary/testing';
import { historicalDataManagerEnv } from './config';

describe('historical-data-manager shipping files', () => {
  it('k8s/historical-data-manager/ and docker/compose.yaml match its port, health endpoints and environment variables', () => {
    expect(
      checkServiceManifests({
        app: 'historical-data-manager',
        port: 3105,
        envSpec: historicalDataManagerEnv,
        workspaceRoot,
      }),
    ).toEqual([]);
  });
});
