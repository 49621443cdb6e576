export * from './lib/normal-distribution';
export * from './lib/black-scholes';
export * from './lib/implied-volatility';
export * from './lib/time-to-expiry';
