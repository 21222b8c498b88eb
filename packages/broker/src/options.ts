import type { Storage } from '@kch/storage';
import { z } from 'zod';
import { declaredTopicSchema, declaredTopicsProblem } from './log/declared-topic-schema.js';
import { DEFAULT_MAX_PENDING_STORAGE_BYTES } from './log/storage-backlog.js';
import type { Logger } from './logger.js';
import { securityOptionsSchema } from './security/options.js';
import { DEFAULT_QUEUED_MAX_REQUEST_BYTES } from './server/request-memory.js';

const positiveInt = z.number().int().positive();

export { type DeclaredTopic, declaredTopicSchema } from './log/declared-topic-schema.js';

/** Options of `createBroker`, validated with zod; every field but `storage` has a default. */
export const brokerOptionsSchema = z.object({
  /**
   * This broker's node id (Kafka's node.id). Not given: assigned when the broker starts listening,
   * the lowest id no live broker of the database holds (1 for the first or only broker).
   */
  nodeId: z.number().int().min(0).optional(),
  /** The cluster id clients see (Kafka's is 22 characters of base64; any string works). */
  clusterId: z.string().min(1).default('kch-cluster-0000000000'),
  /** Host and port given to clients in Metadata; default: the address `listen` bound to. */
  advertisedHost: z.string().min(1).optional(),
  advertisedPort: z.number().int().min(1).max(65535).optional(),
  /** The rack of this broker in Metadata (null: none). */
  rack: z.string().nullable().default(null),

  /** Create a topic when a client asks for it in Metadata (auto.create.topics.enable). */
  autoCreateTopics: z.boolean().default(true),
  /** Partitions of an auto-created topic, and of CreateTopics with -1 (num.partitions). */
  defaultPartitions: positiveInt.default(1),
  /** Topic config defaults that apply to every topic without an override (e.g. `retention.ms`). */
  topicDefaults: z.record(z.string(), z.string()).default({}),

  /** Largest request frame accepted (socket.request.max.bytes); larger ones close the connection. */
  maxRequestSize: positiveInt.default(100 * 1024 * 1024),
  /** Largest record batch accepted (message.max.bytes); larger ones get MESSAGE_TOO_LARGE. */
  messageMaxBytes: positiveInt.default(1024 * 1024 + 12),
  /** Requests of one connection being processed at once before reading from it pauses. */
  maxInFlightRequestsPerConnection: positiveInt.default(100),
  /**
   * Bytes of requests read and not yet answered, across all connections, at which the broker stops
   * reading from every connection until answers free some (queued.max.request.bytes). Produce
   * requests hold their bytes until their records are stored, so this bounds the memory a producer
   * faster than storage can take. Kafka's default is no bound; kch's leaves room for two full
   * group-commit inserts and the requests gathering for the next.
   */
  queuedMaxRequestBytes: positiveInt.default(DEFAULT_QUEUED_MAX_REQUEST_BYTES),
  /**
   * Bytes of record batches handed to storage and not stored yet, across all partitions, past which
   * partitions hand nothing more to storage until stored appends free some (kch's own; no Kafka
   * equivalent). When ClickHouse inserts more slowly than producers send, storage's group commit
   * would otherwise hold ever more rows: past the bound Produce requests wait for their answers (and
   * past queuedMaxRequestBytes the broker stops reading), nothing is refused or dropped. Counted in
   * the batches' bytes as produced; the storage's rows of them take more (~100 bytes a record, and
   * compressed batches their uncompressed size). May be passed by one append.
   */
  maxPendingStorageBytes: positiveInt.default(DEFAULT_MAX_PENDING_STORAGE_BYTES),

  /** Bounds on the session timeout a consumer may ask for (group.min/max.session.timeout.ms). */
  groupMinSessionTimeoutMs: positiveInt.default(6_000),
  groupMaxSessionTimeoutMs: positiveInt.default(1_800_000),
  /** How long the first rebalance of an empty group waits for more members (group.initial.rebalance.delay.ms). */
  groupInitialRebalanceDelayMs: z.number().int().min(0).default(3_000),
  /** Largest number of members in a group (group.max.size). */
  groupMaxSize: positiveInt.default(1_000_000),
  /** A KIP-848 consumer group member's session: fenced without a heartbeat for this long (group.consumer.session.timeout.ms). */
  consumerGroupSessionTimeoutMs: positiveInt.default(45_000),
  /** How often KIP-848 consumer group members heartbeat (group.consumer.heartbeat.interval.ms). */
  consumerGroupHeartbeatIntervalMs: positiveInt.default(5_000),
  /** Largest number of members in a KIP-848 consumer group (group.consumer.max.size). */
  consumerGroupMaxSize: positiveInt.default(2_147_483_647),
  /** Server-side assignors of KIP-848 consumer groups, the first the default (group.consumer.assignors). */
  consumerGroupAssignors: z
    .array(z.enum(['uniform', 'range']))
    .min(1)
    .default(['uniform', 'range']),
  /**
   * Which conversions between classic and KIP-848 consumer groups happen online
   * (group.consumer.migration.policy): a consumer-protocol member joining a classic group upgrades
   * it, the last one leaving a group of classic members downgrades it.
   */
  consumerGroupMigrationPolicy: z
    .enum(['disabled', 'upgrade', 'downgrade', 'bidirectional'])
    .default('bidirectional'),
  /** How long committed offsets of an empty group are kept (offsets.retention.minutes, in ms). */
  offsetsRetentionMs: positiveInt.default(7 * 24 * 3600 * 1000),

  /** Largest transaction.timeout.ms a transactional producer may ask for (transaction.max.timeout.ms). */
  transactionMaxTimeoutMs: positiveInt.default(900_000),
  /**
   * How often the transaction coordinator aborts transactions past their timeout
   * (transaction.abort.timed.out.transaction.cleanup.interval.ms).
   */
  transactionAbortTimedOutIntervalMs: positiveInt.default(10_000),
  /** How long an idle transactional id is kept (transactional.id.expiration.ms). */
  transactionalIdExpirationMs: positiveInt.default(7 * 24 * 3600 * 1000),

  /**
   * Whether the log cleaner compacts topics whose cleanup.policy holds `compact` (log.cleaner.enable);
   * off, they keep every record (docs/compaction.md).
   */
  logCleanerEnable: z.boolean().default(true),
  /** How often the log cleaner looks for partitions to compact (log.cleaner.backoff.ms). */
  logCleanerBackoffMs: positiveInt.default(15_000),

  /** Bytes of recent batches kept in memory per broker so tail consumers never wait on storage. */
  tailCacheBytes: positiveInt.default(256 * 1024 * 1024),

  /**
   * Topics this broker declares, by name: created at start when missing, their configs updated when
   * the declaration changed (see {@link declaredTopicSchema}).
   */
  topics: z.record(z.string(), declaredTopicSchema).default({}),

  /**
   * Consumer groups that stand for a table fed by topics, by group name (an integration config's
   * `group_name`): the broker keeps their committed offsets at the ends of those topics, as the rows
   * are in the table once acknowledged, so lag dashboards built for a sink read zero.
   */
  tableGroups: z.record(z.string().min(1), z.array(z.string().min(1)).min(1)).default({}),

  /**
   * Client telemetry (KIP-714): what every client that pushes metrics (librdkafka >= 2.5 with
   * enable.metrics.push, the Java client) is asked for. Their latest values are shown in `/metrics`
   * as kch_client_* series.
   */
  clientTelemetry: z
    .object({
      /** Metric name prefixes asked for (`org.apache.kafka.producer.`); `['*']`: all, `[]`: none. */
      metrics: z.array(z.string()).default(['*']),
      /** How often clients push (Kafka's client-metrics interval.ms, default 5 minutes; kch's 30 s). */
      pushIntervalMs: z.number().int().min(100).max(3_600_000).default(30_000),
      /** Largest payload, compressed and decompressed (telemetry.max.bytes). */
      maxBytes: positiveInt.default(1024 * 1024),
      /** Client instances whose values are kept; past it the least recently heard from is dropped. */
      maxClients: positiveInt.default(1000),
      /** Series kept per client instance; the rest of its pushes is dropped. */
      maxSeriesPerClient: positiveInt.default(1000),
    })
    .prefault({}),

  /** Listeners, TLS, SASL and the authorizer (./security/options.ts). */
  ...securityOptionsSchema.shape,
});

