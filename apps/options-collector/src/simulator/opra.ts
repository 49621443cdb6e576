/**
 * OPRA participant codes of the US options exchanges, with rough shares of volume so the simulated
 * tape looks like the real one (Cboe, PHLX, ISE and the MIAX group print the most).
 */
export const OPTION_EXCHANGES: readonly { readonly code: string; readonly name: string; readonly share: number }[] = [
  { code: 'A', name: 'NYSE American Options', share: 6 },
  { code: 'B', name: 'BOX Options Exchange', share: 3 },
  { code: 'C', name: 'Cboe Options Exchange', share: 14 },
  { code: 'D', name: 'MIAX Emerald', share: 4 },
  { code: 'E', name: 'Cboe EDGX Options', share: 4 },
  { code: 'H', name: 'Nasdaq GEMX', share: 2 },
  { code: 'I', name: 'Nasdaq ISE', share: 7 },
  { code: 'J', name: 'Nasdaq MRX', share: 1 },
  { code: 'M', name: 'MIAX Options Exchange', share: 6 },
  { code: 'N', name: 'NYSE Arca Options', share: 7 },
  { code: 'P', name: 'MIAX Pearl', share: 5 },
  { code: 'Q', name: 'Nasdaq Options Market', share: 6 },
  { code: 'S', name: 'MIAX Sapphire', share: 1 },
  { code: 'T', name: 'Nasdaq BX Options', share: 2 },
  { code: 'U', name: 'MEMX Options', share: 4 },
  { code: 'W', name: 'Cboe C2 Options', share: 3 },
  { code: 'X', name: 'Nasdaq PHLX', share: 9 },
  { code: 'Z', name: 'Cboe BZX Options', share: 6 },
];

export const OPTION_EXCHANGE_CODES = OPTION_EXCHANGES.map((exchange) => exchange.code);
export const OPTION_EXCHANGE_WEIGHTS = OPTION_EXCHANGES.map((exchange) => exchange.share);
export const OPTION_EXCHANGE_WEIGHT_TOTAL = OPTION_EXCHANGE_WEIGHTS.reduce((sum, share) => sum + share, 0);

/** OPRA trade conditions the simulator prints. */
export const OPTION_TRADE_CONDITIONS = {
  /** Electronic (auto-executed) single-leg trade. */
  autoExecuted: 'I',
  /** A fill of an intermarket sweep order (ISO). */
  intermarketSweep: 'S',
} as const;

/** Equity exchange codes (SIP participant IDs) for the underlyings' quotes and trades. */
export const STOCK_EXCHANGE_CODES: readonly string[] = ['Q', 'N', 'P', 'Z', 'K', 'V', 'J', 'Y', 'H', 'U'];
