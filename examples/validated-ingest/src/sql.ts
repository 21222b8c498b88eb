/**
 * The tables the topics are bound to: created by the user before the broker starts (kch never
 * creates, alters or drops a table bound with `kch.table`). Columns named `_partition`, `_offset`...
 * are filled by kch for each record; every other column comes from the record's JSON value.
 */

export const CREATE_DATABASE = 'CREATE DATABASE IF NOT EXISTS shop';

/**
 * Topic `orders`: a typed table with a DEFAULT; with `_key`, `_headers`, `_timestamp_ms` and
 * `_raw_message` (the value byte for byte), consumers get back exactly what was produced.
 */
export const ORDERS_TABLE = `CREATE TABLE IF NOT EXISTS shop.orders
(
    id            UInt64,
    customer      String,
    amount        Decimal(10, 2),
    currency      LowCardinality(String) DEFAULT 'EUR',
    placed_at     DateTime64(3, 'UTC'),
    _partition    UInt32,
    _offset       UInt64,
    _timestamp_ms DateTime64(3, 'UTC'),
    _key          Nullable(String),
    _headers      Nested(name String, value String),
    _raw_message  String
)
ENGINE = MergeTree
ORDER BY (_partition, _offset)`;

/**
 * Topic `refunds`: the typed columns and the position only. Consumers reading it from the table get
 * each row as JSON written by ClickHouse (recent records come from the broker's memory as produced).
 */
export const REFUNDS_TABLE = `CREATE TABLE IF NOT EXISTS shop.refunds
(
    order_id      UInt64,
    amount        Decimal(10, 2),
    reason        LowCardinality(String),
    _partition    UInt32,
    _offset       UInt64,
    _timestamp_ms DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (_partition, _offset)`;

export const ORDERS_SELECT = `SELECT _partition, _offset, id, customer, amount, currency, placed_at, _timestamp_ms, _key, _raw_message
FROM shop.orders
ORDER BY _partition, _offset`;

export const REFUNDS_SELECT = `SELECT _partition, _offset, order_id, amount, reason, _timestamp_ms
FROM shop.refunds
ORDER BY _partition, _offset`;
