/**
 * The change history of `shop.public.orders` that the example produces, in three rounds:
 *
 * 1. the **snapshot** Debezium takes when the connector starts (`op: 'r'`), produced before the
 *    materialized view exists (the view backfills it);
 * 2. **live** changes, produced after the view exists: inserts, updates (one insert and its update in
 *    the same produce), a delete with its tombstone;
 * 3. **late** changes to orders the analytics already counted: a refund, a corrected shipping
 *    country, a delete, and a new order.
 */
import { type CdcMessage, type Order, SourceTable } from './debezium.js';

/** Microseconds since the epoch of a day in June 2024 at `hour`:00 UTC (Debezium's MicroTimestamp). */
const at = (day: number, hour: number) => Date.UTC(2024, 5, day, hour) * 1000;

export interface History {
  snapshot: CdcMessage[];
  live: CdcMessage[];
  late: CdcMessage[];
  /** The source table after each round, as Postgres has it. */
  tableAfter: { snapshot: Order[]; live: Order[]; late: Order[] };
}

export function orderHistory(): History {
  const table = new SourceTable();

  const snapshot = table.snapshot([
    { id: 1, customer_id: 101, country: 'DE', status: 'paid', amount: '120.00', created_at: at(1, 8) },
    { id: 2, customer_id: 102, country: 'FR', status: 'pending', amount: '80.50', created_at: at(1, 9) },
    { id: 3, customer_id: 103, country: 'US', status: 'shipped', amount: '200.00', created_at: at(1, 11) },
    { id: 4, customer_id: 101, country: 'DE', status: 'paid', amount: '35.25', created_at: at(2, 7) },
    { id: 5, customer_id: 104, country: 'US', status: 'paid', amount: '60.00', created_at: at(2, 10) },
    { id: 6, customer_id: 105, country: 'FR', status: 'cancelled', amount: '15.00', created_at: at(2, 12) },
  ]);
  const afterSnapshot = table.current();

  const live = [
    ...table.insert({
      id: 7,
      customer_id: 106,
      country: 'DE',
      status: 'pending',
      amount: '42.00',
      created_at: at(3, 9),
    }),
    ...table.update(2, { status: 'paid' }),
    ...table.update(3, { amount: '180.00' }), // a discount applied after shipping
    ...table.delete(4), // a test order, removed
    ...table.insert({
      id: 8,
      customer_id: 102,
      country: 'FR',
      status: 'pending',
      amount: '99.90',
      created_at: at(3, 10),
    }),
    ...table.update(8, { status: 'paid' }),
    ...table.update(7, { status: 'paid' }),
  ];
  const afterLive = table.current();

  const late = [
    ...table.update(1, { status: 'refunded' }),
    ...table.update(2, { country: 'BE' }), // the shipping address, corrected
    ...table.delete(5),
    ...table.insert({
      id: 9,
      customer_id: 107,
      country: 'US',
      status: 'paid',
      amount: '310.00',
      created_at: at(4, 15),
    }),
    ...table.update(7, { status: 'shipped' }),
  ];

  return {
    snapshot,
    live,
    late,
    tableAfter: { snapshot: afterSnapshot, live: afterLive, late: table.current() },
  };
}
