/**
 * The SQL of the ClickHouse storage, one named function per statement, beside the schema it runs on
 * (./schema.ts). Tables come in quoted (`db`.`table`, ./sql.ts), and values enter through ./sql.ts's
 * quoting (`ident`, `str`, `int`), which the storage's data never bypasses.
 *
 * Not ClickHouse query parameters (`{name:Type}`), although both transports could bind them for
 * SELECTs and commands (chdb 3.4's `Session.queryBindAsync`, @clickhouse/client's `query_params`):
 * - the byte-exact insert of each transport (chdb's raw insert, an HTTP body) takes none, and DDL
 *   keeps its values in the table's metadata (TTL, COMMENT), so quoting would stay for those, and a
 *   value would enter a statement in two ways depending on the statement;
 * - chdb runs every parameterized query of the process through one queue, across sessions, which
 *   would tie reads to each other once they run on sessions of their own, as inserts already do.
 */
import { PRODUCER_BATCHES_KEPT } from '../producer-batches.js';
import type { LeaderEpochStart } from '../storage.js';
import type { Dialect } from './cluster-ddl.js';
import {
  ACLS_TABLE,
  BROKER_CONFIGS_TABLE,
  CLEANER_STATES_TABLE,
  CLIENT_QUOTAS_TABLE,
  GROUP_OFFSET_ROW_COLUMNS,
  GROUP_OFFSETS_TABLE,
  MIGRATIONS_TABLE,
  PARTITIONS_TABLE,
  PRODUCER_IDS_TABLE,
  SCRAM_CREDENTIALS_TABLE,
  TOPIC_READ_COLUMNS,
  TOPICS_TABLE,
  TRANSACTIONS_TABLE,
  TXN_BATCHES_TABLE,
} from './schema.js';
import { ident, int, str, tableName } from './sql.js';

/** The batch attribute bit of control batches (transaction markers). */
const CONTROL_BIT = 5;
const TRANSACTIONAL_BIT = 4;
const READ_COLUMNS = TOPIC_READ_COLUMNS.map(ident).join(', ');

/**
 * The rows of one partition in a topic's table: kch's own table (`partition = p`, `offset`,
 * `batch_leader_epoch`), or a bound table (`_partition = p [AND _topic = t]`, `_offset`, and
 * `_leader_epoch` when the table has it).
 */
export interface PartitionRows {
  /** The rows reads see: the partition's, under its fences when it has some. */
  where: string;
  /** All the partition's rows, fenced or not (what removing hidden rows starts from). */
  all: string;
  offset: string;
  /** The column of each row's leader epoch; null for a bound table without one (never fenced). */
  epoch: string | null;
}

/**
 * The rows of one partition (`all`, its offset and leader epoch columns). With `fences` (many
 * brokers: where each leader epoch began), rows a deposed leader wrote late are left out of `where`:
 * see {@link visibleUnderFences}. Rows without an epoch column cannot be told apart, and are not.
 */
export function partitionRows(
  all: string,
  offset: string,
  epoch: string | null,
  fences: readonly LeaderEpochStart[] = [],
): PartitionRows {
  const visible = fences.length > 0 && epoch ? ` AND ${visibleUnderFences(fences, epoch, offset)}` : '';
  return { where: `${all}${visible}`, all, offset, epoch };
}

/** The rows of one partition of kch's own table, under `fences` (see {@link partitionRows}). */
export function ownPartitionRows(partition: number, fences: readonly LeaderEpochStart[] = []): PartitionRows {
  return partitionRows(`partition = ${int(partition)}`, 'offset', 'batch_leader_epoch', fences);
}

/**
 * The condition that hides rows a deposed leader wrote after it lost the partition: a row of leader
 * epoch r is visible only below the start of the first epoch after r (the new leader read the
 * partition's end, and began there, after the old one's lease was fenced; docs/architecture.md, "Many
 * brokers"). Start offsets grow with epochs, so the first later epoch is the one that binds.
 */
