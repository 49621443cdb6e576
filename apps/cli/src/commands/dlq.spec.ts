import type { Io } from '../lib/cli-context';
import { runCli } from '../program';
import { dlqName, dlqTable, purgeBody, recordsTable, replayBody } from './dlq';

function capture(): Io & { stderr: string[] } {
  const stderr: string[] = [];
  return { stderr, out: () => undefined, err: (t) => stderr.push(t), progress: () => undefined };
}

describe('the dlq commands', () => {
  it('name the DLQ of a topic, or keep a DLQ name', () => {
    expect(dlqName('market.trades')).toBe('market.trades.dlq');
    expect(dlqName('market.trades.dlq')).toBe('market.trades.dlq');
  });

  it('turn the replay flags into the body the gateway takes: offsets or a range, never both', () => {
    expect(replayBody({ offsets: '12, 15' })).toEqual({ partition: 0, offsets: ['12', '15'] });
    expect(replayBody({ partition: '2', fromOffset: '10', toOffset: '20' })).toEqual({
      partition: 2,
      fromOffset: '10',
      toOffset: '20',
    });
    expect(replayBody({ toOffset: '5' })).toEqual({ partition: 0, fromOffset: '0', toOffset: '5' });
    for (const bad of [
      {},
      { offsets: '1', fromOffset: '0' },
      { offsets: 'x' },
      { offsets: ',' },
      { fromOffset: '5', toOffset: '5' },
      { offsets: '1', partition: '-1' },
    ]) {
      expect(() => replayBody(bad)).toThrow(expect.objectContaining({ exitCode: 2 }));
    }
  });

  it("purge only with the DLQ's own name as confirmation", () => {
    expect(purgeBody('market.trades', { before: '100', confirm: 'market.trades.dlq' })).toEqual({
      confirm: 'market.trades.dlq',
      partition: 0,
      beforeOffset: '100',
    });
    expect(() => purgeBody('market.trades', { before: '100', confirm: 'market.trades' })).toThrow(
      expect.objectContaining({
        exitCode: 2,
        message: expect.stringContaining('--confirm market.trades.dlq'),
      }),
    );
    expect(() => purgeBody('market.trades', { before: 'soon', confirm: 'market.trades.dlq' })).toThrow(
      expect.objectContaining({ exitCode: 2 }),
    );
  });

  it('a purge without its confirmation is a usage error before any request', async () => {
    const io = capture();
    const code = await runCli(['dlq', 'purge', 'market.trades', '--before', '10', '--confirm', 'yes'], io, {
      XDG_CONFIG_HOME: '/nonexistent-dir',
      TRIBUTARY_KAFKA_GATEWAY_URL: 'http://127.0.0.1:9',
    });
    expect(code).toBe(2);
    expect(io.stderr.join('\n')).toContain('confirm with --confirm market.trades.dlq');
    expect(
      await runCli(['dlq', 'purge', 'market.trades', '--confirm', 'market.trades.dlq'], capture(), {}),
    ).toBe(2);
  });

  it('list the DLQs with the offsets they hold, and records with their origin and reason', () => {
    expect(
      dlqTable([
        {
          dlqTopic: 'market.trades.dlq',
          records: '3',
          partitions: [
            { partition: 0, low: '2', high: '5', records: '3' },
            { partition: 1, low: '0', high: '0', records: '0' },
          ],
        },
        { dlqTopic: 'market.quotes.dlq', records: '0', partitions: [] },
      ]).split('\n'),
    ).toEqual([
      'DLQ                RECORDS  PARTITIONS',
      'market.trades.dlq  3        0:2-5',
      'market.quotes.dlq  0        -',
    ]);
    expect(
      recordsTable([
        {
          originalTopic: 'market.trades',
          partition: 3,
          offset: '41',
          key: 'SPY',
          value: '{}',
          encoding: 'utf8',
          reason: 'price is an outlier',
          errorType: 'OutlierError',
          attempts: 1,
          consumerGroup: 'g',
          failedAt: '2026-01-05T14:00:00.000Z',
          dlqPartition: 0,
          dlqOffset: '7',
        },
      ]).split('\n')[1],
    ).toBe(
      '7       2026-01-05T14:00:00.000Z  OutlierError  1         market.trades/3@41  SPY  price is an outlier',
    );
  });
});
