import { EventTimeline, type CepRecord } from '../../watermark';
import { compileRule } from '../compile';
import { recordsOf, replayRecords, type ReplayInput } from '../harness';
import type { CepEvent, RuleSpec } from '../rule';
import { ScenarioBuilder, type ChainContractInput } from '../scenario';
import { BUILTIN_PATTERNS } from '.';
import { seededRandom as prng } from '@tributary/testing';

const EXPIRY = '2025-04-17';
const YEARS = (Date.UTC(2025, 3, 17, 20) - 1742567400123) / (365 * 86_400_000);

function parityChain(implied: number, callShift = 0, atmIv = 0.25): ChainContractInput[] {
  const out: ChainContractInput[] = [];
  for (const strike of [205, 210, 215, 220, 225]) {
    const put = 5 + Math.max(0, strike - 214);
    const call = put + implied - strike * Math.exp(-0.045 * YEARS) + (strike === 215 ? callShift : 0);
    const iv = strike === 215 ? atmIv : 0.3;
    out.push({ expiration: EXPIRY, strike, right: 'call', bid: call - 0.02, ask: call + 0.02, iv }, { expiration: EXPIRY, strike, right: 'put', bid: put - 0.02, ask: put + 0.02, iv });
  }
  return out;
}

/** One trading story per built-in, on several partitions, each making its built-in fire. */
function market(): ReplayInput[] {
  const s = new ScenarioBuilder();
  const random = prng(11);
  let spy = 575;
  let qqq = 490;
  for (let i = 0; i < 200; i++) {
    // AAPL: quiet, then a surge at 60 s (MOMENTUM_SURGE); NVDA: a volume burst at 40 s (VOLUME_ANOMALY).
    if (i < 120) s.at(i * 500).trade('AAPL', 200 + (i % 2) * 0.02, 100, 1);
    else if (i < 125) s.at(60_000 + (i - 119) * 1_000).trade('AAPL', 200 * (1 + 0.003 * (i - 119)), 2_000, 1);
    for (let t = 0; t < 5 && i < 41; t++) s.at(i * 1_000 + t * 200).trade('NVDA', 120, i === 40 ? 2_000 : 200 + (i % 5) * 20, 2);
    // SPY and QQQ: coupled for 90 s, then apart (CORRELATION_BREAK).
    const common = (random() - 0.5) * 0.002;
    spy *= 1 + common;
    qqq *= 1 + (i < 90 ? common + (random() - 0.5) * 0.0004 : (random() - 0.5) * 0.002);
    s.at(i * 1_000 + 10).trade('SPY', spy, 100, 3).at(i * 1_000 + 20).trade('QQQ', qqq, 100, 4);
    // AAPL chains and quotes: parity implies +1% from 30 s (PRICE_DIVERGENCE), a rich call at 50 s
    // (ARBITRAGE_OPPORTUNITY), the ATM volatility jumps at 70 s (VOLATILITY_SPIKE).
    if (i < 80) {
      for (let q = 0; q < 4; q++) s.at(i * 1_000 + q * 250).quote('AAPL', 213.99, 214.01, 1_000, 1_000, 5);
      s.at(i * 1_000 + 500).chain('AAPL', 214, parityChain(i >= 30 && i < 40 ? 216.14 : 214, i === 50 ? 0.3 : 0, i >= 70 ? 0.34 : 0.25 + (i % 3) * 0.002), {}, 6);
    }
  }
  // QQQ book thinning at 100 s (LIQUIDITY_DRAIN).
  for (let i = 0; i < 10; i++) s.at(100_000 + i * 100).quote('QQQ', 490, 490.02, 1_000 + (i % 2) * 100, 1_000, 7);
  [900, 700, 600, 400, 300].forEach((size, i) => s.at(101_000 + i * 100).quote('QQQ', 490, 490.02 + i * 0.01, size, size, 7));
  // TSLA: negative news, then a 3% fall (SENTIMENT_PRICE); five sweeps (OPTION_FLOW).
  s.at(10_000).trade('TSLA', 260, 100, 8).at(20_000).news(['TSLA'], -0.8, {}, 9);
  [258, 255, 252].forEach((price, i) => s.at(30_000 + i * 10_000).trade('TSLA', price, 100, 8));
  [0, 3_000, 5_000, 7_000, 9_000].forEach((at) => s.at(at).flow('TSLA', { premium: 200_000 }, 10));
  // ACC-1 goes over its AAPL quantity limit (RISK_BREACH).
  s.at(0).limit('ACC-1', 'max_position_quantity', 1_000, { symbol: 'AAPL', op: 'c' }, 0).at(5_000).position('ACC-1', 'AAPL', 1_500, 210, 'c', 'cdc.trading.positions', 1);
  return s.events;
}

const PARAMS: Record<string, Record<string, unknown>> = {
  MOMENTUM_SURGE: { windowMs: 10_000, baselineMs: 60_000, minSamples: 5 },
  VOLUME_ANOMALY: { bucketMs: 1_000, windowMs: 60_000, minSamples: 30 },
  CORRELATION_BREAK: { windowMs: 60_000, minSamples: 30 },
  PRICE_DIVERGENCE: { confirmWithinMs: 5_000, minDaysToExpiry: 0 },
  ARBITRAGE_OPPORTUNITY: {},
  VOLATILITY_SPIKE: { lookbackMs: 60_000, minSamples: 10, minDaysToExpiry: 0 },
  LIQUIDITY_DRAIN: {},
  SENTIMENT_PRICE: {},
  OPTION_FLOW: {},
  RISK_BREACH: {},
};

/** Reorders records randomly, each arriving up to `boundNs` after its event time. */
function shuffleWithin(records: CepRecord<CepEvent>[], boundNs: number, seed: number): CepRecord<CepEvent>[] {
  const random = prng(seed);
  return records
    .map((record) => ({ record, at: record.ts + random() * boundNs }))
    .sort((a, b) => a.at - b.at)
    .map(({ record }) => record);
}

describe('built-in patterns in event time', () => {
  const inputs = market();
  const records = recordsOf(inputs, new EventTimeline(inputs[0].value['ts'] as string)).sort((a, b) => a.ts - b.ts);

  it.each(Object.keys(BUILTIN_PATTERNS))('%s gives the same alerts for any arrival order within its out-of-orderness', (name) => {
    const spec: RuleSpec = { id: name.toLowerCase(), version: 1, enabled: true, severity: 'info', builtin: name, params: PARAMS[name] };
    const rule = compileRule(spec);
    const inOrder = replayRecords(rule, records);
    expect(inOrder.matches.length).toBeGreaterThan(0);
    expect(inOrder.late).toHaveLength(0);
    for (const seed of [1, 2, 3]) {
      const shuffled = shuffleWithin(records, rule.options.outOfOrdernessNs, seed * 97 + name.length);
      expect(shuffled.map((r) => r.offset + r.topic + r.partition)).not.toEqual(records.map((r) => r.offset + r.topic + r.partition));
      const replay = replayRecords(rule, shuffled);
      expect(replay.late).toHaveLength(0);
      expect(replay.matches).toEqual(inOrder.matches);
      expect(replay.alerts).toEqual(inOrder.alerts);
    }
  });
});
