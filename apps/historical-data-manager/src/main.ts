import { TributaryMetrics } from '@tributary/observability';
import { runService } from '@tributary/service';
import { AppModule } from './app/app.module';
import { connectArchiveConsumer } from './app/archive/archive-consumer';
import { ARCHIVE_CONFIG } from './app/archive/topic-archive.service';
import { type HistoricalDataManagerConfig, historicalDataManagerEnv } from './config';

const service = 'historical-data-manager';

async function main(): Promise<void> {
  const app = await runService({
    service,
    env: historicalDataManagerEnv,
    module: (config) => AppModule.forRoot(config),
  });
  // The archive's consumer is connected here rather than by runService, so the archive can pause it.
  const config = app.get<HistoricalDataManagerConfig>(ARCHIVE_CONFIG);
  connectArchiveConsumer(app, {
    service,
    groupId: config.KAFKA_GROUP_ID,
    config,
    metrics: app.get(TributaryMetrics),
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  });
  await app.startAllMicroservices();
}

void main();
