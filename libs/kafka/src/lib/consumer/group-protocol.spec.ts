import { AssignerProtocol } from 'kafkajs';
import {
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  type GroupMember,
  rangeAssignor,
} from './group-protocol';

const member = (memberId: string, topics: string[], groupInstanceId?: string): GroupMember => ({
  memberId,
  groupInstanceId,
  subscription: { topics },
});

describe('the consumer group protocol members and leaders exchange', () => {
  it('subscriptions are the bytes another Kafka client writes, and read back', () => {
    const ours = encodeSubscription({ topics: ['market.trades', 'options.quotes'], userData: Buffer.from('x') });
    const theirs = AssignerProtocol.MemberMetadata.encode({
      version: 0,
      topics: ['market.trades', 'options.quotes'],
      userData: Buffer.from('x'),
    });
    expect(ours.equals(theirs)).toBe(true);
    expect(decodeSubscription(theirs)).toEqual({ topics: ['market.trades', 'options.quotes'], userData: Buffer.from('x') });
  });

  it('assignments are the bytes another Kafka client writes, and read back; an empty one is no partitions', () => {
    const assignment = new Map([
      ['market.trades', [0, 2]],
      ['options.quotes', [1]],
    ]);
    const ours = encodeAssignment(assignment, Buffer.alloc(0));
    const theirs = AssignerProtocol.MemberAssignment.encode({
      version: 0,
      assignment: { 'market.trades': [0, 2], 'options.quotes': [1] },
      userData: Buffer.alloc(0),
    });
    expect(ours.equals(theirs)).toBe(true);
    expect(decodeAssignment(theirs)).toEqual(assignment);
    expect(decodeAssignment(Buffer.alloc(0)).size).toBe(0);
  });

  it('the range assignor splits each topic into contiguous ranges in member order, the first members one more', () => {
    const result = rangeAssignor.assign(
      [member('m-b', ['t']), member('m-a', ['t']), member('m-c', ['t'])],
      new Map([['t', 7]]),
    );
    expect(result.get('m-a')?.get('t')).toEqual([0, 1, 2]);
    expect(result.get('m-b')?.get('t')).toEqual([3, 4]);
    expect(result.get('m-c')?.get('t')).toEqual([5, 6]);
  });

  it('topics with the same partition count give the same partitions to the same member (co-partitioned)', () => {
    const members = [member('m-1', ['market.quotes', 'options.quotes']), member('m-2', ['market.quotes', 'options.quotes'])];
    const result = rangeAssignor.assign(
      members,
      new Map([
        ['market.quotes', 6],
        ['options.quotes', 6],
      ]),
    );
    for (const id of ['m-1', 'm-2']) {
      expect(result.get(id)?.get('market.quotes')).toEqual(result.get(id)?.get('options.quotes'));
    }
  });

  it('orders static members by their instance id, so a restarted pod gets the same partitions under a new member id', () => {
    const before = rangeAssignor.assign(
      [member('z-1', ['t'], 'pod-0'), member('a-1', ['t'], 'pod-1')],
      new Map([['t', 4]]),
    );
    const after = rangeAssignor.assign(
      [member('a-2', ['t'], 'pod-0'), member('z-1', ['t'], 'pod-1')],
      new Map([['t', 4]]),
    );
    expect(before.get('z-1')?.get('t')).toEqual([0, 1]);
    expect(after.get('a-2')?.get('t')).toEqual([0, 1]);
  });

  it('members not subscribed to a topic get none of it; more members than partitions leaves some idle', () => {
    const result = rangeAssignor.assign(
      [member('m-1', ['a']), member('m-2', ['a', 'b']), member('m-3', ['a'])],
      new Map([
        ['a', 2],
        ['b', 3],
      ]),
    );
    expect(result.get('m-2')?.get('b')).toEqual([0, 1, 2]);
    expect(result.get('m-1')?.has('b')).toBe(false);
    expect(result.get('m-3')?.has('a')).toBe(false);
  });
});
