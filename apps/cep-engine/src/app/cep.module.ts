import { type DynamicModule, Inject, Injectable, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { KAFKA_CONNECTION, KAFKA_LOGGER, type KafkaConnection, TypedProducer } from '@tributary/kafka';
import { TributaryMetrics } from '@tributary/observability';
import type { CepEngineConfig } from '../config';
import { CepTopics } from './engine/cep-topics';
import type { PartitionProcessor } from './engine/partition-processor';
import { CepController } from './http/cep.controller';
import { CepRunner } from './kafka/cep-runner';
import { CepMetrics } from './observability/cep-metrics';
import { RecentAlerts } from './observability/recent-alerts';
import { RuleAdmin } from './rules/rule-admin';
import { RuleBook } from './rules/rule-book';
import { defaultRuleSpecs, ruleCompiler, ruleLimitsOf } from './rules/rule-sources';

const CEP_CONFIG = Symbol('cep.config');

function writerOf(config: CepEngineConfig): string {
  return `cep-engine/${config.INSTANCE_ID ?? process.env['HOSTNAME'] ?? 'local'}`;
}

/** Starts the engine loop once the app is up and stops it (committing) before Kafka disconnects. */
@Injectable()
class CepLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(CepRunner) private readonly runner: CepRunner) {}

  onApplicationBootstrap(): void {
    this.runner.start();
  }

  onApplicationShutdown(): Promise<void> {
    return this.runner.stop();
  }
}

/** The pattern engine on Kafka: rules from the rules topic, engines per partition, transactional alerts. */
@Module({})
export class CepModule {
  static forRoot(config: CepEngineConfig): DynamicModule {
    return {
      module: CepModule,
      controllers: [CepController],
      providers: [
        { provide: CEP_CONFIG, useValue: config },
        { provide: CepTopics, useValue: new CepTopics(config.CEP_TOPIC_PREFIX) },
        { provide: RuleBook, useFactory: () => new RuleBook(ruleCompiler(ruleLimitsOf(config))) },
        { provide: RecentAlerts, useValue: new RecentAlerts(config.CEP_RECENT_ALERTS) },
        {
          provide: RuleAdmin,
          useFactory: (rules: RuleBook, producer: TypedProducer, topics: CepTopics) => new RuleAdmin(rules, producer, topics, writerOf(config)),
          inject: [RuleBook, TypedProducer, CepTopics],
        },
        {
          provide: CepRunner,
          useFactory: (connection: KafkaConnection, rules: RuleBook, topics: CepTopics, recent: RecentAlerts, logger: Logger, metrics: TributaryMetrics) => {
            const processors = { of: (): PartitionProcessor[] => [] };
            const cepMetrics = new CepMetrics(metrics.registry, () => processors.of(), rules);
            const runner = new CepRunner(rules, {
              connection,
              group: config.KAFKA_GROUP_ID,
              writer: writerOf(config),
              topics,
              commitIntervalMs: config.CEP_COMMIT_INTERVAL_MS,
              idlePartitionMs: config.CEP_IDLE_PARTITION_MS,
              idleKeyTtlNs: config.CEP_IDLE_KEY_TTL_MS * 1_000_000,
              transactionTimeoutMs: config.CEP_TRANSACTION_TIMEOUT_MS,
              replicationFactor: config.KAFKA_REPLICATION_FACTOR,
              startFrom: config.CEP_START_FROM,
              seedRules: config.CEP_SEED_DEFAULT_RULES ? defaultRuleSpecs() : null,
              logger: logger.child({ component: 'cep' }),
              metrics: cepMetrics,
              recent,
            });
            processors.of = () => runner.processors();
            return runner;
          },
          inject: [KAFKA_CONNECTION, RuleBook, CepTopics, RecentAlerts, KAFKA_LOGGER, TributaryMetrics],
        },
        CepLifecycle,
      ],
      exports: [CepRunner, RuleBook],
    };
  }
}
