import { applyLines, describeDrift, topicsTable, type TopicDriftView } from './topics';

const inSync: TopicDriftView = {
  topic: 'market.trades',
  missing: false,
  partitions: { catalog: 12, cluster: 12 },
  configs: [],
  inSync: true,
};
const drifting: TopicDriftView = {
  topic: 'market.quotes',
  missing: false,
  partitions: { catalog: 12, cluster: 6 },
  configs: [{ name: 'retention.ms', catalog: '604800000', cluster: '86400000' }],
  inSync: false,
};
const missing: TopicDriftView = {
  topic: 'candles.1m',
  missing: true,
  partitions: { catalog: 6 },
  configs: [],
  inSync: false,
};

describe('what the topics commands print', () => {
  it('names every difference of a drifting topic, and a missing one as missing', () => {
    expect(describeDrift(drifting)).toBe(
      'partitions 6 (catalog 12), retention.ms 86400000 (catalog 604800000)',
    );
    expect(
      describeDrift({
        ...drifting,
        partitions: { catalog: 12, cluster: 12 },
        configs: [{ name: 'segment.ms', catalog: '1' }],
      }),
    ).toBe('segment.ms unset (catalog 1)');
    expect(describeDrift(missing)).toBe('missing on the cluster');
  });

  it('lists the topics with cluster/catalog partitions and their state', () => {
    expect(topicsTable([inSync, drifting, missing]).split('\n')).toEqual([
      'TOPIC          PARTITIONS  STATE    DIFFERS',
      'market.trades  12/12       in sync',
      'market.quotes  6/12        drift    partitions 6 (catalog 12), retention.ms 86400000 (catalog 604800000)',
      'candles.1m     -/6         missing  missing on the cluster',
    ]);
  });

  it('prints one line per change of an apply, or that nothing changed', () => {
    const after = { inSync: true, topics: [] };
    expect(
      applyLines({
        created: ['candles.1m'],
        partitionsIncreased: [{ topic: 'market.quotes', from: 6, to: 12 }],
        partitionsNotDecreased: [{ topic: 'x', catalog: 3, cluster: 6 }],
        configsAligned: [
          {
            topic: 'market.quotes',
            configs: [{ name: 'retention.ms', catalog: '604800000', cluster: '86400000' }],
          },
        ],
        after,
      }),
    ).toEqual([
      'created candles.1m',
      'partitions of market.quotes: 6 -> 12',
      'config of market.quotes: retention.ms 86400000 -> 604800000',
      'not changed: x has 6 partitions, the catalog 3 (partitions only grow)',
    ]);
    expect(
      applyLines({
        created: [],
        partitionsIncreased: [],
        partitionsNotDecreased: [],
        configsAligned: [],
        after,
      }),
    ).toEqual(['nothing to change: the cluster matches the catalog']);
  });
});
