import { coPartitionAssignor, coPartitionedAssignment } from './co-partition-assigner';

describe('co-partitioned assignment', () => {
  it('gives partition N of every topic to the same member, so a symbol\'s streams meet in one instance', () => {
    const assignment = coPartitionedAssignment(['member-b', 'member-a'], {
      'options.quotes': [0, 1, 2, 3],
      'market.quotes': [0, 1, 2, 3],
    });
    expect(Object.fromEntries(assignment)).toEqual({
      'member-a': { 'options.quotes': [0, 2], 'market.quotes': [0, 2] },
      'member-b': { 'options.quotes': [1, 3], 'market.quotes': [1, 3] },
    });
  });

  it('deals partition numbers a topic lacks only for the topics that have them', () => {
    const assignment = coPartitionedAssignment(['m'], { 'cep.rules': [0], 'market.trades': [0, 1] });
    expect(assignment.get('m')).toEqual({ 'cep.rules': [0], 'market.trades': [0, 1] });
  });

  it('splits the same way whatever order the members are listed in', () => {
    const topics = { a: [0, 1, 2, 3, 4, 5], b: [0, 1, 2, 3, 4, 5] };
    expect(coPartitionedAssignment(['x', 'y', 'z'], topics)).toEqual(coPartitionedAssignment(['z', 'x', 'y'], topics));
  });

  it('assigns nothing without members', () => {
    expect(coPartitionedAssignment([], { a: [0] }).size).toBe(0);
  });

  it('as the group leader runs it, only the topics some member subscribes to are dealt out', () => {
    const members = [
      { memberId: 'm-2', subscription: { topics: ['market.trades', 'market.quotes'] } },
      { memberId: 'm-1', subscription: { topics: ['market.trades', 'market.quotes'] } },
    ];
    const counts = new Map([
      ['market.trades', 4],
      ['market.quotes', 4],
      ['cep.rules', 1],
    ]);
    const assignment = coPartitionAssignor.assign(members, counts);
    expect(coPartitionAssignor.name).toBe('TributaryCoPartitioned');
    expect(Object.fromEntries([...assignment].map(([member, topics]) => [member, Object.fromEntries(topics)]))).toEqual({
      'm-1': { 'market.trades': [0, 2], 'market.quotes': [0, 2] },
      'm-2': { 'market.trades': [1, 3], 'market.quotes': [1, 3] },
    });
  });
});
