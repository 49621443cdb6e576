import { Type, type Static } from '@sinclair/typebox';
import type { FieldError, ValidationContext } from '../../field-error';
import { Field, schemaId } from '../../field-types';
import { optionTermsErrors } from '../../option-contract';
import { eventTimeErrors } from '../../semantic-checks';

export const name = 'OptionChainSnapshot';
/**
 * v2 (compatible with v1): each contract may carry `vendor`, the implied volatility and Greeks as the
 * market data vendor computed them. A v1 reader ignores it (read leniently by the schema.version header).
 */
export const version = 2;

const greeks = Type.Object(
  {
    delta: Type.Number({
      minimum: -1,
      maximum: 1,
      description: 'Change in option value per 1.00 change in the underlying price.',
    }),
    gamma: Type.Number({
      minimum: 0,
      description: 'Change in delta per 1.00 change in the underlying price.',
    }),
    theta: Type.Number({ description: 'Change in option value per calendar day that passes.' }),
    vega: Type.Number({
      minimum: 0,
      description: 'Change in option value per 1 percentage point of implied volatility.',
    }),
    rho: Type.Number({ description: 'Change in option value per 1 percentage point of the risk-free rate.' }),
  },
  { description: 'Black-Scholes-Merton Greeks at the implied volatility.', additionalProperties: false },
);

const vendorGreeks = Type.Object(
  {
    delta: Type.Optional(Type.Number({ description: 'Delta as the vendor publishes it.' })),
    gamma: Type.Optional(Type.Number({ description: 'Gamma as the vendor publishes it.' })),
    theta: Type.Optional(Type.Number({ description: 'Theta as the vendor publishes it.' })),
    vega: Type.Optional(Type.Number({ description: 'Vega as the vendor publishes it.' })),
    rho: Type.Optional(Type.Number({ description: 'Rho as the vendor publishes it.' })),
  },
  {
    description:
      "Greeks computed by the vendor, in the vendor's own units (which may differ from the ones computed here); only those it sent.",
    additionalProperties: false,
  },
);

const vendor = Type.Object(
  {
    source: Type.String({
      pattern: '^[a-z][a-z0-9_-]{0,31}$',
      description: 'Who computed these figures, e.g. "alpaca".',
    }),
    iv: Type.Optional(
      Type.Number({
        minimum: 0,
        description: "The vendor's implied volatility, annualised, as a decimal (0.25 = 25%).",
      }),
    ),
    greeks: Type.Optional(vendorGreeks),
  },
  {
    description:
      'Implied volatility and Greeks as the market data vendor computed them (its own model, rate and timing), next to the ones computed here; absent when the source has none (the simulator).',
    additionalProperties: false,
  },
);

const contract = Type.Object(
  {
    symbol: Field.optionSymbol(),
    expiration: Field.date('Expiration date, YYYY-MM-DD; must agree with the symbol.'),
    strike: Field.positivePrice('Strike price; must agree with the symbol.'),
    right: Field.right('Option right; must agree with the symbol.'),
    bid: Field.price('Best bid premium per share at snapshot time; 0 when there is no bid.'),
    ask: Field.price('Best ask premium per share at snapshot time; 0 when there is no ask.'),
    bidSize: Type.Optional(Field.size('Contracts at the best bid.')),
    askSize: Type.Optional(Field.size('Contracts at the best ask.')),
    last: Type.Optional(Field.positivePrice('Price of the last trade of the session.')),
    volume: Type.Optional(Field.size('Contracts traded in the session so far.')),
    openInterest: Type.Optional(Field.size('Open interest as of the previous close.')),
    iv: Type.Optional(
      Type.Number({
        minimum: 0,
        description:
          'Implied volatility, annualised, as a decimal (0.25 = 25%); absent when no price admits one.',
      }),
    ),
    greeks: Type.Optional(greeks),
    vendor: Type.Optional(vendor),
  },
  { description: 'One contract of the chain.', additionalProperties: false },
);

export const schema = Type.Object(
  {
    underlying: Field.ticker('Ticker of the underlying, e.g. "AAPL".'),
    underlyingPrice: Field.positivePrice(
      'Underlying price the Greeks and implied volatilities were computed from.',
    ),
    ts: Field.eventTime('Time the snapshot describes, epoch nanoseconds UTC as a decimal string.'),
    riskFreeRate: Type.Number({
      minimum: -0.1,
      maximum: 1,
      description: 'Continuously compounded annual risk-free rate used, as a decimal (0.045 = 4.5%).',
    }),
    dividendYield: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        description: 'Continuous annual dividend yield used, as a decimal; 0 when absent.',
      }),
    ),
    contracts: Type.Array(contract, {
      maxItems: 10000,
      description: 'Contracts selected around the at-the-money strike, across the tracked expirations.',
    }),
  },
  {
    $id: schemaId(name, version),
    title: 'Option chain snapshot',
    description:
      'Snapshot of the selected option chain of one underlying with implied volatility and Greeks. Topic options.chains, keyed by the underlying symbol.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;
export type ChainContract = Static<typeof contract>;
export type Greeks = Static<typeof greeks>;
export type VendorAnalytics = Static<typeof vendor>;

export function invariants(value: Value, context: ValidationContext): FieldError[] {
  const errors: FieldError[] = [];
  eventTimeErrors(value.ts, '/ts', context, errors);
  const seen = new Set<string>();
  value.contracts.forEach((item, index) => {
    const prefix = `/contracts/${index}`;
    errors.push(...optionTermsErrors(item, prefix));
    if (item.bid > 0 && item.ask > 0 && item.ask < item.bid) {
      errors.push({
        path: `${prefix}/ask`,
        message: `crossed quote: ask ${item.ask} is below bid ${item.bid}`,
      });
    }
    if (seen.has(item.symbol))
      errors.push({ path: `${prefix}/symbol`, message: `${item.symbol} appears twice in the chain` });
    seen.add(item.symbol);
  });
  return errors;
}
