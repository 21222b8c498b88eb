/**
 * The ClickHouse schema of kch, in one place. docs/clickhouse-schema.md explains it for users.
 *
 * One database (default `kafka`) holds:
 * - one table per topic, named as the topic (or a name derived from it where ClickHouse cannot hold
 *   the topic's, ./topic-tables.ts), one row per record (see {@link topicTableDdl});
 * - small metadata tables whose names start with `_kch_` (a prefix kch reserves: no topic may use it),
 *   created and changed only by the versioned {@link MIGRATIONS}, which the storage applies on open and
 *   records in `_kch_migrations`.
 *
 * Metadata rows are never updated in place. Each change inserts a row with a higher `version`, and
 * readers take the latest one (ReplacingMergeTree, read with FINAL, or max() where values only grow),
 * so a crash between two statements leaves either the old or the new state, never a torn one.
 */

import { StorageError } from '../storage.js';
import { type Dialect, SINGLE_SERVER } from './cluster-ddl.js';
import { ident, int, str, tableName } from './sql.js';

/** Names of topics that kch keeps for itself. */
export const RESERVED_PREFIX = '_kch_';

export const MIGRATIONS_TABLE = '_kch_migrations';
export const TOPICS_TABLE = '_kch_topics';
export const PARTITIONS_TABLE = '_kch_partitions';
export const GROUP_OFFSETS_TABLE = '_kch_group_offsets';
export const PRODUCER_IDS_TABLE = '_kch_producer_ids';
export const SCRAM_CREDENTIALS_TABLE = '_kch_scram_credentials';
export const ACLS_TABLE = '_kch_acls';
export const CLIENT_QUOTAS_TABLE = '_kch_client_quotas';
export const BROKER_LEASES_TABLE = '_kch_broker_leases';
export const TXN_BATCHES_TABLE = '_kch_txn_batches';
export const TRANSACTIONS_TABLE = '_kch_transactions';
export const BROKER_CONFIGS_TABLE = '_kch_broker_configs';
export const CLEANER_STATES_TABLE = '_kch_cleaner_states';

/** How many recent insert tokens a topic table remembers, so a retried insert is not stored twice. */
export const DEFAULT_DEDUPLICATION_WINDOW = 1000;

/** Timestamps DateTime64 can hold (1900-01-01 .. 2299-12-31), in ms. */
export const DATETIME64_MS_MIN = -2208988800000;
export const DATETIME64_MS_MAX = 10413791999999;

// The record timestamp as Kafka defines it: LogAppendTime batches give every record the batch's max
// timestamp, CreateTime records have base + delta. Clamped to what DateTime64(3) can hold (1900-2299);
// the exact values stay in batch_timestamp and timestamp_delta.
const RECORD_TIMESTAMP_EXPR = `fromUnixTimestamp64Milli(least(greatest(if(bitTest(batch_attributes, 3), batch_max_timestamp, batch_timestamp + timestamp_delta), ${DATETIME64_MS_MIN}), ${DATETIME64_MS_MAX}), 'UTC')`;

/**
 * Columns of a topic table. The first six are what SQL users read; the rest are what it takes to
 * rebuild each RecordBatch exactly (same offsets, timestamps, producer fields, attributes, keys, values
 * and headers) when a consumer fetches it. Batch-level fields repeat on every row of a batch; they
 * compress to almost nothing.
 */
