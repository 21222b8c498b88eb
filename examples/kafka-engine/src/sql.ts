/**
 * The ClickHouse side of the example, as SQL: what a user runs on their ClickHouse (a server, or the
 * embedded engine) to connect it to a kch broker. Nothing here is kch-specific: it is the SQL one
 * writes for Apache Kafka, pointed at kch's address.
 */

export interface PipelineNames {
  /** host:port of the kch broker, as ClickHouse reaches it (kch's advertised address). */
  brokers: string;
  /** The Debezium topic: `<topic.prefix>.<schema>.<table>`. */
  cdcTopic: string;
  /** ClickHouse's consumer group on kch (what `kch groups describe` shows). */
  group: string;
  /** The topic ClickHouse publishes its aggregate to. */
  revenueTopic: string;
}

export const DEFAULT_NAMES: Omit<PipelineNames, 'brokers'> = {
  cdcTopic: 'pg.public.orders',
  group: 'clickhouse-shop',
  revenueTopic: 'shop.revenue',
};

/** Single-quoted SQL string literal. */
const lit = (s: string) => `'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`;

/**
 * Consuming: Debezium change events from kch into a typed, deduplicated table.
 *
 * 1. `shop.orders_cdc` (ENGINE = Kafka) is ClickHouse's consumer: it joins the consumer group on kch
 *    and reads the topic. `JSONAsString` keeps each message whole in one String column, since a
 *    Debezium envelope nests the row two levels down (`payload.after.<column>`).
 * 2. `shop.orders` is the table analysts query: a ReplacingMergeTree keyed by the source's primary
 *    key, versioned by the source's log position (`payload.source.lsn`), with an `is_deleted` flag:
 *    the latest version of each row wins, and a delete hides the row (`FINAL`).
 * 3. `shop.orders_mv` moves every consumed block from 1 to 2: it unpacks the envelope, keeps row
 *    events only (`op`: c = insert, r = snapshot read, u = update, d = delete) and, for a delete,
 *    takes the key from `before` (`after` is null). ClickHouse commits the group's offsets on kch
 *    after the block is written.
 *
 * Debezium's tombstones (null values after a delete, for log compaction) have no payload and are
 * skipped by the Kafka engine.
 */
export function consumeSql(n: PipelineNames): string[] {
  return [
    'CREATE DATABASE IF NOT EXISTS shop',
    `CREATE TABLE shop.orders_cdc (message String)
ENGINE = Kafka
SETTINGS kafka_broker_list = ${lit(n.brokers)},
         kafka_topic_list = ${lit(n.cdcTopic)},
         kafka_group_name = ${lit(n.group)},
         kafka_format = 'JSONAsString',
         kafka_flush_interval_ms = 500`,
    `CREATE TABLE IF NOT EXISTS shop.orders
(
    id              UInt64,
    customer        String,
    status          LowCardinality(String),
    amount          Decimal(10, 2),
    changed_at      DateTime64(3),
    version         UInt64,
    is_deleted      UInt8,
    kafka_partition UInt64,
    kafka_offset    UInt64
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY id`,
    `CREATE MATERIALIZED VIEW shop.orders_mv TO shop.orders AS
SELECT
    JSONExtractUInt(row, 'id')                                 AS id,
    JSONExtractString(row, 'customer')                         AS customer,
    JSONExtractString(row, 'status')                           AS status,
    JSONExtract(row, 'amount', 'Decimal(10, 2)')               AS amount,
    fromUnixTimestamp64Milli(JSONExtractInt(payload, 'ts_ms')) AS changed_at,
    JSONExtractUInt(payload, 'source', 'lsn')                  AS version,
    op = 'd'                                                   AS is_deleted,
    _partition                                                 AS kafka_partition,
    _offset                                                    AS kafka_offset
FROM
(
    SELECT
        JSONExtractRaw(message, 'payload')                     AS payload,
        JSONExtractString(payload, 'op')                       AS op,
        JSONExtractRaw(payload, if(op = 'd', 'before', 'after')) AS row,
        _partition,
        _offset
    FROM shop.orders_cdc
)
WHERE op IN ('c', 'r', 'u', 'd')`,
  ];
}

/** The analytics: revenue per customer over the current state of the source table. */
export const REVENUE_SQL = `SELECT customer, count() AS orders, sum(amount) AS revenue
FROM shop.orders FINAL
WHERE status = 'paid'
GROUP BY customer
ORDER BY customer`;

/**
 * Producing: an INSERT into a Kafka engine table sends one message per row to kch (JSONEachRow),
 * acknowledged before the INSERT returns. With `kafka_map_virtual_columns_on_write`, the `_key`
 * column becomes the message key (here the customer, so a compacted topic keeps the latest figure
 * per customer) instead of a payload field.
 */
export function produceSql(n: PipelineNames): string[] {
  return [
    `CREATE TABLE shop.revenue_out (customer String, orders UInt32, revenue Decimal(18, 2), _key String)
ENGINE = Kafka
SETTINGS kafka_broker_list = ${lit(n.brokers)},
         kafka_topic_list = ${lit(n.revenueTopic)},
         kafka_group_name = ${lit(`${n.group}-out`)},
         kafka_format = 'JSONEachRow',
         kafka_map_virtual_columns_on_write = 1`,
  ];
}

export const PUBLISH_REVENUE_SQL = `INSERT INTO shop.revenue_out
SELECT customer, count(), sum(amount), customer
FROM shop.orders FINAL
WHERE status = 'paid'
GROUP BY customer`;

/**
 * The Kafka engine tables, dropped when the example stops: their consumers and producers hold the
 * broker's address, which changes from run to run (a free port). The data tables stay.
 */
export const KAFKA_TABLES = ['shop.orders_mv', 'shop.orders_cdc', 'shop.revenue_out'];
