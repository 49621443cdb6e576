import { topicSpec, type TopicSpec } from '@tributary/contracts';

/** Name of the compacted changelog holding each partition's engine state and offsets (not a catalog topic). */
export const CHECKPOINT_TOPIC = 'cep.checkpoints';

/**
 * The topic names this service uses on the cluster. Rules name catalog topics (`market.trades`); with a
 * prefix (`CEP_TOPIC_PREFIX`, e.g. `staging.`) every topic read or written is `<prefix><catalog name>`,
 * with the catalog's schema. Tests use it to run against topics no one else writes.
 */
export class CepTopics {
  constructor(readonly prefix = '') {}

  /** The cluster name of a catalog topic. */
  onCluster(catalogName: string): string {
    return `${this.prefix}${catalogName}`;
  }

  /** The catalog name of a cluster topic, or undefined when the topic is not one of ours. */
  catalogName(clusterName: string): string | undefined {
    return clusterName.startsWith(this.prefix) ? clusterName.slice(this.prefix.length) : undefined;
  }

  /** The catalog spec of a cluster topic (schema, key, event time). */
  specOf(clusterName: string): TopicSpec | undefined {
    const name = this.catalogName(clusterName);
    return name === undefined ? undefined : topicSpec(name);
  }

  get alerts(): string {
    return this.onCluster('cep.alerts');
  }

  get rules(): string {
    return this.onCluster('cep.rules');
  }

  get sideOutputs(): string {
    return this.onCluster('cep.side-outputs');
  }

  get checkpoints(): string {
    return this.onCluster(CHECKPOINT_TOPIC);
  }
}