export const TOPIC_COLUMNS: readonly { name: string; type: string; doc: string }[] = [
  { name: 'partition', type: 'Int32', doc: 'Kafka partition' },
  { name: 'offset', type: 'Int64', doc: 'Kafka offset, dense within a partition' },
  {
    name: 'timestamp',
    type: `DateTime64(3, 'UTC') DEFAULT ${RECORD_TIMESTAMP_EXPR}`,
    doc: 'record timestamp (CreateTime, or LogAppendTime when the topic uses it); TTL and time lookups use it',
  },
  { name: 'key', type: 'Nullable(String)', doc: 'record key, raw bytes; NULL for a null key' },
  { name: 'value', type: 'Nullable(String)', doc: 'record value, raw bytes; NULL for a tombstone' },
  {
    name: 'headers',
    type: 'Array(Tuple(key String, value Nullable(String)))',
    doc: 'record headers in order, duplicates kept; values are raw bytes or NULL',
  },
  { name: 'attributes', type: 'Int8', doc: 'record attributes (unused by Kafka so far)' },
  { name: 'timestamp_delta', type: 'Int64', doc: 'record timestamp minus batch_timestamp, as in the batch' },
  { name: 'batch_offset', type: 'Int64', doc: 'base offset of the batch the record arrived in' },
  { name: 'batch_last_offset_delta', type: 'Int32', doc: "the batch's lastOffsetDelta" },
  { name: 'batch_timestamp', type: 'Int64', doc: "the batch's base timestamp (ms)" },
  {
    name: 'batch_max_timestamp',
    type: 'Int64',
    doc: "the batch's max timestamp (ms; the append time for LogAppendTime)",
  },
  {
    name: 'batch_attributes',
    type: 'Int16',
    doc: 'batch attributes: bits 0-2 compression codec, 3 LogAppendTime, 4 transactional, 5 control, 6 delete horizon',
  },
  { name: 'batch_leader_epoch', type: 'Int32', doc: "the batch's partition leader epoch" },
  { name: 'producer_id', type: 'Int64', doc: 'idempotent producer id, -1 when none' },
  { name: 'producer_epoch', type: 'Int16', doc: 'producer epoch, -1 when none' },
  { name: 'base_sequence', type: 'Int32', doc: "the batch's first sequence number, -1 when none" },
];

/** The columns an append writes, in the order of the TabSeparated rows (timestamp is computed). */
export const TOPIC_INSERT_COLUMNS: readonly string[] = [
  'partition',
  'offset',
  'key',
  'value',
  'headers',
  'attributes',
  'timestamp_delta',
  'batch_offset',
  'batch_last_offset_delta',
  'batch_timestamp',
  'batch_max_timestamp',
  'batch_attributes',
  'batch_leader_epoch',
  'producer_id',
  'producer_epoch',
  'base_sequence',
];

/** The types of {@link TOPIC_INSERT_COLUMNS}, in the same order. */
export const TOPIC_INSERT_TYPES: readonly string[] = TOPIC_INSERT_COLUMNS.map((name) => {
  const column = TOPIC_COLUMNS.find((c) => c.name === name);
  if (!column) throw new Error(`TOPIC_INSERT_COLUMNS names ${name}, which TOPIC_COLUMNS lacks`);
  return column.type;
});

/** The columns a read selects, in the order the RowBinary parser (./rows.ts) expects them. */
export const TOPIC_READ_COLUMNS: readonly string[] = [
  'offset',
  'batch_offset',
  'batch_last_offset_delta',
  'batch_timestamp',
  'batch_max_timestamp',
  'batch_attributes',
  'batch_leader_epoch',
  'producer_id',
  'producer_epoch',
  'base_sequence',
  'attributes',
  'timestamp_delta',
  'key',
  'value',
  'headers',
];

/**
 * Whether the topic's records go by time: cleanup.policy holds `delete` (or is unset: Kafka's
 * default). A topic that only compacts keeps its records whatever retention.ms says, as in Kafka.
 */
export function deletesByRetention(configs: Record<string, string>): boolean {
  const policy = configs['cleanup.policy'];
  return policy === undefined || policy.split(',').some((p) => p.trim() === 'delete');
}

/**
 * retention.ms of a config map: a number, or null for none (also when cleanup.policy has no
 * `delete`); INVALID_REQUEST when malformed.
 */
export function retentionOf(configs: Record<string, string>): number | null {
  const v = configs['retention.ms'];
  if (v === undefined) return null;
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(Number(v)) || Number(v) < -1) {
    throw new StorageError(
      'INVALID_REQUEST',
      `retention.ms must be an integer of -1 or more, not ${JSON.stringify(v)}`,
    );
  }
  const n = Number(v);
  return n < 0 || !deletesByRetention(configs) ? null : n;
}

/** `TTL ...` for a retention.ms value, or null when records are kept forever (-1 or unset). */
export function ttlExpression(retentionMs: number | null): string | null {
  if (retentionMs === null || retentionMs < 0) return null;
  return `timestamp + toIntervalMillisecond(${int(retentionMs)})`;
}

/** MergeTree settings of a table, by name (`merge_selector_base: 20`). */
export type TableSettings = Readonly<Record<string, number | string>>;

