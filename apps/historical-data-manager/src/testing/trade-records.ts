/**
 * `count` raw market.trades records from number `from` on: distinct trade ids, three symbols as keys,
 * nanosecond event times within 2026-01-01 01:00-02:00 UTC, the `event.time` header set, ready for
 * `TypedProducer.sendRaw`.
 */
export function tradeRecords(from: number, count: number) {
  return Array.from({ length: count }, (_, j) => {
    const i = from + j;
    const ts = (1_767_229_200_000_000_000n + BigInt(i) * 1_000_003n).toString();
    const symbol = ['AAPL', 'MSFT', 'SPY'][i % 3] as string;
    return {
      key: symbol,
      value: JSON.stringify({
        symbol,
        price: 100 + i / 100,
        size: 1 + (i % 50),
        exchange: 'Q',
        tradeId: `T${i}`,
        conditions: ['@'],
        ts,
      }),
      headers: { 'event.time': ts },
    };
  });
}