export type BrokerOptionsInput = z.input<typeof brokerOptionsSchema> & {
  /** Where the broker keeps topics, records, offsets and producer ids. */
  storage: Storage;
  /** Where log lines go; default: JSON lines on stderr at level info. */
  logger?: Logger;
};

/**
 * Options as the broker uses them. `nodeId` is the one given, or, until the broker registers with its
 * cluster and is assigned one, 1.
 */
export type BrokerConfig = Omit<z.output<typeof brokerOptionsSchema>, 'nodeId'> & { nodeId: number };

export class BrokerOptionsError extends Error {
  override readonly name = 'BrokerOptionsError';
}

export function parseBrokerOptions(input: Omit<BrokerOptionsInput, 'storage' | 'logger'>): BrokerConfig {
  const result = brokerOptionsSchema.safeParse(input);
  if (!result.success) {
    throw new BrokerOptionsError(`invalid broker options:\n${z.prettifyError(result.error)}`);
  }
  const config = result.data;
  if (config.groupMinSessionTimeoutMs > config.groupMaxSessionTimeoutMs) {
    throw new BrokerOptionsError(
      `invalid broker options: groupMinSessionTimeoutMs (${config.groupMinSessionTimeoutMs}) is above groupMaxSessionTimeoutMs (${config.groupMaxSessionTimeoutMs})`,
    );
  }
  if (config.topicDefaults['kch.table'] !== undefined) {
    throw new BrokerOptionsError(
      'invalid broker options: topicDefaults cannot set kch.table: a table is bound per topic (topics.<name>.table, or the topic config kch.table)',
    );
  }
  const problem = declaredTopicsProblem(config);
  if (problem) throw new BrokerOptionsError(`invalid broker options: ${problem}`);
  return { ...config, nodeId: config.nodeId ?? 1 };
}
