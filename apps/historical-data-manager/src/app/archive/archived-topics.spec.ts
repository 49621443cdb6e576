import { parseEnv } from '@tributary/config';
import { historicalDataManagerEnv } from '../../config';
import { resolveArchivedTopics } from './archived-topics';

describe('ARCHIVE_TOPICS', () => {
  it('a catalog topic is archived as its dataset with the columns of its schema', () => {
    const [trades] = resolveArchivedTopics(['market.trades']);
    expect(trades?.dataset).toMatchObject({ name: 'market_trades', topic: 'market.trades' });
    expect(trades?.dataset.columns.map((c) => c.name)).toContain('symbol');
  });

  it('<topic>:<catalog topic> archives another topic with the schema of a catalog topic', () => {
    const [replay] = resolveArchivedTopics(['replay.trades:market.trades']);
    expect(replay?.dataset).toMatchObject({ name: 'replay_trades', topic: 'replay.trades' });
    expect(replay?.spec.topic).toBe('market.trades');
  });

  it('a topic without a known schema is refused at start-up, naming the variable and the entry', () => {
    expect(() => resolveArchivedTopics(['market.trades', 'no.such.topic'])).toThrow(
      /no known schema for "no.such.topic"/,
    );
    expect(() =>
      parseEnv(historicalDataManagerEnv, { ARCHIVE_TOPICS: 'market.trades,no.such.topic' }),
    ).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ variable: 'ARCHIVE_TOPICS' })] }));
  });

  it('nothing configured archives nothing', () => {
    expect(resolveArchivedTopics([])).toEqual([]);
  });
});
