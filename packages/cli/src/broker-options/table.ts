/**
 * The table of `kch broker` options: each one's flag, KCH_* variable, config file key and help, and
 * the usage text made from it. What the values may be is the schema's (./schema.ts).
 */
import { DEFAULT_STORAGE } from './storage-spec.js';

export const DEFAULT_KAFKA_PORT = 9092;
/** The admin HTTP port (/metrics, /healthz, POST /sql); Redpanda uses the same one for its admin API. */
export const DEFAULT_ADMIN_PORT = 9644;

export type OptionKey =
  | 'host'
  | 'port'
  | 'advertisedHost'
  | 'advertisedPort'
  | 'nodeId'
  | 'storage'
  | 'database'
  | 'clickhouseCluster'
  | 'lingerMs'
  | 'partitions'
  | 'topicConfig'
  | 'chdbSettings'
  | 'autoCreateTopics'
  | 'tailCacheBytes'
  | 'queuedMaxRequestBytes'
  | 'maxPendingStorageBytes'
  | 'groupInitialRebalanceDelayMs'
  | 'logLevel'
  | 'adminHost'
  | 'adminPort'
  | 'adminToken'
  | 'adminTls'
  | 'adminTlsCert'
  | 'adminTlsKey'
  | 'views'
  | 'topics'
  | 'tables';

export interface OptionSpec {
  key: OptionKey;
  flag: string;
  env: string;
  /** What the value looks like in the usage text. */
  value: string;
  help: string;
  /** The flag may repeat (values collect in a list). */
  multiple?: boolean;
}

