import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import { clusterOptionsSchema } from './cluster-options.js';
import { DEFAULT_DEDUPLICATION_WINDOW } from './schema.js';
import type { ClickHouseTransport } from './transport.js';

const ms = z.number().int().min(0);

/** Settings by name; names are spliced into SQL or command-line arguments, so they are checked. */
function settingsSchema(what: string, example: string, name: RegExp) {
  return z
    .record(
      z.string(),
      z.union([
        z.number().finite(),
        z.string().refine((v) => !v.includes('\u0000'), 'setting values cannot contain NUL characters'),
      ]),
    )
    .refine((o) => Object.keys(o).every((k) => name.test(k)), {
      message: `keys must be ${what}, such as ${example}`,
    });
}

/** Options of `clickhouseStorage()`, validated with zod. Exactly one of `url`, `chdb` or `client`. */
export const clickhouseStorageOptionsSchema = z
  .object({
    /** A ClickHouse server: `http[s]://user:password@host:8123`. */
    url: z.string().url().optional(),
    /** Embedded ClickHouse (chdb, an optional peer dependency): the data directory. */
    chdb: z.string().min(1).optional(),
    /** An existing @clickhouse/client client (not one built on chdb/connection). */
    client: z.custom<ClickHouseClient>((v) => typeof v === 'object' && v !== null && 'exec' in v).optional(),

    /** The database holding topic tables and kch's metadata tables; created when missing. */
    database: z
      .string()
      .min(1)
      .max(200)
      .refine((s) => !s.includes('\u0000'), 'database names cannot contain NUL')
      .default('kafka'),
    /**
     * Group commit: while inserts of a topic run, appends (any partitions) gather for the next insert,
     * which waits at most this many ms for a free insert slot beyond the first (see `insertsInFlight`).
     * When no insert runs, appends go at once (what arrived in the same turn of the event loop
     * together). Each insert makes a part, and ClickHouse wants few, large ones. 0: no waiting at all.
     */
    lingerMs: ms.max(60_000).default(5),
    /**
     * Inserts of one topic that may run at once. ClickHouse parses an insert on about one thread, so a
     * second concurrent insert (the rows that arrived while the first runs) uses another core and halves
     * the wait of rows that arrive during an insert. Appends of one partition are never in two inserts
     * at once. 1 sends one insert after the other.
     */
    insertsInFlight: z.number().int().min(1).max(8).default(2),
    /** A flush starts early once this many bytes of rows are waiting. */
    maxFlushBytes: z
      .number()
      .int()
      .min(1024)
      .default(16 * 1024 * 1024),
    /** Server only: how long a request may take before it counts as failed (ms). */
    requestTimeoutMs: z.number().int().positive().default(30_000),
    /** How many times a flush whose failure may be transient is sent again (same deduplication token). */
    insertRetries: z.number().int().min(0).max(10).default(2),
    /** Wait before the first retry (ms); doubles each time. */
    retryBackoffMs: ms.default(100),
    /** How often partition ends are checkpointed, so offsets survive TTL removing every record (ms). */
    checkpointIntervalMs: z.number().int().positive().default(10_000),
    /** Producer ids reserved in ClickHouse at a time. */
    producerIdBlockSize: z.number().int().positive().max(1_000_000).default(1000),
    /**
     * Wraps the transport the storage talks through: for fault injection in tests, or to observe
     * every statement. Not needed otherwise.
     */
    wrapTransport: z
      .custom<(transport: ClickHouseTransport) => ClickHouseTransport>((v) => typeof v === 'function')
      .optional(),
    /**
     * With many brokers: how long a topic-name claim whose creation never finished (its broker died
     * between claim and row) must stay unchanged before another creation takes it over (ms). Shorter
     * only in tests; a creator slower than this is fenced, not lost (./topic-claims.ts).
     */
    topicClaimStaleMs: ms.optional(),
    /**
     * MergeTree settings of new topic tables (tables that exist keep theirs: change them with ALTER
     * TABLE ... MODIFY SETTING). Default: DEFAULT_TOPIC_TABLE_SETTINGS (`merge_selector_base: 20`,
     * `index_granularity_bytes: 1 MiB`, `max_compress_block_size: 256 KiB`: less merge CPU and memory),
     * each left out on a ClickHouse that does not know it. `{}` keeps ClickHouse's own defaults.
     */
    topicTableSettings: settingsSchema(
      'MergeTree setting names (letters, digits and _)',
      'merge_selector_base',
      /^[A-Za-z_][A-Za-z0-9_]*$/,
    ).optional(),
    /**
     * Embedded ClickHouse only: server settings of the engine (what a server reads from its config
     * file), e.g. `{ max_server_memory_usage: 1073741824 }` to bound its memory (queries that would go
     * beyond fail with MEMORY_LIMIT_EXCEEDED) or `{ background_pool_size: 4 }` for more merge threads.
     * They apply when the process first opens the data directory; names ClickHouse does not know are
     * ignored, a bad value fails the open.
     */
    chdbSettings: settingsSchema(
      'ClickHouse server setting names (letters, digits, _ and . for nested ones)',
      'max_server_memory_usage',
      /^[A-Za-z_][A-Za-z0-9_.]*$/,
    ).optional(),
    /** non_replicated_deduplication_window of new topic tables: insert tokens remembered. */
    deduplicationWindow: z.number().int().min(1).default(DEFAULT_DEDUPLICATION_WINDOW),
    /**
     * A self-managed ClickHouse cluster: DDL ON CLUSTER, ReplicatedMergeTree, quorum inserts and
     * sequentially consistent reads (see clusterOptionsSchema). With it, `insertsInFlight` is 1: a
     * quorum insert into a table refuses to start while the one before has no quorum yet.
     */
    cluster: clusterOptionsSchema.optional(),
  })
  .refine((o) => [o.url, o.chdb, o.client].filter((x) => x !== undefined).length === 1, {
    message: 'give exactly one of url (a ClickHouse server), chdb (a data directory) or client',
  })
  .refine((o) => o.chdbSettings === undefined || o.chdb !== undefined, {
    message:
      'chdbSettings configure embedded ClickHouse: give them with chdb (a data directory), or set them in the server config',
    path: ['chdbSettings'],
  })
  .refine((o) => o.cluster === undefined || o.chdb === undefined, {
    message:
      'cluster names servers of a ClickHouse cluster: embedded ClickHouse is one process (and its replicated tables cannot take inserts); give url or client',
    path: ['cluster'],
  })
  .refine(
    (o) =>
      o.cluster === undefined ||
      (o.cluster.insertQuorumTimeoutMs < o.requestTimeoutMs && o.cluster.ddlTimeoutMs < o.requestTimeoutMs),
    {
      message:
        'cluster.insertQuorumTimeoutMs and cluster.ddlTimeoutMs must be below requestTimeoutMs, so that ClickHouse answers before the request is given up',
      path: ['cluster'],
    },
  )
  // Quorum inserts into one table go one at a time (insert_quorum_parallel = 0, ./cluster-ddl.ts).
  .transform((o) => (o.cluster?.replicated ? { ...o, insertsInFlight: 1 } : o));

export type ClickHouseStorageOptions = z.input<typeof clickhouseStorageOptionsSchema>;
export type ClickHouseStorageConfig = z.output<typeof clickhouseStorageOptionsSchema>;
