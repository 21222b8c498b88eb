/**
 * Debezium change events, as Debezium's JsonConverter writes them with schemas enabled: the value is
 * `{ "schema": ..., "payload": { "before", "after", "source", "op", "ts_ms" } }` and the key is the
 * row's primary key. (With `value.converter.schemas.enable=false` the envelope is the payload
 * itself; the SQL then reads `op`, `after`... without the `payload` step.)
 */

export interface Order {
  id: number;
  customer: string;
  status: 'pending' | 'paid' | 'cancelled';
  amount: number;
}

export type Op = 'r' | 'c' | 'u' | 'd';

/** One Kafka message: a change event, or a tombstone (null value) that follows a delete. */
export interface CdcMessage {
  key: string;
  value: string | null;
}

/** The value schema, abridged to what a consumer looks at (Debezium sends the whole struct). */
const SCHEMA = {
  type: 'struct',
  name: 'pg.public.orders.Envelope',
  optional: false,
  fields: [
    { field: 'before', type: 'struct', optional: true, name: 'pg.public.orders.Value' },
    { field: 'after', type: 'struct', optional: true, name: 'pg.public.orders.Value' },
    { field: 'source', type: 'struct', optional: false, name: 'io.debezium.connector.postgresql.Source' },
    { field: 'op', type: 'string', optional: false },
    { field: 'ts_ms', type: 'int64', optional: true },
  ],
};

export function changeEvent(op: Op, before: Order | null, after: Order | null, lsn: number): CdcMessage {
  const id = (after ?? before)!.id;
  const tsMs = 1_700_000_000_000 + lsn;
  return {
    key: JSON.stringify({ id }),
    value: JSON.stringify({
      schema: SCHEMA,
      payload: {
        before,
        after,
        source: {
          version: '2.7.0.Final',
          connector: 'postgresql',
          name: 'pg',
          ts_ms: tsMs,
          snapshot: op === 'r' ? 'true' : 'false',
          db: 'shop',
          schema: 'public',
          table: 'orders',
          lsn,
        },
        op,
        ts_ms: tsMs,
      },
    }),
  };
}

export function tombstone(id: number): CdcMessage {
  return { key: JSON.stringify({ id }), value: null };
}

/**
 * A short history of the `orders` table: a snapshot of three rows, then inserts, updates and a
 * delete (with its tombstone), in log order.
 */
export function sampleHistory(): CdcMessage[] {
  const o1: Order = { id: 1, customer: 'ada', status: 'paid', amount: 20 };
  const o2: Order = { id: 2, customer: 'grace', status: 'pending', amount: 35.5 };
  const o3: Order = { id: 3, customer: 'ada', status: 'pending', amount: 12.25 };
  const o4: Order = { id: 4, customer: 'linus', status: 'pending', amount: 99.99 };
  const o5: Order = { id: 5, customer: 'grace', status: 'paid', amount: 5 };
  return [
    changeEvent('r', null, o1, 100),
    changeEvent('r', null, o2, 100),
    changeEvent('r', null, o3, 100),
    changeEvent('c', null, o4, 101),
    changeEvent('u', o2, { ...o2, status: 'paid' }, 102),
    changeEvent('u', o3, { ...o3, status: 'paid', amount: 14.25 }, 103),
    changeEvent('d', o4, null, 104),
    tombstone(4),
    changeEvent('c', null, o5, 105),
  ];
}

/** What `shop.orders FINAL` holds after {@link sampleHistory}. */
export const EXPECTED_ORDERS: Order[] = [
  { id: 1, customer: 'ada', status: 'paid', amount: 20 },
  { id: 2, customer: 'grace', status: 'paid', amount: 35.5 },
  { id: 3, customer: 'ada', status: 'paid', amount: 14.25 },
  { id: 5, customer: 'grace', status: 'paid', amount: 5 },
];
