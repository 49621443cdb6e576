import { ConfigError, type ConfigIssue, env } from '@tributary/config';
import { AlpacaMarketSource, type AlpacaOptionsFeed, type AlpacaSourceOptions, type AlpacaStocksFeed } from './alpaca-source';

const OPTIONS_FEEDS: readonly AlpacaOptionsFeed[] = ['indicative', 'opra'];
const STOCKS_FEEDS: readonly AlpacaStocksFeed[] = ['iex', 'sip', 'delayed_sip'];

/** Environment variables of the Alpaca source (read with MARKET_SOURCE=alpaca; the keys are secrets). */
export const alpacaEnv = {
  ALPACA_API_KEY_ID: env.optionalString({
    description: 'Alpaca API key id (required with MARKET_SOURCE=alpaca)',
    secret: true,
  }),
  ALPACA_API_SECRET_KEY: env.optionalString({
    description: 'Alpaca API secret key (required with MARKET_SOURCE=alpaca)',
    secret: true,
  }),
  ALPACA_TRADING_URL: env.url({
    default: 'https://api.alpaca.markets',
    protocols: ['https', 'http'],
    description: 'Alpaca trading API, for the option contract list (paper accounts: https://paper-api.alpaca.markets)',
  }),
  ALPACA_DATA_URL: env.url({
    default: 'https://data.alpaca.markets',
    protocols: ['https', 'http'],
    description: 'Alpaca market data API, for option and stock snapshots',
  }),
  ALPACA_STREAM_URL: env.url({
    default: 'wss://stream.data.alpaca.markets',
    protocols: ['wss', 'ws'],
    description: 'Alpaca market data streams; the feed paths (v1beta1/<options feed>, v2/<stocks feed>) are appended',
  }),
  ALPACA_OPTIONS_FEED: env.oneOf(OPTIONS_FEEDS, {
    default: 'indicative',
    description: 'Alpaca option feed: indicative (free plans) or opra (the consolidated OPRA feed, paid plans)',
  }),
  ALPACA_STOCKS_FEED: env.oneOf(STOCKS_FEEDS, {
    default: 'iex',
    description: 'Alpaca stock feed for the underlyings: iex (free plans), sip (all exchanges) or delayed_sip',
  }),
  ALPACA_CONTRACTS_REFRESH_MS: env.durationMs({
    default: '1h',
    min: 60_000,
    description: 'How often the option contract list (new expirations, open interest) is loaded again from Alpaca',
  }),
  ALPACA_SNAPSHOTS_REFRESH_MS: env.durationMs({
    default: '1m',
    min: 5_000,
    description: 'How often the vendor Greeks and implied volatilities are loaded again from the Alpaca option snapshots',
  }),
};

/** With MARKET_SOURCE=alpaca both keys must be set; the values are never shown. */
export function alpacaConfigIssues(config: {
  readonly ALPACA_API_KEY_ID: string | undefined;
  readonly ALPACA_API_SECRET_KEY: string | undefined;
}): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const variable of ['ALPACA_API_KEY_ID', 'ALPACA_API_SECRET_KEY'] as const) {
    if (!config[variable]) issues.push({ variable, message: 'is required with MARKET_SOURCE=alpaca' });
  }
  return issues;
}

/** The settings of the collector the Alpaca source reads. */
export interface AlpacaSourceConfig {
  readonly ALPACA_API_KEY_ID: string | undefined;
  readonly ALPACA_API_SECRET_KEY: string | undefined;
  readonly ALPACA_TRADING_URL: string;
  readonly ALPACA_DATA_URL: string;
  readonly ALPACA_STREAM_URL: string;
  readonly ALPACA_OPTIONS_FEED: AlpacaOptionsFeed;
  readonly ALPACA_STOCKS_FEED: AlpacaStocksFeed;
  readonly ALPACA_CONTRACTS_REFRESH_MS: number;
  readonly ALPACA_SNAPSHOTS_REFRESH_MS: number;
  readonly UNDERLYINGS: readonly string[];
  readonly CHAIN_MAX_DAYS_TO_EXPIRY: number;
}

/** The Alpaca source from the validated configuration (the keys were checked at start-up). */
export function createAlpacaSource(
  config: AlpacaSourceConfig,
  hooks: Pick<AlpacaSourceOptions, 'logger' | 'onReconnect' | 'onListenerError'> = {},
): AlpacaMarketSource {
  const issues = alpacaConfigIssues(config);
  if (issues.length > 0) throw new ConfigError(issues);
  return new AlpacaMarketSource({
    credentials: { keyId: config.ALPACA_API_KEY_ID ?? '', secretKey: config.ALPACA_API_SECRET_KEY ?? '' },
    tradingUrl: config.ALPACA_TRADING_URL,
    dataUrl: config.ALPACA_DATA_URL,
    streamUrl: config.ALPACA_STREAM_URL,
    optionsFeed: config.ALPACA_OPTIONS_FEED,
    stocksFeed: config.ALPACA_STOCKS_FEED,
    underlyings: config.UNDERLYINGS,
    maxDaysToExpiry: config.CHAIN_MAX_DAYS_TO_EXPIRY,
    contractsRefreshMs: config.ALPACA_CONTRACTS_REFRESH_MS,
    snapshotsRefreshMs: config.ALPACA_SNAPSHOTS_REFRESH_MS,
    ...hooks,
  });
}