/** Every `kch broker` option, in the order the usage lists them. */
export const BROKER_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'host',
    flag: 'host',
    env: 'KCH_HOST',
    value: '<address>',
    help: 'address the Kafka listener binds (default 127.0.0.1; 0.0.0.0 for every interface)',
  },
  {
    key: 'port',
    flag: 'port',
    env: 'KCH_PORT',
    value: '<port>',
    help: `Kafka port (default ${DEFAULT_KAFKA_PORT}); 0 picks a free one, shown in the banner`,
  },
  {
    key: 'advertisedHost',
    flag: 'advertised-host',
    env: 'KCH_ADVERTISED_HOST',
    value: '<host>',
    help: 'host clients are told to connect to (default: the bound address, or the hostname when binding 0.0.0.0)',
  },
  {
    key: 'advertisedPort',
    flag: 'advertised-port',
    env: 'KCH_ADVERTISED_PORT',
    value: '<port>',
    help: 'port clients are told to connect to (default: the bound port)',
  },
  {
    key: 'nodeId',
    flag: 'node-id',
    env: 'KCH_NODE_ID',
    value: '<id>',
    help: "this broker's Kafka node id (node.id), unique among the brokers of a database (default: node.id of --server-properties, else assigned: the lowest id no live broker of the database holds, 1 for the first)",
  },
  {
    key: 'storage',
    flag: 'storage',
    env: 'KCH_STORAGE',
    value: '<spec>',
    help: `memory | chdb:<dir> or a path such as ./data (embedded ClickHouse in that directory) | http(s)://user:pass@host:8123 (a ClickHouse server); default ${DEFAULT_STORAGE}`,
  },
  {
    key: 'database',
    flag: 'database',
    env: 'KCH_DATABASE',
    value: '<name>',
    help: 'ClickHouse database of topic tables (default kafka)',
  },
  {
    key: 'clickhouseCluster',
    flag: 'clickhouse-cluster',
    env: 'KCH_CLICKHOUSE_CLUSTER',
    value: '<name>',
    help: 'a self-managed ClickHouse cluster (its remote_servers name) behind --storage: DDL runs ON CLUSTER, tables are ReplicatedMergeTree, inserts wait for a majority of replicas (not for ClickHouse Cloud, which needs none of it)',
  },
  {
    key: 'lingerMs',
    flag: 'linger-ms',
    env: 'KCH_LINGER_MS',
    value: '<ms>',
    help: 'group commit: appends within this window become one ClickHouse insert (default 5)',
  },
  {
    key: 'partitions',
    flag: 'partitions',
    env: 'KCH_PARTITIONS',
    value: '<n>',
    help: 'partitions of auto-created topics and of CreateTopics with -1 (default 1)',
  },
  {
    key: 'topicConfig',
    flag: 'topic-config',
    env: 'KCH_TOPIC_CONFIG',
    value: '<key=value>',
    help: 'topic config default, e.g. retention.ms=86400000; repeat the flag (env: comma-separated)',
    multiple: true,
  },
  {
    key: 'chdbSettings',
    flag: 'chdb-setting',
    env: 'KCH_CHDB_SETTINGS',
    value: '<name=value>',
    help: 'server setting of embedded ClickHouse, e.g. max_server_memory_usage=2147483648 (a ceiling on its memory); repeat the flag (env: comma-separated)',
    multiple: true,
  },
  {
    key: 'autoCreateTopics',
    flag: 'auto-create-topics',
    env: 'KCH_AUTO_CREATE_TOPICS',
    value: 'true|false',
    help: 'create topics that clients ask for (default true)',
  },
  {
    key: 'tailCacheBytes',
    flag: 'tail-cache-bytes',
    env: 'KCH_TAIL_CACHE_BYTES',
    value: '<bytes>',
    help: 'memory for recent batches, so tail consumers never wait on storage (default 268435456, 256 MiB)',
  },
  {
    key: 'queuedMaxRequestBytes',
    flag: 'queued-max-request-bytes',
    env: 'KCH_QUEUED_MAX_REQUEST_BYTES',
    value: '<bytes>',
    help: 'bytes of requests read and not yet answered at which the broker stops reading from clients until storage catches up (queued.max.request.bytes; default 67108864, 64 MiB)',
  },
  {
    key: 'maxPendingStorageBytes',
    flag: 'max-pending-storage-bytes',
    env: 'KCH_MAX_PENDING_STORAGE_BYTES',
    value: '<bytes>',
    help: 'bytes of record batches handed to storage and not stored yet at which Produce requests wait until inserts end (default 67108864, 64 MiB)',
  },
  {
    key: 'groupInitialRebalanceDelayMs',
    flag: 'group-initial-rebalance-delay-ms',
    env: 'KCH_GROUP_INITIAL_REBALANCE_DELAY_MS',
    value: '<ms>',
    help: 'how long the first rebalance of a new group waits for more members (default 3000; 0 suits development and tests)',
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: 'KCH_LOG_LEVEL',
    value: '<level>',
    help: 'debug | info | warn | error | silent (default info); JSON lines on stderr',
  },
  {
    key: 'adminHost',
    flag: 'admin-host',
    env: 'KCH_ADMIN_HOST',
    value: '<address>',
    help: 'address of the admin HTTP server (default 127.0.0.1)',
  },
  {
    key: 'adminPort',
    flag: 'admin-port',
    env: 'KCH_ADMIN_PORT',
    value: '<port>|off',
    help: `admin HTTP port: /metrics, /healthz, POST /sql (default ${DEFAULT_ADMIN_PORT}; 0 picks a free one; off disables it)`,
  },
  {
    key: 'adminToken',
    flag: 'admin-token',
    env: 'KCH_ADMIN_TOKEN',
    value: '<token>',
    help: 'bearer token POST /sql and /views require; required when --admin-host is not a loopback address, unless the broker has an authorizer (then they require a user with ACLs)',
  },
  {
    key: 'adminTlsCert',
    flag: 'admin-tls-cert',
    env: 'KCH_ADMIN_TLS_CERT',
    value: '<file>',
    help: 'certificate chain (PEM) of the admin server, with --admin-tls-key: it serves https; read again when the file changes',
  },
  {
    key: 'adminTlsKey',
    flag: 'admin-tls-key',
    env: 'KCH_ADMIN_TLS_KEY',
    value: '<file>',
    help: 'private key (PEM, unencrypted) of --admin-tls-cert',
  },
  {
    key: 'adminTls',
    flag: 'admin-tls',
    env: 'KCH_ADMIN_TLS',
    value: 'listener|off',
    help: "listener: the admin server serves https with the certificate and key of the broker's first SSL or SASL_SSL listener (default off, unless --admin-tls-cert is given)",
  },
  {
    key: 'views',
    flag: 'views',
    env: 'KCH_VIEWS',
    value: '<json>',
    help: 'materialized views to create at start when missing: a JSON array of { name, topic, select (a string or a list of lines), to | engine, populate? }, usually in the config file (see kch views)',
  },
  {
    key: 'topics',
    flag: 'topics',
    env: 'KCH_TOPICS',
    value: '<json>',
    help: 'topics to create at start, or bring in line when they exist: a JSON object { "<name>": { partitions?, table?, format?, onInvalid?, deadLetterTopic?, schema?, configs? } } (usually in the config file)',
  },
  {
    key: 'tables',
    flag: 'tables',
    env: 'KCH_TABLES',
    value: '<json>',
    help: 'tables fed by topics, created when missing and bound at start: a JSON array of { name, columns: [{ name, type }], topics, data_format?, group_name? } (usually in the config file; see docs/topics-over-tables.md)',
  },
];

/** The options by flag name and by key, for the config file (which takes either) and for messages. */
export const BY_FLAG: ReadonlyMap<string, OptionSpec> = new Map(BROKER_OPTIONS.map((o) => [o.flag, o]));
export const BY_KEY: ReadonlyMap<string, OptionSpec> = new Map(BROKER_OPTIONS.map((o) => [o.key, o]));

/** The options' part of the usage text. */
export function optionsUsage(): string {
  const rows = BROKER_OPTIONS.map((o) => [`--${o.flag} ${o.value}`, `${o.help} [${o.env}]`]);
  rows.push([
    '--config <file>',
    'JSON file of these options, e.g. { "port": 9092, "topicConfig": { "retention.ms": "86400000" } } [KCH_CONFIG]',
  ]);
  rows.push([
    '--server-properties <file>',
    "Kafka's server.properties: listeners, TLS, SASL, ACLs and the broker settings kch has, in Kafka's names; kch's own options win over it [KCH_SERVER_PROPERTIES]",
  ]);
  rows.push([
    '--override <name=value>',
    'a server property over the file, as kafka-server-start.sh takes it; repeat the flag',
  ]);
  rows.push(['-h, --help', 'this text']);
  const width = Math.max(...rows.map((r) => r[0]!.length)) + 2;
  return rows.map(([a, b]) => `  ${a!.padEnd(width)}${b}`).join('\n');
}