export function visibleUnderFences(
  fences: readonly LeaderEpochStart[],
  epoch = 'batch_leader_epoch',
  offset = 'offset',
): string {
  const sorted = [...fences].sort((a, b) => a.epoch - b.epoch);
  const cases = sorted.flatMap((f) => [`${epoch} < ${int(f.epoch)}`, int(f.startOffset)]);
  return `${offset} < multiIf(${cases.join(', ')}, 9223372036854775807)`;
}

/**
 * The partition's rows that `fences` hide (see {@link visibleUnderFences}): rows of a leader epoch at
 * or past the start of a later one, which no leader acknowledged. Null when the rows keep no epoch.
 */
export function rowsHiddenUnderFences(
  rows: PartitionRows,
  fences: readonly LeaderEpochStart[],
): string | null {
  if (!rows.epoch) return null;
  return `${rows.all} AND NOT (${visibleUnderFences(fences, rows.epoch, rows.offset)})`;
}

/**
 * The partition's rows (as reads see them) that a leader of epoch `epoch` may delete as its own: of
 * its epoch or older, never a successor's, which a leader replaced without knowing it yet would
 * otherwise take at the same offsets. Every row without a leadership (`epoch` null), or in a table
 * that keeps no epoch.
 */
export function rowsOfEpochOrOlder(rows: PartitionRows, epoch: number | null): string {
  return epoch !== null && rows.epoch ? `${rows.where} AND ${rows.epoch} <= ${int(epoch)}` : rows.where;
}

/** The partition's rows with offsets from `from` (inclusive) to `to` (exclusive). */
export function rowsBetween(rows: PartitionRows, from: number, to: number): string {
  return `${rows.where} AND ${rows.offset} >= ${int(from)} AND ${rows.offset} < ${int(to)}`;
}

/**
 * Records of kch's own table (`rows`: a partition's, under its fences) between `from` and `to`,
 * control records (markers) left out.
 */
export function ownRecordsBetween(rows: PartitionRows, from: number, to: number): string {
  return `${rowsBetween(rows, from, to)} AND NOT bitTest(batch_attributes, ${CONTROL_BIT})`;
}

// ------------------------------------------------------------------------------- metadata

/**
 * ClickHouse's clock in ms, as an expression: leases of many brokers expire by it, so that brokers'
 * own clocks need not agree.
 */
export const NOW_MS = 'toUnixTimestamp64Milli(now64(3))';

// DDL takes the storage's dialect (./cluster-ddl.ts), never a default: a statement that forgot it
// would run on one server of a cluster.

export function createDatabase(database: string, dialect: Dialect): string {
  return `CREATE DATABASE IF NOT EXISTS ${ident(database)}${dialect.onCluster}`;
}

/** The engine of a table (no row when there is no such table). */
export function tableEngine(database: string, table: string): string {
  return `SELECT engine FROM system.tables WHERE database = ${str(database)} AND name = ${str(table)}`;
}

/** How many shards the cluster `name` has, as this server's `remote_servers` say (UInt64; 0: no such cluster). */
export function clusterShards(name: string): string {
  return `SELECT toUInt64(uniqExact(shard_num)) FROM system.clusters WHERE cluster = ${str(name)}`;
}

/** Stops a query wherever it runs (best effort). */
export function killQuery(queryId: string, dialect: Dialect): string {
  return `KILL QUERY${dialect.onCluster} WHERE query_id = ${str(queryId)} SYNC`;
}

export function appliedMigrations(database: string): string {
  return `SELECT version FROM ${tableName(database, MIGRATIONS_TABLE)}`;
}

/** The names of `names` that this ClickHouse knows as MergeTree settings. */
export function knownMergeTreeSettings(names: readonly string[]): string {
  return `SELECT name FROM system.merge_tree_settings WHERE name IN (${names.map(str).join(', ')})`;
}

/** Topics as stored (the latest row of each, deleted ones left out). */
export function storedTopics(database: string): string {
  return `SELECT name, topic_id, partition_count, configs, created_at, table_name, table_uuid FROM ${tableName(database, TOPICS_TABLE)} FINAL WHERE deleted = 0`;
}

