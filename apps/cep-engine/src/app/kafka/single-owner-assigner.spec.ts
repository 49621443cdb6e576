import { singleOwnerAssignment } from './single-owner-assigner';

describe('the global slot assignment', () => {
  it('gives every partition of every input to one member, the same one whatever order members join in', () => {
    const inputs = { 'cdc.trading.positions': [3, 0, 2, 1], 'cdc.trading.risk_limits': [1, 0] };
    const one = singleOwnerAssignment(['m-b', 'm-a', 'm-c'], inputs);
    const other = singleOwnerAssignment(['m-c', 'm-b', 'm-a'], inputs);
    expect(Object.fromEntries(one)).toEqual({ 'm-a': { 'cdc.trading.positions': [0, 1, 2, 3], 'cdc.trading.risk_limits': [0, 1] }, 'm-b': {}, 'm-c': {} });
    expect(Object.fromEntries(other)).toEqual(Object.fromEntries(one));
    expect(singleOwnerAssignment([], inputs).size).toBe(0);
  });
});
