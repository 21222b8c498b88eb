/**
 * Debezium change events of a Postgres table, as Debezium's Postgres connector writes them through
 * Kafka Connect's JsonConverter with schemas enabled (its default): key and value are each
 * `{ "schema": ..., "payload": ... }`. The key's payload is the primary key; the value's payload is
 * the change: `before`, `after`, `source`, `op`, `ts_ms`.
 *
 * The source table is `shop.public.orders` on a connector with `topic.prefix = shopdb` (so the topic
 * is `shopdb.public.orders`), `decimal.handling.mode = string` (a NUMERIC comes as "35.50" rather
 * than base64 of its unscaled bytes) and the table's default REPLICA IDENTITY: an update carries no
 * `before`, and a delete's `before` holds the primary key only (the other columns null).
 */

/** A row of `shop.public.orders`. */
export interface Order {
  id: number;
  customer_id: number;
  /** Shipping country, ISO 3166 alpha-2. */
  country: string;
  status: 'pending' | 'paid' | 'shipped' | 'cancelled' | 'refunded';
  /** NUMERIC(12, 2), as a string (decimal.handling.mode = string). */
  amount: string;
  /** TIMESTAMP, in microseconds since the epoch (io.debezium.time.MicroTimestamp). */
  created_at: number;
}

/** What a delete's `before` holds under REPLICA IDENTITY DEFAULT: the key, and nulls. */
export type KeyOnly = { id: number } & { [K in Exclude<keyof Order, 'id'>]: null };

/** `r` snapshot read, `c` insert, `u` update, `d` delete (Debezium also has `t` truncate and `m` message). */
export type Op = 'r' | 'c' | 'u' | 'd';

/** One Kafka message, as produced: a change event, or a tombstone (null value) after a delete. */
export interface CdcMessage {
  key: string;
  value: string | null;
}

/** The value's payload. */
export interface Change {
  before: Order | KeyOnly | null;
  after: Order | null;
  source: SourceInfo;
  op: Op;
  ts_ms: number;
  transaction: null;
}

export interface SourceInfo {
  version: string;
  connector: 'postgresql';
  name: string;
  ts_ms: number;
  snapshot: 'first' | 'true' | 'last' | 'false';
  db: string;
  sequence: string;
  schema: string;
  table: string;
  txId: number;
  /** The change's position in Postgres's write-ahead log: the version of the row in ClickHouse. */
  lsn: number;
  xmin: null;
}

export const TOPIC_PREFIX = 'shopdb';
export const TOPIC = `${TOPIC_PREFIX}.public.orders`;

const ROW_FIELDS = [
  { type: 'int32', optional: false, field: 'id' },
  { type: 'int32', optional: false, field: 'customer_id' },
  { type: 'string', optional: false, field: 'country' },
  { type: 'string', optional: false, field: 'status' },
  { type: 'string', optional: false, field: 'amount' },
  {
    type: 'int64',
    optional: false,
    name: 'io.debezium.time.MicroTimestamp',
    version: 1,
    field: 'created_at',
  },
];

const KEY_SCHEMA = {
  type: 'struct',
  fields: [{ type: 'int32', optional: false, field: 'id' }],
  optional: false,
  name: `${TOPIC}.Key`,
};

const VALUE_SCHEMA = {
  type: 'struct',
  fields: [
    { type: 'struct', fields: ROW_FIELDS, optional: true, name: `${TOPIC}.Value`, field: 'before' },
    { type: 'struct', fields: ROW_FIELDS, optional: true, name: `${TOPIC}.Value`, field: 'after' },
    {
      type: 'struct',
      fields: [
        { type: 'string', optional: false, field: 'version' },
        { type: 'string', optional: false, field: 'connector' },
        { type: 'string', optional: false, field: 'name' },
        { type: 'int64', optional: false, field: 'ts_ms' },
        {
          type: 'string',
          optional: true,
          name: 'io.debezium.data.Enum',
          version: 1,
          parameters: {
            allowed: 'true,first,first_in_data_collection,last_in_data_collection,last,false,incremental',
          },
          default: 'false',
          field: 'snapshot',
        },
        { type: 'string', optional: false, field: 'db' },
        { type: 'string', optional: true, field: 'sequence' },
        { type: 'string', optional: false, field: 'schema' },
        { type: 'string', optional: false, field: 'table' },
        { type: 'int64', optional: true, field: 'txId' },
        { type: 'int64', optional: true, field: 'lsn' },
        { type: 'int64', optional: true, field: 'xmin' },
      ],
      optional: false,
      name: 'io.debezium.connector.postgresql.Source',
      field: 'source',
    },
    { type: 'string', optional: false, field: 'op' },
    { type: 'int64', optional: true, field: 'ts_ms' },
    {
      type: 'struct',
      fields: [
        { type: 'string', optional: false, field: 'id' },
        { type: 'int64', optional: false, field: 'total_order' },
        { type: 'int64', optional: false, field: 'data_collection_order' },
      ],
      optional: true,
      name: 'event.block',
      version: 1,
      field: 'transaction',
    },
  ],
  optional: false,
  name: `${TOPIC}.Envelope`,
  version: 1,
};

