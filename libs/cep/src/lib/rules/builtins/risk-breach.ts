/**
 * RISK_BREACH: an account's positions against its risk limits, both from the CDC change topics of
 * the trading schema (Debezium envelopes: the row is `after`, or `before` for a delete).
 *
 * Limits (`risk_limits` rows, active ones) understood by `limit_type`:
 * - `max_position_quantity`: |quantity| of a position (the row's symbol, or every symbol when null);
 * - `max_position_notional`: |quantity x average_price| of a position (same);
 * - `max_gross_notional`: the sum of |quantity x average_price| over the account's positions.
 * Other limit types are ignored. Both a position change and a limit change (a lowered limit) can
 * raise a breach; each limit and symbol alerts once until it is back below the threshold.
 */
import { AfterMatchSkip, Pattern } from '../../pattern';
import { eventTimeParams, round, toNumber, type BuiltinPattern, type Measurement } from '../builtin';
import type { CepEvent } from '../rule';

interface Params {
  positionsTopic: string;
  limitsTopic: string;
  thresholdPct: number;
}

const CDC_TOPIC = /^cdc\.[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/;
export const RISK_LIMIT_TYPES = ['max_position_quantity', 'max_position_notional', 'max_gross_notional'] as const;
const ANY_SYMBOL = '*';

type Row = Readonly<Record<string, unknown>>;

/** The row a change event is about and whether it still exists after the change. */
function rowOf(event: CepEvent): { row: Row; live: boolean } | undefined {
  const after = event.value['after'] as Row | null | undefined;
  const before = event.value['before'] as Row | null | undefined;
  if (after && typeof after === 'object') return { row: after, live: true };
  if (before && typeof before === 'object') return { row: before, live: false };
  return undefined;
}

function limitEntry(row: Row): string {
  return `limit|${String(row['limit_type'])}|${typeof row['symbol'] === 'string' ? row['symbol'] : ANY_SYMBOL}`;
}

function accountOf(event: CepEvent): string {
  const account = rowOf(event)?.row['account'];
  return typeof account === 'string' ? account : '';
}

interface Exposure {
  readonly limitType: string;
  readonly symbol: string;
  readonly value: number;
  readonly limit: number;
}

/** Every exposure of the account that has a limit, from the book table. */
function exposures(book: ReadonlyMap<string, unknown>): Exposure[] {
  const limit = (type: string, symbol: string): number | undefined => (book.get(`limit|${type}|${symbol}`) ?? book.get(`limit|${type}|${ANY_SYMBOL}`)) as number | undefined;
  const out: Exposure[] = [];
  let gross = 0;
  for (const [entry, value] of book) {
    if (!entry.startsWith('position|')) continue;
    const symbol = entry.slice('position|'.length);
    const [quantity, notional] = value as [number, number];
    gross += notional;
    const quantityLimit = limit('max_position_quantity', symbol);
    if (quantityLimit !== undefined) out.push({ limitType: 'max_position_quantity', symbol, value: Math.abs(quantity), limit: quantityLimit });
    const notionalLimit = limit('max_position_notional', symbol);
    if (notionalLimit !== undefined) out.push({ limitType: 'max_position_notional', symbol, value: notional, limit: notionalLimit });
  }
  const grossLimit = book.get(`limit|max_gross_notional|${ANY_SYMBOL}`) as number | undefined;
  if (grossLimit !== undefined) out.push({ limitType: 'max_gross_notional', symbol: ANY_SYMBOL, value: gross, limit: grossLimit });
  return out;
}

function utilisation(exposure: Exposure): number {
  if (exposure.limit > 0) return exposure.value / exposure.limit;
  return exposure.value > 0 ? Number.POSITIVE_INFINITY : 0;
}

export const RISK_BREACH: BuiltinPattern = {
  name: 'RISK_BREACH',
  description:
    "An account's position (from the positions change topic) reaches thresholdPct of its limit (from the risk_limits change topic): max_position_quantity and max_position_notional per symbol (a limit without symbol applies to every symbol), max_gross_notional over all positions. Raised by a position change or by a limit change; once per limit and symbol until the exposure is back under the threshold.",
  severity: 'critical',
  keyDescription: 'account',
  params: {
    positionsTopic: { type: 'string', pattern: CDC_TOPIC, default: 'cdc.trading.positions', description: 'Change topic of the positions table' },
    limitsTopic: { type: 'string', pattern: CDC_TOPIC, default: 'cdc.trading.risk_limits', description: 'Change topic of the risk_limits table' },
    thresholdPct: { type: 'number', default: 100, min: 1, max: 1_000, unit: '%', description: 'Share of a limit at which an exposure is a breach (e.g. 90 to warn early)' },
    ...eventTimeParams({ outOfOrdernessMs: 1_000, idleKeyTtlMs: 86_400_000 }),
  },
  check(params) {
    const p = params as unknown as Params;
    return p.positionsTopic === p.limitsTopic ? `limitsTopic: must differ from positionsTopic (${p.positionsTopic})` : undefined;
  },
  inputs: (params) => [(params as unknown as Params).positionsTopic, (params as unknown as Params).limitsTopic],
  plan(params) {
    const p = params as unknown as Params;
    const threshold = p.thresholdPct / 100;
    return {
      keyBy: accountOf,
      filter: (event) => accountOf(event) !== '',
      state: [
        {
          // Positions ('position|<symbol>' -> [quantity, |notional|]) and active limits
          // ('limit|<type>|<symbol or *>' -> value) of the account: kept however long the account is quiet.
          name: 'book',
          retain: true,
          update(event, table) {
            const change = rowOf(event);
            if (!change) return;
            const { row, live } = change;
            if (event.topic === p.positionsTopic) {
              const symbol = String(row['symbol']);
              const quantity = toNumber(row['quantity']);
              if (!live || !Number.isFinite(quantity) || quantity === 0) table.delete(`position|${symbol}`);
              else table.set(`position|${symbol}`, [quantity, Math.abs(quantity * toNumber(row['average_price']))]);
            } else if (event.topic === p.limitsTopic) {
              // An update may move a limit to another type or symbol: the old row's entry goes first
              // (the trading tables have REPLICA IDENTITY FULL, so 'before' is the whole old row).
              const before = event.value['before'] as Row | null | undefined;
              if (live && before && typeof before === 'object' && typeof before['limit_type'] === 'string') table.delete(limitEntry(before));
              if (!(RISK_LIMIT_TYPES as readonly string[]).includes(String(row['limit_type']))) return;
              const value = toNumber(row['limit_value']);
              if (!live || row['active'] === false || !Number.isFinite(value)) table.delete(limitEntry(row));
              else table.set(limitEntry(row), value);
            }
          },
        },
        {
          // Exposures in breach ('<type>|<symbol>' -> true) and the worst new breach of this event ('fired').
          name: 'breaches',
          retain: true,
          update(event, table, scope) {
            table.delete('fired');
            if (event.topic !== p.positionsTopic && event.topic !== p.limitsTopic) return;
            let worst: (Exposure & { utilisation: number }) | undefined;
            let fresh = 0;
            const now = new Set<string>();
            for (const exposure of exposures(scope.state('book'))) {
              const used = utilisation(exposure);
              if (!(used >= threshold)) continue;
              const id = `${exposure.limitType}|${exposure.symbol}`;
              now.add(id);
              if (table.get(id) === true) continue;
              fresh++;
              if (!worst || used > worst.utilisation) worst = { ...exposure, utilisation: used };
            }
            for (const id of [...table.keys()]) if (!now.has(id)) table.delete(id);
            for (const id of now) table.set(id, true);
            if (worst) {
              const fired: Measurement = {
                limitType: worst.limitType,
                symbol: worst.symbol === ANY_SYMBOL ? null : worst.symbol,
                exposure: worst.value,
                limit: worst.limit,
                utilisationPct: Number.isFinite(worst.utilisation) ? worst.utilisation * 100 : null,
                newBreaches: fresh,
                breaches: now.size,
                cause: event.topic === p.positionsTopic ? 'position' : 'limit',
              };
              table.set('fired', fired);
            }
          },
        },
      ],
      pattern: Pattern.begin<CepEvent>('breach', AfterMatchSkip.skipPastLastEvent()).where((_event, ctx) => ctx.state('breaches').has('fired')),
      capture: (_match, scope) => (scope.state('breaches').get('fired') as Measurement | undefined) ?? {},
    };
  },
  describe(match) {
    const m = match.captured ?? {};
    const what = m['limitType'] === 'max_gross_notional' ? 'gross notional' : `${m['symbol'] ?? '?'} ${m['limitType'] === 'max_position_quantity' ? 'quantity' : 'notional'}`;
    const used = m['utilisationPct'] === null ? 'over a zero limit' : `${Number(m['utilisationPct']).toFixed(1)}% of the limit`;
    return {
      message: `account ${match.key}: ${what} ${round(Number(m['exposure']), 2)} against limit ${m['limit']} (${used}), after a ${m['cause']} change`,
      attributes: { ...m, utilisationPct: m['utilisationPct'] === null ? null : round(Number(m['utilisationPct']), 3), exposure: round(Number(m['exposure']), 4) },
    };
  },
};
