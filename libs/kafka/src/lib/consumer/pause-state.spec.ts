import { PauseState } from './pause-state';

describe('PauseState', () => {
  it('a paused topic holds for every partition, also those assigned later', () => {
    const state = new PauseState();
    state.pause('market.trades');
    expect(state.isPaused('market.trades', 0)).toBe(true);
    expect(state.isPaused('market.trades', 11)).toBe(true);
    expect(state.isPaused('market.quotes', 0)).toBe(false);
    expect(state.list()).toEqual([{ topic: 'market.trades' }]);
  });

  it('partitions are paused and resumed one by one; the topic is clear once none is left', () => {
    const state = new PauseState();
    state.pause('market.trades', [3, 1]);
    state.pause('market.trades', [2]);
    expect(state.list()).toEqual([{ topic: 'market.trades', partitions: [1, 2, 3] }]);
    state.resume('market.trades', [1, 3]);
    expect(state.isPaused('market.trades', 1)).toBe(false);
    expect(state.isPaused('market.trades', 2)).toBe(true);
    state.resume('market.trades', [2]);
    expect(state.list()).toEqual([]);
  });

  it('resuming one partition of a topic paused whole leaves it paused; resuming the topic clears it', () => {
    const state = new PauseState();
    state.pause('market.trades', [1]);
    state.pause('market.trades');
    state.resume('market.trades', [1]);
    expect(state.isPaused('market.trades', 1)).toBe(true);
    state.resume('market.trades');
    expect(state.isPaused('market.trades', 1)).toBe(false);
    state.resume('market.quotes');
    expect(state.list()).toEqual([]);
  });
});