/**
 * MergeTree settings kch gives new topic tables unless told otherwise (and where the ClickHouse knows
 * them). A topic table only ever grows at its end, in many small parts (one per group commit), and
 * every merge rewrites whole rows:
 * - `merge_selector_base` 20 (default 5): wider, rarer merges. With the default, merges took 2-3 times
 *   the CPU of the inserts themselves (1 KiB records); 20 takes about 40% less, for a few more parts.
 * - `index_granularity_bytes` 1 MiB (default 10 MiB) and `max_compress_block_size` 256 KiB (default
 *   1 MiB): a merge holds about a granule and a compressed block of every part it reads at once, so with
 *   1 KiB records (8192-row granules of 8 MiB) the wide merges above held 200-400 MiB each. Smaller
 *   granules and blocks cut the broker's peak RSS by a quarter at the same throughput (measured in
 *   docs/benchmarks.md); small records keep their 8192-row granules.
 */
export const DEFAULT_TOPIC_TABLE_SETTINGS: TableSettings = {
  merge_selector_base: 20,
  index_granularity_bytes: 1024 * 1024,
  max_compress_block_size: 256 * 1024,
};

function settingValue(value: number | string): string {
  return typeof value === 'number' ? String(value) : str(value);
}

/**
 * The table of a topic: one row per record, sorted by partition and offset. Without IF NOT EXISTS:
 * kch never takes over a table it finds under the name (./topic-tables.ts). `dialect`: on a cluster,
 * made on every server and replicated (./cluster-ddl.ts).
 */
export function topicTableDdl(
  database: string,
  table: string,
  retentionMs: number | null,
  deduplicationWindow = DEFAULT_DEDUPLICATION_WINDOW,
  settings: TableSettings = DEFAULT_TOPIC_TABLE_SETTINGS,
  comment?: string,
  dialect: Dialect = SINGLE_SERVER,
): string {
  const ttl = ttlExpression(retentionMs);
  const extra = Object.entries(settings).map(([name, value]) => `, ${name} = ${settingValue(value)}`);
  return [
    `CREATE TABLE ${tableName(database, table)}${dialect.onCluster} (`,
    `${TOPIC_COLUMNS.map((c) => `  ${ident(c.name)} ${c.type} COMMENT ${str(c.doc)}`).join(',\n')},`,
    '  INDEX timestamp_minmax timestamp TYPE minmax GRANULARITY 1',
    ')',
    `ENGINE = ${dialect.engine('MergeTree')}`,
    'ORDER BY (partition, offset)',
    ...(ttl ? [`TTL ${ttl}`] : []),
    // A flush carries insert_deduplication_token: a retried insert whose first attempt did land is
    // dropped instead of stored twice. A table remembers tokens only within this window
    // (non_replicated_deduplication_window, or replicated_deduplication_window for a replicated one).
    `SETTINGS ${dialect.deduplicationWindowSetting} = ${int(deduplicationWindow)}${extra.join('')}`,
    ...(comment !== undefined ? [`COMMENT ${str(comment)}`] : []),
  ].join('\n');
}

/** The columns of `_kch_txn_batches` (migration 5), in the order rows are written. */
const TXN_BATCH_COLUMNS: readonly { name: string; type: string }[] = [
  { name: 'topic_id', type: 'String' },
  { name: 'partition', type: 'Int32' },
  { name: 'base_offset', type: 'Int64' },
  { name: 'last_offset', type: 'Int64' },
  { name: 'producer_id', type: 'Int64' },
  { name: 'producer_epoch', type: 'Int16' },
  { name: 'leader_epoch', type: 'Int32' },
  { name: 'kind', type: "Enum8('staged' = 1, 'marker' = 2, 'committed' = 3, 'aborted' = 4)" },
  { name: 'bytes', type: 'String' },
  { name: 'version', type: 'UInt64' },
];

export interface MigrationContext {
  database: string;
  /** How DDL reads on this ClickHouse (./cluster-ddl.ts); one server's when left out. */
  dialect?: Dialect;
}

export interface Migration {
  version: number;
  name: string;
  /** Idempotent statements (IF NOT EXISTS ...): a migration cut short by a crash runs again whole. */
  statements(ctx: MigrationContext): string[];
}

