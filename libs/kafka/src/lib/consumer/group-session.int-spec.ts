import { randomUUID } from 'node:crypto';
import { Consumer } from '@platformatic/kafka';
import { eventually } from '@tributary/testing';
import { LedTopics } from '../../testing/led-topics';
import type { Assignment } from './group-protocol';
import { GroupSession, type GroupSessionOptions } from './group-session';

const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const partitionsOf = (assignment: Assignment, topic: string) => [...(assignment.get(topic) ?? [])].sort();

describe('GroupSession: a consumer group member speaking the group protocol to the real broker', () => {
  const run = `it-group-${randomUUID().slice(0, 8)}`;
  const topics = new LedTopics(run, brokers);
  const clients: Consumer[] = [];

  function session(groupId: string, options: Omit<GroupSessionOptions, 'groupId'>): GroupSession {
    const client = new Consumer({ clientId: run, groupId, bootstrapBrokers: brokers });
    clients.push(client);
    return new GroupSession(client, { groupId, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 300, rebalanceTimeoutMs: 20_000, ...options });
  }

  const topic = (name: string, partitions: number) => topics.create(name, partitions);

  afterAll(async () => {
    await topics.cleanup();
    await Promise.all(clients.map((client) => client.close()));
  });

  it('members share the partitions; a member finishes and commits before a rebalance takes partitions away; one that leaves hands them over', async () => {
    const name = await topic('share', 4);
    const groupId = `${run}-share`;
    const events: string[] = [];
    const first: GroupSession = session(groupId, {
      topics: [name],
      onAssign: (assignment, generation) => {
        events.push(`first assigned ${partitionsOf(assignment, name).join(',')} in ${generation}`);
      },
      onRevoke: async (assignment) => {
        events.push(`first revoked ${partitionsOf(assignment, name).join(',')}`);
        // Work in flight finishes now: its offsets still count, in the old generation.
        if (partitionsOf(assignment, name).includes(3)) await first.commit([{ topic: name, partition: 3, offset: 7n }]);
      },
    });
    const alone = await first.join();
    expect(partitionsOf(alone, name)).toEqual([0, 1, 2, 3]);
    await first.commit([0, 1, 2, 3].map((partition) => ({ topic: name, partition, offset: 5n, metadata: 'checkpoint' })));

    const second = session(groupId, { topics: [name] });
    const secondShare = await second.join();
    await eventually(() => (first.assignment.get(name)?.length ?? 0) === 2, 'the first member rejoined with half the partitions');
    const all = [...partitionsOf(first.assignment, name), ...partitionsOf(secondShare, name)].sort();
    expect(all).toEqual([0, 1, 2, 3]);
    expect(partitionsOf(secondShare, name)).toHaveLength(2);
    // Revoked before it was assigned again.
    expect(events.indexOf('first revoked 0,1,2,3')).toBeGreaterThan(0);
    expect(events.indexOf('first revoked 0,1,2,3')).toBeLessThan(events.length - 1);

    const committed = await second.committed(new Map([[name, [0, 1, 2, 3]]]));
    expect([0, 1, 2, 3].map((partition) => committed.get(`${name}:${partition}`))).toEqual([5n, 5n, 5n, 7n]);

    await second.leave();
    await eventually(() => (first.assignment.get(name)?.length ?? 0) === 4, 'the first member took over every partition');
    await first.leave();
  });

  it('a static member restarted within the session timeout keeps its partitions, and the other member keeps its own without a rebalance', async () => {
    const name = await topic('static', 2);
    const groupId = `${run}-static`;
    let otherRevoked = 0;
    const other = session(groupId, { topics: [name], groupInstanceId: 'pod-b', onRevoke: () => void otherRevoked++ });
    const pod = session(groupId, { topics: [name], groupInstanceId: 'pod-a' });
    await Promise.all([other.join(), pod.join()]);
    // Whichever joined first had both partitions until the other one's join rebalanced the group.
    await eventually(
      () => partitionsOf(other.assignment, name).length === 1 && partitionsOf(pod.assignment, name).length === 1,
      'one partition each',
    );
    const otherShare = other.assignment;
    const podShare = pod.assignment;
    expect([...partitionsOf(otherShare, name), ...partitionsOf(podShare, name)].sort()).toEqual([0, 1]);
    const revokedBefore = otherRevoked;

    // The pod goes away without leaving (a static member keeps its place) and comes back under the same instance id.
    await pod.leave();
    const restarted = session(groupId, { topics: [name], groupInstanceId: 'pod-a' });
    const again = await restarted.join();
    expect(partitionsOf(again, name)).toEqual(partitionsOf(podShare, name));
    // Some heartbeats later the other member is still in its generation, with its partitions.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(otherRevoked).toBe(revokedBefore);
    expect(partitionsOf(other.assignment, name)).toEqual(partitionsOf(otherShare, name));
    await Promise.all([restarted.leave(), other.leave()]);
  });
});
