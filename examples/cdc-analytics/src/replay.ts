/**
 * The same analytics computed in TypeScript, by replaying the produced messages the way a consumer
 * would (no SQL involved): what ClickHouse's answer is checked against.
 */
import type { CdcMessage, Change, Order } from './debezium.js';

/** The source table rebuilt from its change events, in log order; tombstones skipped. */
export function replay(messages: readonly CdcMessage[]): Map<number, Order> {
  const rows = new Map<number, Order>();
  for (const m of messages) {
    if (m.value === null) continue;
    const { payload } = JSON.parse(m.value) as { payload: Change };
    if (payload.op === 'd') rows.delete(payload.before!.id);
    else rows.set(payload.after!.id, payload.after!);
  }
  return rows;
}

/** One row of the analytics query's result. */
export interface CountryRevenue {
  country: string;
  orders: number;
  customers: number;
  revenue: number;
}

/** Orders that count as revenue. */
export const REVENUE_STATUSES: readonly Order['status'][] = ['paid', 'shipped'];

/** Revenue per shipping country over the current orders: highest revenue first, then by country. */
export function revenueByCountry(rows: Iterable<Order>): CountryRevenue[] {
  const by = new Map<string, { orders: number; customers: Set<number>; cents: number }>();
  for (const o of rows) {
    if (!REVENUE_STATUSES.includes(o.status)) continue;
    const c = by.get(o.country) ?? { orders: 0, customers: new Set<number>(), cents: 0 };
    c.orders += 1;
    c.customers.add(o.customer_id);
    c.cents += cents(o.amount);
    by.set(o.country, c);
  }
  return [...by]
    .map(([country, c]) => ({
      country,
      orders: c.orders,
      customers: c.customers.size,
      revenue: c.cents / 100,
    }))
    .sort((a, b) => b.revenue - a.revenue || (a.country < b.country ? -1 : a.country > b.country ? 1 : 0));
}

/** "35.25" -> 3525, exactly (amounts are added in cents, not in floating point). */
function cents(amount: string): number {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(amount);
  if (!m) throw new Error(`not an amount: ${amount}`);
  const value = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0'));
  return m[1] ? -value : value;
}