/** Applied in order on open; each is recorded in `_kch_migrations` once all its statements ran. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'metadata tables',
    statements: ({ database, dialect: { onCluster: on, engine } = SINGLE_SERVER }) => [
      // Topics: the latest row per name wins; deleted = 1 marks a deleted topic.
      `CREATE TABLE IF NOT EXISTS ${tableName(database, TOPICS_TABLE)}${on} (
  name String,
  topic_id String,
  partition_count Int32,
  configs Array(Tuple(name String, value String)),
  created_at Int64,
  deleted UInt8,
  version UInt64
) ENGINE = ${engine('ReplacingMergeTree(version)')} ORDER BY name`,
      // Per partition, values that only grow: the DeleteRecords log start and a checkpoint of the log
      // end (so offsets are not reused once TTL has removed every record). Read with max().
      `CREATE TABLE IF NOT EXISTS ${tableName(database, PARTITIONS_TABLE)}${on} (
  topic_id String,
  partition Int32,
  log_start_offset Int64,
  end_offset Int64,
  version UInt64
) ENGINE = ${engine('ReplacingMergeTree(version)')} ORDER BY (topic_id, partition)`,
      // Committed offsets: the latest row per (group, topic, partition) wins; deleted = 1 deletes.
      `CREATE TABLE IF NOT EXISTS ${tableName(database, GROUP_OFFSETS_TABLE)}${on} (
  group_id String,
  topic String,
  partition Int32,
  offset Int64,
  leader_epoch Int32,
  metadata Nullable(String),
  commit_timestamp Int64,
  deleted UInt8,
  version UInt64
) ENGINE = ${engine('ReplacingMergeTree(version)')} ORDER BY (group_id, topic, partition)`,
      // Producer ids are handed out in blocks; a block is written before any id of it is used.
      `CREATE TABLE IF NOT EXISTS ${tableName(database, PRODUCER_IDS_TABLE)}${on} (
  block_end Int64,
  allocated_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ${engine('MergeTree')} ORDER BY block_end`,
    ],
  },
  {
    version: 2,
    name: 'topic table identities',
    statements: ({ database, dialect: { onCluster: on } = SINGLE_SERVER }) => [
      // The table kch created for a topic and its UUID: kch drops only that very table (an empty
      // table_name is the topic's name, for topics stored before).
      `ALTER TABLE ${tableName(database, TOPICS_TABLE)}${on} ADD COLUMN IF NOT EXISTS table_name String DEFAULT ''`,
      `ALTER TABLE ${tableName(database, TOPICS_TABLE)}${on} ADD COLUMN IF NOT EXISTS table_uuid String DEFAULT ''`,
    ],
  },
  {
    version: 3,
    name: 'security metadata',
    // Versioned as `_kch_topics` is: the latest row per key wins (FINAL), deleted = 1 removes it.
    statements: ({ database, dialect: { onCluster: on, engine } = SINGLE_SERVER }) => [
      // SCRAM credentials: the salted keys only, never a password. salt, stored_key and server_key are
      // raw bytes (String holds any bytes; ./tsv.ts writes them exactly). A deletion's row has them empty.
      `CREATE TABLE IF NOT EXISTS ${tableName(database, SCRAM_CREDENTIALS_TABLE)}${on} (
  user String,
  mechanism String,
  salt String,
  iterations Int32,
  stored_key String,
  server_key String,
  deleted UInt8,
  version UInt64
) ENGINE = ${engine('ReplacingMergeTree(version)')} ORDER BY (user, mechanism)`,
      // ACL bindings with Kafka's codes (INT8 on the wire); a binding is its seven fields, so the key is
      // all of them and adding one twice leaves one.
      `CREATE TABLE IF NOT EXISTS ${tableName(database, ACLS_TABLE)}${on} (
  resource_type Int8,
  resource_name String,
  pattern_type Int8,
  principal String,
  host String,
  operation Int8,
  permission_type Int8,
  deleted UInt8,
  version UInt64
) ENGINE = ${engine('ReplacingMergeTree(version)')}
ORDER BY (resource_type, resource_name, pattern_type, principal, host, operation, permission_type)`,
      // Client quotas, one row per entity and quota key. entity_key is the entity in one canonical text
      // (its types sorted), whatever the order a request names them in; entity is the same for reading,
      // a NULL name being the default entity of its type.
      `CREATE TABLE IF NOT EXISTS ${tableName(database, CLIENT_QUOTAS_TABLE)}${on} (
  entity_key String,
  entity Array(Tuple(type String, name Nullable(String))),
  quota_key String,
  value Float64,
  deleted UInt8,
  version UInt64
) ENGINE = ${engine('ReplacingMergeTree(version)')} ORDER BY (entity_key, quota_key)`,
    ],
  },
  {
    version: 4,
    name: 'broker leases',
    // On a ClickHouse without Keeper only one broker may serve a database: each broker's lease, renewed
    // every few seconds (the latest row per instance wins, by ClickHouse's clock in µs), lets a second one see the first and refuse.
    // expires_at is ClickHouse's clock (ms); rows written more than a day ago (brokers long gone) are removed by the TTL.
    // On a cluster (whose ON CLUSTER DDL needs a Keeper, but whose servers may lack the
    // keeper_map_path_prefix KeeperMap needs) the leases are replicated like every other kch table, so
    // a second broker reaching another server still sees the first one's lease.
    statements: ({ database, dialect: { onCluster: on, engine } = SINGLE_SERVER }) => [
      `CREATE TABLE IF NOT EXISTS ${tableName(database, BROKER_LEASES_TABLE)}${on} (
  instance String,
  node_id Int32,
  endpoints String,
  registered_at Int64,
  expires_at Int64,
  version UInt64
) ENGINE = ${engine('ReplacingMergeTree(version)')} ORDER BY instance
TTL toDateTime(intDiv(version, 1000000)) + INTERVAL 1 DAY`,
    ],
  },
  {
    version: 5,
    name: 'transactions',
    statements: ({ database, dialect: { onCluster: on, engine } = SINGLE_SERVER }) => [
      // The batches of transactions, apart from the topic tables, so that a topic's table (and every
      // view on it) only ever holds committed records (./transaction-ends.ts). One row per batch:
      // `staged` (a transactional batch whose transaction is open) and `marker` (a COMMIT or ABORT
      // control batch) keep the batch's bytes exactly as appended; ending a transaction replaces its
      // staged rows with `committed` or `aborted` rows without bytes (same key, newer version), so no
      // mutation is needed on the way. The leader epoch is part of the key: a deposed leader's late
      // row at an offset the next leader used too is another row, which the fences hide, instead of
      // replacing the leader's.
      `CREATE TABLE IF NOT EXISTS ${tableName(database, TXN_BATCHES_TABLE)}${on} (
${TXN_BATCH_COLUMNS.map((c) => `  ${c.name} ${c.type}`).join(',\n')}
) ENGINE = ${engine('ReplacingMergeTree(version)')} ORDER BY (topic_id, partition, base_offset, leader_epoch)`,
      // The transaction coordinator's state, one row per transactional id: the latest version wins
      // (FINAL), deleted = 1 removes it. The columns a person asks about first, then the rest of
      // Kafka's TransactionMetadata (the partitions and the groups' pending offsets) typed, so that SQL
      // reads them too.
      `CREATE TABLE IF NOT EXISTS ${tableName(database, TRANSACTIONS_TABLE)}${on} (
  transactional_id String,
  producer_id Int64,
  producer_epoch Int16,
  state LowCardinality(String),
  timeout_ms Int64,
  started_at Int64,
  updated_at Int64,
  previous_producer_id Int64,
  last_producer_epoch Int16,
  partitions Array(Tuple(topic String, partition Int32)),
  groups Array(Tuple(group String, offsets Array(Tuple(topic String, partition Int32, offset Int64, leader_epoch Int32, metadata Nullable(String), commit_timestamp Int64)))),
  deleted UInt8,
  version UInt64
) ENGINE = ${engine('ReplacingMergeTree(version)')} ORDER BY transactional_id`,
    ],
  },
  {
    version: 6,
    name: 'dynamic broker configs',
    // Kafka's dynamic broker configs (KIP-226), one row per resource and config: resource is '' for the
    // cluster-wide default or a broker's node id. The latest row per key wins (FINAL), deleted = 1 removes it.
    statements: ({ database, dialect: { onCluster: on, engine } = SINGLE_SERVER }) => [
      `CREATE TABLE IF NOT EXISTS ${tableName(database, BROKER_CONFIGS_TABLE)}${on} (
  resource String,
  name String,
  value String,
  deleted UInt8,
  version UInt64
) ENGINE = ${engine('ReplacingMergeTree(version)')} ORDER BY (resource, name)`,
    ],
  },
  {
    version: 7,
    name: 'log cleaner states',
    // The log cleaner's state of each partition (CleanerState, docs/compaction.md): where it last
    // cleaned, and the cleanings that set the tombstones' delete horizon. The latest row wins (FINAL).
    statements: ({ database, dialect: { onCluster: on, engine } = SINGLE_SERVER }) => [
      `CREATE TABLE IF NOT EXISTS ${tableName(database, CLEANER_STATES_TABLE)}${on} (
  topic String,
  partition Int32,
  topic_id String,
  cleaned_to Int64,
  tombstones_before Int64,
  passes Array(Tuple(cleaned_to Int64, at Int64)),
  version UInt64
) ENGINE = ${engine('ReplacingMergeTree(version)')} ORDER BY (topic, partition)`,
    ],
  },
];

/** The columns of a `_kch_topics` row as the storage writes it, in the order of its TabSeparated rows. */
export const TOPIC_ROW_COLUMNS: readonly string[] = [
  'name',
  'topic_id',
  'partition_count',
  'configs',
  'created_at',
  'deleted',
  'version',
  'table_name',
  'table_uuid',
];