/**
 * The highest version of every versioned metadata table (UInt64). Not `_kch_txn_batches`: it grows
 * with every transactional batch, and a row ending a batch takes a version above the batch row's own
 * (./transaction-ends.ts), whatever the clock says.
 */
export function lastMetadataVersion(database: string): string {
  const max = (table: string) => `ifNull((SELECT max(version) FROM ${tableName(database, table)}), 0)`;
  return `SELECT toUInt64(greatest(
  ${max(TOPICS_TABLE)},
  ${max(PARTITIONS_TABLE)},
  ${max(GROUP_OFFSETS_TABLE)},
  ${max(SCRAM_CREDENTIALS_TABLE)},
  ${max(ACLS_TABLE)},
  ${max(CLIENT_QUOTAS_TABLE)},
  ${max(TRANSACTIONS_TABLE)},
  ${max(BROKER_CONFIGS_TABLE)},
  ${max(CLEANER_STATES_TABLE)}))`;
}

/** The end of the last block of producer ids reserved (Int64; 0 when none). */
export function producerIdBlockEnd(database: string): string {
  return `SELECT toInt64(ifNull((SELECT max(block_end) FROM ${tableName(database, PRODUCER_IDS_TABLE)}), 0))`;
}

// --------------------------------------------------------------------------- topic tables

export function modifyTtl(table: string, ttl: string, dialect: Dialect): string {
  return `ALTER TABLE ${table}${dialect.onCluster} MODIFY TTL ${ttl}`;
}

export function removeTtl(table: string, dialect: Dialect): string {
  return `ALTER TABLE ${table}${dialect.onCluster} REMOVE TTL`;
}

export function modifyComment(table: string, comment: string, dialect: Dialect): string {
  return `ALTER TABLE ${table}${dialect.onCluster} MODIFY COMMENT ${str(comment)}`;
}

/** Drops a table now (SYNC: its name and Keeper path are free when this returns). */
export function dropTable(table: string, dialect: Dialect): string {
  return `DROP TABLE IF EXISTS ${table}${dialect.onCluster} SYNC`;
}

export function countRows(table: string, where: string): string {
  return `SELECT count() FROM ${table} WHERE ${where}`;
}

/**
 * A lightweight DELETE: the rows go from reads at once, from disk with the next merges. Never ON
 * CLUSTER: on a replicated table replication carries the mutation (ON CLUSTER would make one per
 * replica), and a table that is not replicated holds rows of the server it is on only.
 */
export function deleteRows(table: string, where: string): string {
  return `DELETE FROM ${table} WHERE ${where}`;
}

// ----------------------------------------------------------------------------- partitions

/**
 * What a partition's end and start are recovered from (5 × Int64): its lowest and highest offset
 * stored (-1 when none), from `_kch_partitions` its DeleteRecords marker and checkpointed end, and
 * the last offset of its batches in `_kch_txn_batches` (-1 when none; staged batches and markers take
 * offsets without a row in the topic's table; ended ones keep their offsets, aborted included).
 */
export function recoverPartition(
  table: string,
  rows: PartitionRows,
  database: string,
  topicId: string,
  partition: number,
  fences: readonly LeaderEpochStart[],
): string {
  const marks = tableName(database, PARTITIONS_TABLE);
  const where = partitionOfTopic(topicId, partition);
  return `SELECT
  toInt64(ifNull((SELECT toInt64(minOrNull(${rows.offset})) FROM ${table} WHERE ${rows.where}), -1)),
  toInt64(ifNull((SELECT toInt64(maxOrNull(${rows.offset})) FROM ${table} WHERE ${rows.where}), -1)),
  toInt64(ifNull((SELECT max(log_start_offset) FROM ${marks} WHERE ${where}), 0)),
  toInt64(ifNull((SELECT max(end_offset) FROM ${marks} WHERE ${where}), 0)),
  toInt64(ifNull((SELECT maxOrNull(last_offset) FROM ${tableName(database, TXN_BATCHES_TABLE)} WHERE ${sideRows(topicId, partition, fences)}), -1))`;
}

