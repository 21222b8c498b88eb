/**
 * The ClickHouse side: a typed table that holds the current state of `shop.public.orders`, the
 * materialized view that fills it from the topic's own table, and the analytics query. The view's
 * definition is what `storage.createView(...)`, `kch views create` and the broker config's `views`
 * take (docs/materialized-views.md); `{topic}` is where kch puts the topic's table.
 */
import { TOPIC } from './debezium.js';

export const DATABASE = 'analytics';

/**
 * One row per version of an order: the latest `lsn` of an `id` wins, and when that version is a
 * delete (`is_deleted = 1`) the order is gone. `FINAL` reads the winners; merges collapse the rest.
 */
export const ORDERS_TABLE = `CREATE TABLE IF NOT EXISTS analytics.orders
(
    id              Int32,
    customer_id     Int32,
    country         LowCardinality(String),
    status          LowCardinality(String),
    amount          Decimal(12, 2),
    created_at      DateTime64(6, 'UTC'),
    changed_at      DateTime64(3, 'UTC'),   -- payload.ts_ms: when Debezium saw the change
    lsn             UInt64,                 -- payload.source.lsn: the version, the later change wins
    is_deleted      UInt8,                  -- 1 for op = 'd'
    kafka_partition Int32,                  -- where the version came from in the topic
    kafka_offset    Int64
)
ENGINE = ReplacingMergeTree(lsn, is_deleted)
ORDER BY id`;

/**
 * The view's SELECT over the topic's table (one row per record: `partition`, `offset`, `key`,
 * `value`...). It unwraps the envelope, keeps row events (`op` r, c, u, d: not Debezium's `t`
 * truncate or `m` message events), takes the row from `after`, or from `before` for a delete (whose
 * `after` is null), and skips tombstones (null values), which could not go into the typed columns.
 */
export const ORDERS_SELECT = `SELECT
    JSONExtractInt(row, 'id')                                   AS id,
    JSONExtractInt(row, 'customer_id')                          AS customer_id,
    JSONExtractString(row, 'country')                           AS country,
    JSONExtractString(row, 'status')                            AS status,
    JSONExtract(row, 'amount', 'Decimal(12, 2)')                AS amount,
    fromUnixTimestamp64Micro(JSONExtractInt(row, 'created_at')) AS created_at,
    fromUnixTimestamp64Milli(JSONExtractInt(payload, 'ts_ms'))  AS changed_at,
    JSONExtractUInt(payload, 'source', 'lsn')                   AS lsn,
    op = 'd'                                                    AS is_deleted,
    partition                                                   AS kafka_partition,
    offset                                                      AS kafka_offset
FROM
(
    SELECT
        partition,
        offset,
        JSONExtractRaw(value, 'payload')                         AS payload,
        JSONExtractString(payload, 'op')                         AS op,
        JSONExtractRaw(payload, if(op = 'd', 'before', 'after')) AS row
    FROM {topic}
    WHERE value IS NOT NULL   -- tombstones carry no change
)
WHERE op IN ('r', 'c', 'u', 'd')`;

/** The view: created with `populate`, so that the records already in the topic go through it too. */
export const ORDERS_VIEW = {
  name: 'orders_cdc',
  topic: TOPIC,
  select: ORDERS_SELECT,
  to: 'analytics.orders',
  populate: true,
};

/** The current orders, as the source database has them. */
export const CURRENT_ORDERS_SQL = `SELECT id, customer_id, country, status, amount, lsn, kafka_partition, kafka_offset
FROM analytics.orders FINAL
WHERE is_deleted = 0
ORDER BY id`;

/** The analytics: revenue per shipping country, from the current state of the orders. */
export const REVENUE_BY_COUNTRY_SQL = `SELECT
    country,
    count()                AS orders,
    uniqExact(customer_id) AS customers,
    sum(amount)            AS revenue
FROM analytics.orders FINAL
WHERE is_deleted = 0 AND status IN ('paid', 'shipped')
GROUP BY country
ORDER BY revenue DESC, country`;