/** The message key: the row's primary key, in the key schema's envelope. */
export function keyOf(id: number): string {
  return JSON.stringify({ schema: KEY_SCHEMA, payload: { id } });
}

function message(change: Change): CdcMessage {
  const id = (change.after ?? change.before)!.id;
  return { key: keyOf(id), value: JSON.stringify({ schema: VALUE_SCHEMA, payload: change }) };
}

/**
 * A stand-in for the Postgres table and its connector: each call changes the table and returns the
 * messages Debezium would publish for it, with a growing log position (LSN) and commit time.
 */
export class SourceTable {
  private readonly rows = new Map<number, Order>();
  private lsn = 24_023_128;
  private txId = 780;
  /** Commit time, in milliseconds since the epoch: 2024-06-03 09:00 UTC, then a few seconds a change. */
  private now = Date.UTC(2024, 5, 3, 9, 0, 0);

  private source(snapshot: SourceInfo['snapshot']): SourceInfo {
    return {
      version: '2.7.3.Final',
      connector: 'postgresql',
      name: TOPIC_PREFIX,
      ts_ms: this.now,
      snapshot,
      db: 'shop',
      sequence: JSON.stringify([null, String(this.lsn)]),
      schema: 'public',
      table: 'orders',
      txId: this.txId,
      lsn: this.lsn,
      xmin: null,
    };
  }

  /** Advances the log and the clock: one transaction per change. */
  private tick(): void {
    this.lsn += 184 + (this.txId % 7) * 8;
    this.txId += 1;
    this.now += 4_000 + (this.txId % 5) * 1_000;
  }

  /**
   * The initial snapshot of rows that were in the table before the connector started: `op: 'r'`, all
   * at one log position (the snapshot's), `source.snapshot` first ... last.
   */
  snapshot(rows: Order[]): CdcMessage[] {
    this.tick();
    return rows.map((row, i) => {
      this.rows.set(row.id, row);
      const snapshot = i === 0 ? 'first' : i === rows.length - 1 ? 'last' : 'true';
      return message({
        before: null,
        after: row,
        source: this.source(snapshot),
        op: 'r',
        ts_ms: this.now + 25,
        transaction: null,
      });
    });
  }

  insert(row: Order): CdcMessage[] {
    this.tick();
    this.rows.set(row.id, row);
    return [
      message({
        before: null,
        after: row,
        source: this.source('false'),
        op: 'c',
        ts_ms: this.now + 25,
        transaction: null,
      }),
    ];
  }

  update(id: number, change: Partial<Omit<Order, 'id'>>): CdcMessage[] {
    const row = this.rows.get(id);
    if (!row) throw new Error(`no order ${id} to update`);
    this.tick();
    const after = { ...row, ...change };
    this.rows.set(id, after);
    // REPLICA IDENTITY DEFAULT: Postgres does not log the old row of an update.
    return [
      message({
        before: null,
        after,
        source: this.source('false'),
        op: 'u',
        ts_ms: this.now + 25,
        transaction: null,
      }),
    ];
  }

  /** The delete event, then the tombstone Debezium sends for log compaction (`tombstones.on.delete`). */
  delete(id: number): CdcMessage[] {
    if (!this.rows.delete(id)) throw new Error(`no order ${id} to delete`);
    this.tick();
    const before: KeyOnly = {
      id,
      customer_id: null,
      country: null,
      status: null,
      amount: null,
      created_at: null,
    };
    return [
      message({
        before,
        after: null,
        source: this.source('false'),
        op: 'd',
        ts_ms: this.now + 25,
        transaction: null,
      }),
      { key: keyOf(id), value: null },
    ];
  }

  /** The table as it is now, by id: what ClickHouse should show after all the messages so far. */
  current(): Order[] {
    return [...this.rows.values()].sort((a, b) => a.id - b.id);
  }
}