/** A partition's rows in a metadata table keyed by topic id and partition. */
function partitionOfTopic(topicId: string, partition: number): string {
  return `topic_id = ${str(topicId)} AND partition = ${int(partition)}`;
}

/** The first offset stored at or after `from` (Int64; -1 when none). */
export function firstOffsetFrom(table: string, rows: PartitionRows, from: number): string {
  return `SELECT toInt64(ifNull(toInt64(minOrNull(${rows.offset})), -1)) FROM ${table} WHERE ${rows.where} AND ${rows.offset} >= ${int(from)}`;
}

/** Rows of kch's own table in batches that end before `offset` (a batch is kept or removed whole). */
export function ownBatchesBefore(partition: number, offset: number): string {
  return `partition = ${int(partition)} AND batch_offset + batch_last_offset_delta < ${int(offset)}`;
}

/**
 * The last batches of each idempotent producer below `end` among `rows` (kch's own table: a
 * partition's, under its fences, so a deposed leader's late batches are not recovered), newest first,
 * in the columns of ProducerBatchInfo: pid Int64, epoch Int16, seq Int32, batch_offset Int64, last
 * delta Int32, max timestamp Int64.
 */
export function producerBatches(table: string, rows: PartitionRows, end: number): string {
  return `SELECT pid, epoch, seq, batch_offset, last_delta, max_ts FROM (
  SELECT batch_offset, any(producer_id) AS pid, any(producer_epoch) AS epoch, any(base_sequence) AS seq,
    any(batch_last_offset_delta) AS last_delta, any(batch_max_timestamp) AS max_ts
  FROM ${table}
  WHERE ${rows.where} AND producer_id >= 0 AND NOT bitTest(batch_attributes, ${CONTROL_BIT})
    AND offset < ${int(end)}
  GROUP BY batch_offset
) ORDER BY batch_offset DESC LIMIT ${PRODUCER_BATCHES_KEPT} BY pid`;
}

// ------------------------------------------------------------------ transactions (side table)

/** The side rows of one partition (`_kch_txn_batches`), under its fences by their batch's last offset. */
export function sideRows(topicId: string, partition: number, fences: readonly LeaderEpochStart[]): string {
  const visible =
    fences.length > 0 ? ` AND ${visibleUnderFences(fences, 'leader_epoch', 'last_offset')}` : '';
  return `${partitionOfTopic(topicId, partition)}${visible}`;
}

/**
 * The staged batches and markers of `rows` (a partition's side rows) that reach into [from, to), in
 * offset order, at most `limit`: base_offset Int64, bytes String.
 */
export function sideBatchesBetween(
  database: string,
  rows: string,
  from: number,
  to: number,
  limit: number,
): string {
  return `SELECT base_offset, bytes FROM ${tableName(database, TXN_BATCHES_TABLE)} FINAL
WHERE ${rows} AND kind IN ('staged', 'marker') AND last_offset >= ${int(from)} AND base_offset < ${int(to)}
ORDER BY base_offset LIMIT ${int(limit)}`;
}

/**
 * The first offset of `rows` (a partition's side rows, of any kind: staged batches, markers, and the
 * rows of ended transactions, whose offsets stay the log's) in [from, to) (Int64; -1 when none). With
 * `writtenSince` (µs since the epoch; a row's version is when it was written), older rows are past
 * the topic's retention, as the records around them are, and do not count.
 */
export function firstSideOffset(
  database: string,
  rows: string,
  from: number,
  to: number,
  writtenSince: number | null,
): string {
  const recent = writtenSince === null ? '' : ` AND version >= ${int(writtenSince)}`;
  return `SELECT toInt64(ifNull(minOrNull(base_offset), -1)) FROM ${tableName(database, TXN_BATCHES_TABLE)} FINAL
WHERE ${rows} AND last_offset >= ${int(from)} AND base_offset < ${int(to)}${recent}`;
}