/** The columns of a `_kch_partitions` row, in order. */
export const PARTITION_ROW_COLUMNS: readonly string[] = [
  'topic_id',
  'partition',
  'log_start_offset',
  'end_offset',
  'version',
];

/** The columns of a `_kch_group_offsets` row, in order. */
export const GROUP_OFFSET_ROW_COLUMNS: readonly string[] = [
  'group_id',
  'topic',
  'partition',
  'offset',
  'leader_epoch',
  'metadata',
  'commit_timestamp',
  'deleted',
  'version',
];

/** The columns of a `_kch_scram_credentials` row, in order. */
export const SCRAM_CREDENTIAL_ROW_COLUMNS: readonly string[] = [
  'user',
  'mechanism',
  'salt',
  'iterations',
  'stored_key',
  'server_key',
  'deleted',
  'version',
];

/** The columns of an `_kch_acls` row, in order. */
export const ACL_ROW_COLUMNS: readonly string[] = [
  'resource_type',
  'resource_name',
  'pattern_type',
  'principal',
  'host',
  'operation',
  'permission_type',
  'deleted',
  'version',
];

/** The columns of a `_kch_client_quotas` row, in order. */
export const CLIENT_QUOTA_ROW_COLUMNS: readonly string[] = [
  'entity_key',
  'entity',
  'quota_key',
  'value',
  'deleted',
  'version',
];

