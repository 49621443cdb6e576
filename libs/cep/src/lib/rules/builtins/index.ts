/** The ten built-in patterns, by name, and the rules that run each with its defaults. */
import type { BuiltinPattern } from '../builtin';
import type { RuleSpec } from '../rule';
import { ARBITRAGE_OPPORTUNITY } from './arbitrage-opportunity';
import { CORRELATION_BREAK } from './correlation-break';
import { LIQUIDITY_DRAIN } from './liquidity-drain';
import { MOMENTUM_SURGE } from './momentum-surge';
import { OPTION_FLOW } from './option-flow';
import { PRICE_DIVERGENCE } from './price-divergence';
import { RISK_BREACH } from './risk-breach';
import { SENTIMENT_PRICE } from './sentiment-price';
import { VOLATILITY_SPIKE } from './volatility-spike';
import { VOLUME_ANOMALY } from './volume-anomaly';

export const BUILTIN_PATTERNS: Readonly<Record<string, BuiltinPattern>> = Object.freeze(
  Object.fromEntries(
    [
      MOMENTUM_SURGE,
      VOLATILITY_SPIKE,
      LIQUIDITY_DRAIN,
      PRICE_DIVERGENCE,
      VOLUME_ANOMALY,
      OPTION_FLOW,
      ARBITRAGE_OPPORTUNITY,
      RISK_BREACH,
      CORRELATION_BREAK,
      SENTIMENT_PRICE,
    ].map((builtin) => [builtin.name, builtin]),
  ),
);

/** Each built-in as an enabled rule with its default parameters and severity; the id is its name in lower case. */
export function defaultRules(): RuleSpec[] {
  return Object.values(BUILTIN_PATTERNS).map((builtin) => ({
    id: builtin.name.toLowerCase(),
    version: 1,
    enabled: true,
    severity: builtin.severity,
    description: builtin.description,
    builtin: builtin.name,
    params: {},
  }));
}
