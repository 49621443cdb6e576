import { checkServiceManifests, workspaceRoot } from '@tributary/testing';
import { kafkaGatewayEnv } from './config';

describe('kafka-gateway shipping files', () => {
  it('k8s/kafka-gateway/ and docker/compose.yaml match its port, health endpoints and environment variables', () => {
    expect(
      checkServiceManifests({ app: 'kafka-gateway', port: 3102, envSpec: kafkaGatewayEnv, workspaceRoot }),
    ).toEqual([]);
  });
});