/**
 * Every side row of a partition (`rows`) that ends at or after `from`, in offset order, for recovery:
 * base_offset, last_offset, producer_id Int64, producer_epoch Int16, leader_epoch Int32, kind Int8
 * (1 staged, 2 marker, 3 committed, 4 aborted), version UInt64, and the bytes of a marker or the
 * header of another batch (its first 61 bytes: sequence and timestamps).
 */
export function sideRowsFrom(database: string, rows: string, from: number): string {
  return `SELECT base_offset, last_offset, producer_id, producer_epoch, leader_epoch, toInt8(kind), version,
  if(kind = 'marker', bytes, substring(bytes, 1, 61))
FROM ${tableName(database, TXN_BATCHES_TABLE)} FINAL WHERE ${rows} AND last_offset >= ${int(from)}
ORDER BY base_offset`;
}

/**
 * Of a producer's batches at `offsets` (base offsets), those still staged, with their bytes, in offset
 * order: base_offset Int64, bytes String. What a COMMIT copies into the topic's table.
 */
export function stagedBatches(
  database: string,
  rows: string,
  producerId: number,
  offsets: readonly number[],
): string {
  return `SELECT base_offset, bytes FROM ${tableName(database, TXN_BATCHES_TABLE)} FINAL
WHERE ${rows} AND producer_id = ${int(producerId)} AND kind = 'staged' AND base_offset IN (${offsets.map(int).join(', ')})
ORDER BY base_offset`;
}

/**
 * Which of `offsets` the topic's table (`rows`, offsets `from` to `to` inclusive) holds in `column`
 * (batch_offset in kch's own table, the offset of a bound one): the batches a commit copied already
 * (Int64 each).
 */
export function offsetsPresent(
  table: string,
  rows: PartitionRows,
  column: string,
  from: number,
  to: number,
  offsets: readonly number[],
): string {
  return `SELECT DISTINCT toInt64(${column}) FROM ${table}
WHERE ${rowsBetween(rows, from, to + 1)} AND ${column} IN (${offsets.map(int).join(', ')})`;
}

/** A partition's side rows from `from` on (of a leader's epoch or older when `epoch` is set). */
export function sideRowsAtOrAfter(rows: string, from: number, epoch: number | null): string {
  const mine = epoch === null ? '' : ` AND leader_epoch <= ${int(epoch)}`;
  return `${rows}${mine} AND base_offset >= ${int(from)}`;
}

/** A topic's side rows: all of them, or the batches of a partition that end before `offset`. */
export function sideRowsOfTopic(topicId: string, partition?: number, before?: number): string {
  if (partition === undefined) return `topic_id = ${str(topicId)}`;
  const where = partitionOfTopic(topicId, partition);
  return before === undefined ? where : `${where} AND last_offset < ${int(before)}`;
}

/**
 * The transaction coordinator's state of every transactional id: transactional_id, producer_id Int64,
 * producer_epoch Int16, state, timeout_ms, started_at, updated_at, previous_producer_id Int64,
 * last_producer_epoch Int16, partitions, groups (see ./schema.ts, migration 5).
 */
export function storedTransactions(database: string): string {
  return `SELECT transactional_id, producer_id, producer_epoch, state, timeout_ms, started_at, updated_at,
  previous_producer_id, last_producer_epoch, partitions, groups
FROM ${tableName(database, TRANSACTIONS_TABLE)} FINAL WHERE deleted = 0 ORDER BY transactional_id`;
}

// ---------------------------------------------------------------------- reads (own table)

/**
 * Rows of kch's own table (`rows`: a partition's, under its fences) from `from` to `to`, in the
 * columns ./records.ts groups into batches.
 */
export function recordRows(table: string, rows: PartitionRows, from: number, to: number): string {
  return `SELECT ${READ_COLUMNS} FROM ${table} WHERE ${rowsBetween(rows, from, to)} ORDER BY offset`;
}

