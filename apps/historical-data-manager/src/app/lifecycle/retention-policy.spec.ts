import { parseRetentionPolicy, retentionCutoffNs, retentionDaysOf } from './retention-policy';

describe('ARCHIVE_RETENTION', () => {
  it('a dataset keeps its own retention, the others take the default, forever keeps everything', () => {
    const policy = parseRetentionPolicy(['market_trades=30d', 'options_quotes=forever', 'default=90d']);
    expect(retentionDaysOf(policy, 'market_trades')).toBe(30);
    expect(retentionDaysOf(policy, 'options_quotes')).toBeNull();
    expect(retentionDaysOf(policy, 'options_flow')).toBe(90);
  });

  it('without a default, datasets without an entry are kept forever; an empty setting keeps everything', () => {
    expect(retentionDaysOf(parseRetentionPolicy(['market_trades=7d']), 'options_flow')).toBeNull();
    expect(retentionDaysOf(parseRetentionPolicy([]), 'market_trades')).toBeNull();
  });

  it('refuses, naming each, entries without a unit, with zero days, repeated, or not of the form <dataset>=<days>d', () => {
    expect(() => parseRetentionPolicy(['market_trades=30', 'default=0d', 'a=1d', 'a=2d', 'market.trades=3d', 'x=2w'])).toThrow(
      /"market_trades=30", "default=0d", "a=2d", "market.trades=3d", "x=2w"/,
    );
  });

  it('files are due once their newest event is older than the retention', () => {
    const now = 1_767_225_600_000_000_000n; // 2026-01-01T00:00:00Z
    expect(retentionCutoffNs(30, now)).toBe(BigInt(Date.parse('2025-12-02T00:00:00Z')) * 1_000_000n);
  });
});
