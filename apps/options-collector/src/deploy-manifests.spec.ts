import { checkServiceManifests, workspaceRoot } from '@tributary/testing';
import { optionsCollectorEnv } from './config';

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
});