/** The offset of the first of `rows` (kch's own table) from `from` to `to` (Int64; no row when none). */
export function firstRowOffset(table: string, rows: PartitionRows, from: number, to: number): string {
  return `SELECT offset FROM ${table} WHERE ${rowsBetween(rows, from, to)} ORDER BY offset LIMIT 1`;
}

/** The first of `records` at or after `ms`: offset Int64, timestamp Int64 (ms). */
export function ownOffsetForTimestamp(table: string, records: string, ms: number): string {
  return `SELECT offset, toUnixTimestamp64Milli(timestamp) FROM ${table}
WHERE ${records} AND timestamp >= fromUnixTimestamp64Milli(toInt64(${int(ms)}), 'UTC')
ORDER BY offset LIMIT 1`;
}

/** The record of `records` with the largest timestamp (the first such): offset Int64, timestamp Int64. */
export function ownMaxTimestamp(table: string, records: string): string {
  return `SELECT offset, toUnixTimestamp64Milli(timestamp) FROM ${table}
WHERE ${records} ORDER BY timestamp DESC, offset ASC LIMIT 1`;
}

// ------------------------------------------------------------------ compaction (own tables)

/** The first of `records` (kch's own table) with a timestamp after `ms`: offset Int64, -1 when none. */
export function firstRecordAfter(table: string, records: string, ms: number): string {
  return `SELECT toInt64(ifNull(minOrNull(offset), -1)) FROM ${table}
WHERE ${records} AND timestamp > fromUnixTimestamp64Milli(toInt64(${int(ms)}), 'UTC')`;
}

/**
 * The rows a compaction removes (Storage.compact; docs/compaction.md) among a partition's `rows` of
 * kch's own table from `from` to `to`: a record without a key, one a later record of its key up to
 * `to` supersedes, a tombstone below `tombstonesBefore`; never a control record, nor a record of an
 * idempotent producer's last batch, which producer state is recovered from, nor the last record
 * before `to`, so that the log never ends in holes a consumer could not read past.
 */
export function compactedAway(
  table: string,
  rows: PartitionRows,
  from: number,
  to: number,
  tombstonesBefore: number,
): string {
  const records = ownRecordsBetween(rows, from, to);
  return `${records} AND offset < (SELECT max(offset) FROM ${table} WHERE ${records}) AND (key IS NULL
  OR (assumeNotNull(key), offset) NOT IN (
    SELECT assumeNotNull(key), max(offset) FROM ${table} WHERE ${records} AND key IS NOT NULL GROUP BY key)
  OR (value IS NULL AND offset < ${int(tombstonesBefore)}))
AND (producer_id < 0 OR (producer_id, batch_offset) NOT IN (
  SELECT producer_id, max(batch_offset) FROM ${table}
  WHERE ${rows.where} AND producer_id >= 0 AND NOT bitTest(batch_attributes, ${CONTROL_BIT})
  GROUP BY producer_id))`;
}

/**
 * The batches of transactions a partition's table holds between two offsets (committed ones: markers
 * are in the side table), one row per batch in offset order: producer_id, batch_offset.
 */
export function transactionBatches(table: string, rows: PartitionRows, from: number, to: number): string {
  return `SELECT producer_id, batch_offset FROM ${table}
WHERE ${ownRecordsBetween(rows, from, to)} AND bitTest(batch_attributes, ${TRANSACTIONAL_BIT})
GROUP BY producer_id, batch_offset ORDER BY batch_offset`;
}

// -------------------------------------------------------------------- reads (bound tables)

/** As ownOffsetForTimestamp, over a bound table whose record time (ms, Int64) is `time`. */
export function boundOffsetForTimestamp(
  table: string,
  rows: PartitionRows,
  records: string,
  time: string,
  ms: number,
): string {
  return `SELECT toInt64(${rows.offset}), ${time} FROM ${table} WHERE ${records} AND ${time} >= ${int(ms)} ORDER BY ${rows.offset} LIMIT 1`;
}

