import { type ConfigOf, env, type EnvVar, mergeSpecs, serviceEnv } from '@tributary/config';
import { kafkaEnv } from '@tributary/kafka';
import { authEnv } from '@tributary/service';

/** A prefix of topic names: empty, or letters, digits, `.`, `_` and `-` (Kafka's topic alphabet). */
function topicPrefix(): EnvVar<string> {
  const base = env.string({
    default: '',
    description:
      'Prefix of every topic this service reads and writes (inputs, cep.alerts, cep.rules, cep.side-outputs, cep.checkpoints), e.g. "staging." (default: none)',
  });
  return {
    ...base,
    parse: (raw) => {
      const value = base.parse(raw);
      if (!/^[A-Za-z0-9._-]*$/.test(value)) throw new Error('may contain only letters, digits, ".", "_" and "-"');
      return value;
    },
  };
}

/** Environment variables of cep-engine, validated at start-up (see README.md for each). */
export const cepEngineEnv = mergeSpecs(
  serviceEnv(3104),
  kafkaEnv,
  authEnv,
  {
    KAFKA_GROUP_ID: env.string({
      default: 'tributary-cep-engine',
      description:
        'Consumer group of this service; instances sharing it split the partitions, and it names their checkpoints and transactional ids',
    }),
  },
  {
    CEP_TOPIC_PREFIX: topicPrefix(),
    CEP_COMMIT_INTERVAL_MS: env.durationMs({
      default: '200ms',
      min: 10,
      description:
        'Progress of a slot (engine state, offsets, side outputs, dead letters) is committed at least this often, the group offsets at most this often; a slot with alerts waiting commits at once',
    }),
    CEP_IDLE_PARTITION_MS: env.durationMs({
      default: '5s',
      min: 100,
      description:
        'An input partition that delivers nothing for this long (processing time) stops holding the watermark back until it delivers again',
    }),
    CEP_TRANSACTION_TIMEOUT_MS: env.durationMs({
      default: '60s',
      min: 1000,
      description: 'Kafka transaction timeout: the broker aborts a transaction of a vanished instance after this long',
    }),
    CEP_START_FROM: env.oneOf(['earliest', 'latest'] as const, {
      default: 'latest',
      description:
        'Where the group starts on an input partition it has no committed offset for: latest (new data only) or earliest (replay what the topic holds)',
    }),
    CEP_SEED_DEFAULT_RULES: env.bool({
      default: true,
      description: 'Write the built-in rules to the rules topic when it holds no rule at all',
    }),
    CEP_RECENT_ALERTS: env.int({
      default: 1000,
      min: 1,
      max: 100_000,
      description: 'How many of the latest committed alerts GET /alerts/recent keeps',
    }),
    CEP_IDLE_KEY_TTL_MS: env.durationMs({
      default: '10m',
      min: 1000,
      description: 'A key with no event for this long (event time) drops its windows, and goes once it holds no partial match',
    }),
    CEP_MAX_WITHIN_MS: env.durationMs({
      default: '6h',
      min: 1000,
      description:
        'Longest within a rule may declare (the built-in rules\' defaults are at most 30m); a longer one, or oneOrMore/allowCombinations without within, is refused by POST/PUT /rules with a 400 and, arriving on the rules topic, not run',
    }),
    CEP_MAX_PARTIAL_MATCHES_PER_KEY: env.int({
      default: 10_000,
      min: 1,
      max: 10_000_000,
      description:
        'Most partial matches one key may hold for one rule; beyond it the oldest are dropped and counted in tributary_cep_partial_matches_dropped_total',
    }),
  },
);

export type CepEngineConfig = ConfigOf<typeof cepEngineEnv>;
