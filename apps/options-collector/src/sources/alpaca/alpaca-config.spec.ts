import { ConfigError, parseEnv } from '@tributary/config';
import { optionsCollectorConfigIssues, optionsCollectorEnv } from '../../config';
import { createAlpacaSource } from './alpaca-config';
import { AlpacaMarketSource } from './alpaca-source';

describe('Alpaca source configuration', () => {
  const parse = (env: Record<string, string>) => parseEnv(optionsCollectorEnv, env, optionsCollectorConfigIssues);

  it('refuses MARKET_SOURCE=alpaca without both keys, naming each missing variable', () => {
    const error = (() => {
      try {
        parse({ MARKET_SOURCE: 'alpaca', ALPACA_API_KEY_ID: 'PKCONFIG0001' });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([
      { variable: 'ALPACA_API_SECRET_KEY', message: 'is required with MARKET_SOURCE=alpaca' },
    ]);
  });

  it('needs no keys for the simulator', () => {
    expect(parse({}).MARKET_SOURCE).toBe('simulator');
  });

  it('refuses a stream URL that is not a WebSocket URL and a feed Alpaca does not have, without echoing the keys', () => {
    expect(() =>
      parse({
        MARKET_SOURCE: 'alpaca',
        ALPACA_API_KEY_ID: 'PKCONFIG0001',
        ALPACA_API_SECRET_KEY: 'config-secret-xyz',
        ALPACA_STREAM_URL: 'https://stream.data.alpaca.markets',
        ALPACA_OPTIONS_FEED: 'sip',
      }),
    ).toThrow(/ALPACA_STREAM_URL: must use one of the protocols wss, ws[\s\S]*ALPACA_OPTIONS_FEED: must be one of indicative, opra/);
    let message = '';
    try {
      parse({ MARKET_SOURCE: 'alpaca', ALPACA_API_SECRET_KEY: 'config-secret-xyz', ALPACA_DATA_URL: 'nope' });
    } catch (error) {
      message = String(error);
    }
    expect(message).toMatch(/ALPACA_DATA_URL: must be an absolute URL/);
    expect(message).not.toContain('config-secret-xyz');
  });

  it('builds the Alpaca source from a valid configuration, with the production endpoints by default', () => {
    const config = parse({ MARKET_SOURCE: 'alpaca', ALPACA_API_KEY_ID: 'PKCONFIG0001', ALPACA_API_SECRET_KEY: 'config-secret-xyz' });
    expect(config).toMatchObject({
      ALPACA_TRADING_URL: 'https://api.alpaca.markets',
      ALPACA_DATA_URL: 'https://data.alpaca.markets',
      ALPACA_STREAM_URL: 'wss://stream.data.alpaca.markets',
      ALPACA_OPTIONS_FEED: 'indicative',
      ALPACA_STOCKS_FEED: 'iex',
      ALPACA_CONTRACTS_REFRESH_MS: 3_600_000,
      ALPACA_SNAPSHOTS_REFRESH_MS: 60_000,
    });
    const source = createAlpacaSource(config);
    expect(source).toBeInstanceOf(AlpacaMarketSource);
    expect(source.name).toBe('alpaca');
    expect(source.listing.lists('SPY')).toBe(true);
    expect(JSON.stringify(source.connectionStatus())).not.toContain('config-secret-xyz');
  });
});