/** As ownMaxTimestamp, over a bound table whose record time (ms, Int64) is `time`. */
export function boundMaxTimestamp(table: string, rows: PartitionRows, records: string, time: string): string {
  return `SELECT toInt64(${rows.offset}), ${time} FROM ${table} WHERE ${records} ORDER BY ${time} DESC, ${rows.offset} ASC LIMIT 1`;
}

// ------------------------------------------------------------------------ committed offsets

/** A group's committed offsets: topic, partition, offset, leader_epoch, metadata, commit_timestamp. */
export function groupOffsets(database: string, group: string): string {
  return `SELECT topic, partition, offset, leader_epoch, metadata, commit_timestamp
FROM ${tableName(database, GROUP_OFFSETS_TABLE)} FINAL WHERE group_id = ${str(group)} AND deleted = 0 ORDER BY topic, partition`;
}

export function offsetGroups(database: string): string {
  return `SELECT DISTINCT group_id FROM ${tableName(database, GROUP_OFFSETS_TABLE)} FINAL WHERE deleted = 0 ORDER BY group_id`;
}

/** Deletes the committed offsets `where` selects: a newer row of each, marked deleted. */
export function deleteOffsetsWhere(database: string, version: number, where: string): string {
  const table = tableName(database, GROUP_OFFSETS_TABLE);
  return `INSERT INTO ${table} (${GROUP_OFFSET_ROW_COLUMNS.map(ident).join(', ')})
SELECT group_id, topic, partition, offset, leader_epoch, metadata, commit_timestamp, 1, ${int(version)}
FROM ${table} FINAL WHERE ${where} AND deleted = 0`;
}

// ------------------------------------------------------------------------------- security

/** SCRAM credentials as stored: user, mechanism, salt, iterations Int32, stored_key, server_key. */
export function storedScramCredentials(database: string): string {
  return `SELECT user, mechanism, salt, iterations, stored_key, server_key
FROM ${tableName(database, SCRAM_CREDENTIALS_TABLE)} FINAL WHERE deleted = 0 ORDER BY user, mechanism`;
}

/** Whether the user has a credential of the mechanism (UInt64, 0 or 1). */
export function scramCredentialCount(database: string, user: string, mechanism: string): string {
  return `SELECT count() FROM ${tableName(database, SCRAM_CREDENTIALS_TABLE)} FINAL
WHERE user = ${str(user)} AND mechanism = ${str(mechanism)} AND deleted = 0`;
}

/** ACL bindings as stored, the seven fields (Int8 codes, String names) in the order of AclBinding. */
export function storedAcls(database: string): string {
  return `SELECT resource_type, resource_name, pattern_type, principal, host, operation, permission_type
FROM ${tableName(database, ACLS_TABLE)} FINAL WHERE deleted = 0
ORDER BY resource_type, resource_name, pattern_type, principal, host, operation, permission_type`;
}

/** Client quota values as stored, grouped by entity: entity_key, entity, quota_key, value Float64. */
export function storedClientQuotas(database: string): string {
  return `SELECT entity_key, entity, quota_key, value
FROM ${tableName(database, CLIENT_QUOTAS_TABLE)} FINAL WHERE deleted = 0 ORDER BY entity_key, quota_key`;
}

/** Dynamic broker configs as stored: resource, name, value. */
export function storedBrokerConfigs(database: string): string {
  return `SELECT resource, name, value
FROM ${tableName(database, BROKER_CONFIGS_TABLE)} FINAL WHERE deleted = 0 ORDER BY resource, name`;
}

/** The log cleaner's state of one partition as stored: topic_id, cleaned_to, tombstones_before, passes. */
export function storedCleanerState(database: string, topic: string, partition: number): string {
  return `SELECT topic_id, cleaned_to, tombstones_before, passes
FROM ${tableName(database, CLEANER_STATES_TABLE)} FINAL WHERE topic = ${str(topic)} AND partition = ${int(partition)}`;
}