/** The columns of a `_kch_cleaner_states` row, in order. */
export const CLEANER_STATE_ROW_COLUMNS: readonly string[] = [
  'topic',
  'partition',
  'topic_id',
  'cleaned_to',
  'tombstones_before',
  'passes',
  'version',
];

/** The columns of a `_kch_broker_configs` row, in order. */
export const BROKER_CONFIG_ROW_COLUMNS: readonly string[] = [
  'resource',
  'name',
  'value',
  'deleted',
  'version',
];

/** The columns of a `_kch_txn_batches` row, in order. */
export const TXN_BATCH_ROW_COLUMNS: readonly string[] = TXN_BATCH_COLUMNS.map((c) => c.name);

/** Their types, in the same order (inserts of many rows go through a file with them, on chdb). */
export const TXN_BATCH_ROW_TYPES: readonly string[] = TXN_BATCH_COLUMNS.map((c) => c.type);

/** The columns of a `_kch_transactions` row, in order. */
export const TRANSACTION_ROW_COLUMNS: readonly string[] = [
  'transactional_id',
  'producer_id',
  'producer_epoch',
  'state',
  'timeout_ms',
  'started_at',
  'updated_at',
  'previous_producer_id',
  'last_producer_epoch',
  'partitions',
  'groups',
  'deleted',
  'version',
];

/** The first table kch makes in a database; its engine says what kind kch's tables are (./replication.ts). */
export function migrationsTableDdl(database: string, dialect: Dialect = SINGLE_SERVER): string {
  return `CREATE TABLE IF NOT EXISTS ${tableName(database, MIGRATIONS_TABLE)}${dialect.onCluster} (
  version UInt32,
  name String,
  applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ${dialect.engine('MergeTree')} ORDER BY version`;
}
