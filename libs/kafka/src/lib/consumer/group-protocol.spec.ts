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
  // Version 0 of ConsumerProtocolSubscription / ConsumerProtocolAssignment (Kafka's
  // clients/src/main/resources/common/message), as the Java client writes them: int16 version,
  // int32-counted arrays, int16-prefixed strings, int32-prefixed user data.
  it('subscriptions are the bytes the Java client writes, and read back', () => {
    const ours = encodeSubscription({ topics: ['market.trades', 'options.quotes'], userData: Buffer.from('x') });
    const theirs = Buffer.from(
      '0000' + '00000002' + '000d' + Buffer.from('market.trades').toString('hex') + '000e' + Buffer.from('options.quotes').toString('hex') + '00000001' + '78',
      'hex',
    );
    expect(ours.equals(theirs)).toBe(true);
    expect(decodeSubscription(theirs)).toEqual({ topics: ['market.trades', 'options.quotes'], userData: Buffer.from('x') });
  });

  it('assignments are the bytes the Java client writes, and read back; an empty one is no partitions', () => {
    const assignment = new Map([
      ['market.trades', [0, 2]],
      ['options.quotes', [1]],
    ]);
    const ours = encodeAssignment(assignment, Buffer.alloc(0));
    const theirs = Buffer.from(
      '0000' +
        '00000002' +
        ('000d' + Buffer.from('market.trades').toString('hex') + '00000002' + '00000000' + '00000002') +
        ('000e' + Buffer.from('options.quotes').toString('hex') + '00000001' + '00000001') +
        '00000000',
      'hex',
    );
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
