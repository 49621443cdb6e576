import { Admin } from '@platformatic/kafka';
import { eventually } from '@tributary/testing';

/**
 * Topics of one test file, created with @platformatic/kafka's admin and handed out once every
 * partition has a leader (a broker answers NOT_LEADER for a moment after creating a topic), then
 * deleted by `cleanup`.
 */
export class LedTopics {
  readonly admin: Admin;
  private readonly created: string[] = [];

  /** `prefix` names the topics (`<prefix>-<name>`) and the admin client. */
  constructor(
    private readonly prefix: string,
    brokers: readonly string[] = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(','),
  ) {
    this.admin = new Admin({ clientId: prefix, bootstrapBrokers: [...brokers] });
  }

  async create(name: string, partitions: number): Promise<string> {
    const topic = `${this.prefix}-${name}`;
    await this.admin.createTopics({ topics: [topic], partitions, replicas: 1 });
    this.created.push(topic);
    await eventually(
      async () =>
        (await this.admin.metadata({ topics: [topic], forceUpdate: true })).topics
          .get(topic)
          ?.partitions.every((partition) => partition.leader >= 0),
      `leaders of ${topic}`,
    );
    return topic;
  }

  async cleanup(): Promise<void> {
    if (this.created.length > 0) await this.admin.deleteTopics({ topics: this.created }).catch(() => undefined);
    await this.admin.close();
  }
}
