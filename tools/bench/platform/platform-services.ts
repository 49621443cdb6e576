import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServiceProcess, startService, waitForHttpStatus } from '@tributary/testing';
import type { BenchConfig, RunNames } from './bench-config';
import { nanosToMs } from './publish-clock';
import { KAFKA_SERVICES } from '@tributary/contracts';

/** The five services, as their Kafka users are named. */
export const SERVICES = KAFKA_SERVICES;
export type ServiceName = (typeof SERVICES)[number];

/**
 * Event time of the run's first simulated event: a session open long past, so the simulated clock
 * (wall pace, events/s of event time) never reaches the wall clock and no event is a future time.
 */
export const SIMULATOR_START_OF_RUN = '2025-03-04T14:30:00Z';

/** Bucket the benchmark's archive writes to: the test bucket, so the archive `npm start` keeps is left alone. */
export const ARCHIVE_BUCKET = 'tributary-test';

/** Where the archive keeps files of its own during the run (its query cache and batch folder). */
export function scratchDirOf(names: RunNames): string {
  return join(tmpdir(), `tributary-${names.runId}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * The five built services (`dist/apps/<service>/main.js`) as child processes of this script, each
 * on a free port, with consumer groups, change-capture slot and archive catalog of this run.
 * The collector and the gateway have no topic prefix: they run on the catalog's own topic names, as
 * `npm start` does, and so does the CEP engine (which could take one) since it reads what they write.
 */
export class PlatformServices {
  private readonly running = new Map<ServiceName, ServiceProcess>();
  /** Event time (epoch ms) the next collector's simulator starts at. */
  private nextEventMs = Date.parse(SIMULATOR_START_OF_RUN);

  constructor(
    private readonly names: RunNames,
    private readonly config: BenchConfig,
  ) {}

  /** Starts the services (not yet the collector, which each step starts at its own rate) and waits until each is ready. */
  async startConsumers(): Promise<void> {
    await Promise.all(
      (['kafka-gateway', 'cdc-listener', 'cep-engine', 'historical-data-manager'] as const).map((service) =>
        this.start(service),
      ),
    );
  }

  /**
   * (Re)starts the collector with its simulator at `eventsPerSecond` arrivals per second of event time.
   * The simulated clock is the run's own: it starts at SIMULATOR_START_OF_RUN and each restart goes on
   * just after the last event time the previous collector of the run published (SIMULATOR_RESUME off).
   * With the collector's own resume, the clock would go on from the newest event time on the shared
   * market.quotes, which other runs may have brought up to the wall clock: past the session's close
   * the next open lies in the future, and every event the simulator generates is refused as a
   * future time and dead-lettered (the service publishes nothing while its CPU idles).
   */
  async startCollector(eventsPerSecond: number): Promise<void> {
    await this.stop('options-collector');
    await this.start('options-collector', {
      SIMULATOR_EVENTS_PER_SECOND: String(eventsPerSecond),
      SIMULATOR_RESUME: 'false',
      SIMULATOR_START: new Date(this.nextEventMs).toISOString(),
    });
  }

  /** The collector's newest published event time (epoch ms) from its /status; undefined when it has none or does not answer. */
  async collectorEventTimeMs(): Promise<number | undefined> {
    const baseUrl = this.baseUrl('options-collector');
    if (!baseUrl) return undefined;
    try {
      const response = await fetch(`${baseUrl}/status`, { signal: AbortSignal.timeout(5_000) });
      if (!response.ok) return undefined;
      const { lastEventTime } = (await response.json()) as { lastEventTime?: string | null };
      return lastEventTime ? nanosToMs(lastEventTime) : undefined;
    } catch {
      return undefined;
    }
  }

  baseUrl(service: ServiceName): string | undefined {
    return this.running.get(service)?.baseUrl;
  }

  pidOf(service: ServiceName): number | undefined {
    return this.running.get(service)?.child.pid;
  }

  /** Fails naming the service, with the end of its output, when one of them ended by itself. */
  assertAlive(): void {
    for (const [service, running] of this.running) {
      if (running.child.exitCode !== null || running.child.signalCode !== null) {
        throw new Error(
          `${service} ended during the run (${running.child.exitCode ?? running.child.signalCode}):\n${running.output().slice(-3000)}`,
        );
      }
    }
  }

  /** SIGTERM (the service finishes its batch in flight and commits), SIGKILL after 20 s. */
  async stop(service: ServiceName): Promise<void> {
    const running = this.running.get(service);
    if (!running) return;
    // The simulated clock of the next collector: past the last event this one published, also past
    // what it publishes while stopping (event time runs at wall pace), with a second to spare.
    const lastEventMs = service === 'options-collector' ? await this.collectorEventTimeMs() : undefined;
    const readAtMs = Date.now();
    this.running.delete(service);
    await running.stop(20_000);
    if (lastEventMs !== undefined)
      this.nextEventMs = Math.max(this.nextEventMs, lastEventMs + (Date.now() - readAtMs) + 1_000);
  }

  /** The source first, so the consumers finish what it wrote; then the rest together. */
  async stopAll(): Promise<void> {
    await this.stop('options-collector');
    await Promise.all([...this.running.keys()].map((service) => this.stop(service)));
  }

  private async start(service: ServiceName, extra: Record<string, string> = {}): Promise<void> {
    const started = startService(service, {
      port: await freePort(),
      env: { ...this.envOf(service), ...extra },
    });
    this.running.set(service, started);
    const exited = started.exited.then((code) => {
      throw new Error(`${service} exited with ${code} while starting`);
    });
    try {
      await Promise.race([waitForHttpStatus(`${started.baseUrl}/health/ready`, 200, 180_000), exited]);
    } catch (error) {
      throw new Error(
        `${service} did not become ready: ${error instanceof Error ? error.message : String(error)}\n${started.output().slice(-3000)}`,
      );
    }
  }

  private envOf(service: ServiceName): Record<string, string> {
    const common = {
      LOG_LEVEL: 'warn',
      INSTANCE_ID: this.names.instanceId,
      KAFKA_GROUP_ID: this.names.groupOf(service),
    };
    const scratch = scratchDirOf(this.names);
    switch (service) {
      case 'options-collector':
        return { ...common, SIMULATOR_SCENARIO_INTERVAL_MS: String(this.config.scenarioIntervalMs) };
      case 'kafka-gateway':
        // The catalog's topics are shared with whoever else uses this broker: create missing ones only, change no config.
        return { ...common, GATEWAY_APPLY_CATALOG_ON_START: 'false' };
      case 'cdc-listener':
        // Its slot is permanent and holds WAL until dropped: one of this run, dropped at the end.
        return {
          ...common,
          CDC_SLOT_NAME: this.names.cdc.slot,
          CDC_PUBLICATION: this.names.cdc.publication,
          CDC_SCHEMA: this.names.cdc.schema,
          CDC_TOPIC_PREFIX: `${this.names.topicPrefix}cdc`,
          CDC_TRANSACTION_TOPIC: `${this.names.topicPrefix}cdc.transactions`,
        };
      case 'cep-engine':
        return common;
      case 'historical-data-manager':
        return {
          ...common,
          ARCHIVE_TOPICS: this.config.archiveTopics.join(','),
          ARCHIVE_CATALOG_SCHEMA: this.names.archiveSchema,
          // Emptied of this run's files at the end.
          S3_BUCKET: ARCHIVE_BUCKET,
          // Nothing but the archive path during the run: no compaction or retention passes.
          ARCHIVE_COMPACTION_INTERVAL_MS: '0',
          ARCHIVE_RETENTION_INTERVAL_MS: '0',
          HISTORY_CACHE_DIR: join(scratch, 'history-cache'),
          BATCH_WORK_DIR: join(scratch, 'batch'),
        };
    }
  }
}
