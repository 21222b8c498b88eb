/**
 * The ClickHouse storage: topics are tables, records are rows. The schema is in ./schema.ts and
 * docs/clickhouse-schema.md; the transports (chdb embedded, a server over HTTP) in ./transport.ts.
 *
 * What is kept where:
 * - records: the topic's table, one row per record (appends go through group commit, ./flusher.ts);
 *   or, for a topic bound to a user's table (`kch.table`), that table's rows (./bound-table.ts);
 * - topics and their configs: `_kch_topics`; retention.ms is also the TTL of the topic's table;
 * - DeleteRecords log starts and checkpoints of partition ends: `_kch_partitions`;
 * - committed offsets: `_kch_group_offsets`; producer id blocks: `_kch_producer_ids`.
 *
 * Partition state the broker relies on (next offset, log start) is recovered with SQL on first use
 * and then kept in memory, as the broker only appends through this storage.
 */
import { randomBytes } from 'node:crypto';
import { addSequence } from '../producer-batches.js';
import {
  type CommittedOffset,
  type FlushStats,
  type PartitionSnapshot,
  type ProducerBatchInfo,
  type RecordCheck,
  type Storage,
  StorageError,
  type StorageHealth,
  type StoredBatch,
  type TopicDeletion,
  type TopicPartition,
  type TopicRecord,
} from '../storage.js';
import { recordCheckFor } from './bound-check.js';
import { BoundSink, type ChunkTarget } from './bound-insert.js';
import { batchesFromRows, parseBoundRows, writeBoundRows } from './bound-rows.js';
import {
  type Binding,
  type BoundSchema,
  bindingOf,
  columnsSql,
  describeTable,
  OFFSET,
  partitionFilter,
  readSql,
  TABLE_CONFIG,
  type TableInfo,
  tableColumn,
  tableSql,
  timestampExpr,
} from './bound-table.js';
import { ChdbTransport } from './chdb-transport.js';
import { FlushError } from './flush-error.js';
import { Flusher, type FlushObservation } from './flusher.js';
import { HttpTransport } from './http-transport.js';
import {
  type ClickHouseStorageConfig,
  type ClickHouseStorageOptions,
  clickhouseStorageOptionsSchema,
} from './options.js';
import { EMPTY_BATCH_BYTES, emptyBatch, encodeRowGroup, groupRows, writeBatchRows } from './records.js';
import { RowBinaryReader, readInt64 } from './rowbinary.js';
import {
  DATETIME64_MS_MAX,
  DATETIME64_MS_MIN,
  DEFAULT_TOPIC_TABLE_SETTINGS,
  GROUP_OFFSETS_TABLE,
  MIGRATIONS,
  MIGRATIONS_TABLE,
  migrationsTableDdl,
  PARTITIONS_TABLE,
  PRODUCER_IDS_TABLE,
  RESERVED_PREFIX,
  type TableSettings,
  TOPIC_INSERT_COLUMNS,
  TOPIC_INSERT_TYPES,
  TOPIC_READ_COLUMNS,
  TOPICS_TABLE,
  topicTableDdl,
  ttlExpression,
} from './schema.js';
import { ident, int, str, tableName } from './sql.js';
import {
  integrationTableDdl,
  parseTablesConfig,
  type TopicBinding,
  tableOfEntry,
  topicBindings,
} from './tables-config.js';
import {
  isOwnTable,
  type OwnTable,
  objectKind,
  sqlName,
  type TableObject,
  TopicTables,
  tableReplacedError,
  topicTableComment,
  topicTableName,
} from './topic-tables.js';
import {
  type BackendFailure,
  backendFailure,
  type ClickHouseTransport,
  describeFailure,
  UNKNOWN_TABLE,
} from './transport.js';
import { TsvWriter } from './tsv.js';
import {
  createView,
  dropView,
  type EnsureViewResult,
  ensureView,
  listViews,
  type ViewDefinitionInput,
  type ViewHost,
  type ViewInfo,
} from './views.js';

const PRODUCER_BATCHES_KEPT = 5;
const READ_COLUMNS = TOPIC_READ_COLUMNS.map(ident).join(', ');
const CONTROL_BIT = 5;

interface PartitionState {
  nextOffset: number;
  /** The first offset reads return: the DeleteRecords marker or the first record still stored. */
  logStartOffset: number;
  /** The durable DeleteRecords marker (what `_kch_partitions` holds). */
  marker: number;
  /** The end last written to `_kch_partitions`. */
  checkpointedEnd: number;
  /**
   * Set when an insert of this partition failed: rows from this offset on may still have landed (a
   * network in between), and are deleted before the partition is used again.
   */
  suspectFrom: number | null;
  suspectQueries: string[];
  /** The end of the appends handed to the flusher (pipelined appends): nextOffset when none is pending. */
  acceptedEnd: number;
  /** Settles when every append handed in so far has settled: true when all of them were stored. */
  settled: Promise<boolean>;
  /** Appends handed to the flusher and not settled. */
  inFlight: number;
  /** Failed appends so far, and the end of what had been handed in when the last one failed. */
  failures: number;
  failedEnd: number;
}

/** For an append that followed one that failed: nothing of it is kept either. */
function earlierFailed(tp: TopicPartition): StorageError {
  return new StorageError(
    'UNAVAILABLE',
    `an earlier append to ${tp.topic}-${tp.partition} failed, so these records were not kept either; the client may retry`,
    true,
  );
}

interface TopicState {
  record: TopicRecord;
  /** Quoted `db`.`table`: the topic's own table, or the one it is bound to. */
  table: string;
  /** The table kch created for the topic, as recorded with it; null for a bound topic. */
  own: OwnTable | null;
  partitions: Map<number, Promise<PartitionState>>;
  /** Appends of a partition run one after the other (the contract says so; this makes sure). */
  locks: Map<number, Promise<unknown>>;
  flusher: Flusher;
  /** Encoded batch bytes per record seen so far, to size reads. */
  bytesPerRecord: number;
  /** The table was found missing (dropped behind kch's back): it is created again before use. */
  tableMissing: boolean;
  /** An insert failed for a reason other than load: the table is checked to still be kch's before use. */
  verifyTable: boolean;
  /** Set when the topic is bound to a user's table (kch.table): its records are that table's rows. */
  bound: BoundTopic | null;
  /**
   * Every use fails with this: binding configs stored for the topic that cannot be read (edited by
   * hand), or a table under the topic's table name that kch did not create.
   */
  unusable: StorageError | null;
}

/** How often at most the columns of a bound table are read again for record checks (ms). */
const SCHEMA_REFRESH_MS = 1000;

/** A topic bound to a table (./bound-table.ts): the binding and the table's columns as last read. */
interface BoundTopic {
  binding: Binding;
  schema: BoundSchema | null;
  check: RecordCheck | null;
  /** Date.now() when the schema was read. */
  loadedAt: number;
  /** An insert failed: the table may have changed, read it again before the next use. */
  stale: boolean;
  loading: Promise<BoundSchema> | null;
}

function boundTopic(binding: Binding, schema?: BoundSchema): BoundTopic {
  return {
    binding,
    schema: schema ?? null,
    check: schema ? recordCheckFor(schema) : null,
    loadedAt: schema ? Date.now() : 0,
    stale: false,
    loading: null,
  };
}

/** What an append wrote into its rows buffer, and how to insert them. */
interface EncodedRows {
  records: number;
  /** The last row is the log's end, so recovery finds it (else the end is written down). */
  endKnown: boolean;
  insert(chunk: Buffer, rows: number): Promise<void>;
}

/**
 * Folds what `bytes` of `records` records weighed into the topic's bytes-per-record estimate (the
 * newest sample weighing `weight`). Nothing to learn from no records: empty batches alone would make
 * the estimate NaN, and every read sized by it would fail.
 */
function noteRecordSize(t: TopicState, bytes: number, records: number, weight: number): void {
  if (records <= 0) return;
  t.bytesPerRecord = Math.max(16, Math.round(t.bytesPerRecord * (1 - weight) + (bytes / records) * weight));
}

function closedError(): StorageError {
  return new StorageError('UNAVAILABLE', 'the ClickHouse storage is closed', false);
}

function unknownTopic(name: string): StorageError {
  return new StorageError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
}

/** retention.ms of a config map: a number, or null for none; INVALID_REQUEST when malformed. */
function retentionOf(configs: Record<string, string>): number | null {
  const v = configs['retention.ms'];
  if (v === undefined) return null;
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(Number(v)) || Number(v) < -1) {
    throw new StorageError(
      'INVALID_REQUEST',
      `retention.ms must be an integer of -1 or more, not ${JSON.stringify(v)}`,
    );
  }
  const n = Number(v);
  return n < 0 ? null : n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ClickHouseStorage implements Storage {
  readonly name = 'clickhouse';
  readonly location: string;
  readonly config: ClickHouseStorageConfig;

  private transport: ClickHouseTransport | null = null;
  /** The transport before `wrapTransport`, for `query` when a wrapper does not pass it on. */
  private rawTransport: ClickHouseTransport | null = null;
  private readonly db: string;
  /** MergeTree settings of the topic tables this storage creates (resolved on open). */
  private tableSettings: TableSettings = {};
  private readonly topics = new Map<string, TopicState>();
  /** Group commits into tables topics are bound to, by table, format and column list. */
  private readonly sinks = new Map<string, BoundSink>();
  private offsetsFlusher: Flusher | null = null;
  private lastVersion = 0;
  private readonly instanceId = randomBytes(6).toString('hex');
  private flushSeq = 0;
  private producerNext = 0;
  private producerBlockEnd = 0;
  private producerAlloc: Promise<void> | null = null;
  private metaLock: Promise<unknown> = Promise.resolve();
  private checkpointTimer: NodeJS.Timeout | null = null;
  /** Set when close() begins: public calls are refused, pending appends still flush. */
  private closing = false;
  private opened = false;
  private readonly flushListeners = new Set<(stats: FlushStats) => void>();
  /** The topics' own tables: created, checked and dropped only when they are kch's. */
  private readonly tables: TopicTables;

  constructor(options: ClickHouseStorageOptions) {
    const parsed = clickhouseStorageOptionsSchema.safeParse(options);
    if (!parsed.success) {
      const detail = parsed.error.issues
        .map((i) => `${i.path.join('.') || 'options'}: ${i.message}`)
        .join('; ');
      throw new StorageError('INVALID_REQUEST', `invalid clickhouseStorage options: ${detail}`, false);
    }
    this.config = parsed.data;
    this.db = this.config.database;
    this.tables = new TopicTables({
      database: this.db,
      transport: () => this.t,
      select: (what, sql) => this.select(what, sql),
      run: (what, call) => this.run(what, call),
    });
    if (this.config.chdb !== undefined)
      this.location = `embedded ClickHouse (chdb) in ${this.config.chdb}, database ${this.db}`;
    else if (this.config.url !== undefined) {
      const u = new URL(this.config.url);
      u.password = '';
      u.username = '';
      this.location = `ClickHouse at ${u.origin}, database ${this.db}`;
    } else this.location = `ClickHouse (a caller's client), database ${this.db}`;
  }

  // ------------------------------------------------------------------------------ lifecycle

  async open(): Promise<void> {
    if (this.closing) throw closedError();
    if (this.opened) return;
    const transport = await this.connect();
    this.rawTransport = transport;
    this.transport = this.config.wrapTransport ? this.config.wrapTransport(transport) : transport;
    try {
      await this.run('create the database', () =>
        this.t.command(`CREATE DATABASE IF NOT EXISTS ${ident(this.db)}`),
      );
      await this.migrate();
      this.tableSettings =
        this.config.topicTableSettings ?? (await this.knownSettings(DEFAULT_TOPIC_TABLE_SETTINGS));
      await this.tables.open();
      await this.loadTopics();
      await this.loadCounters();
      // After the counters: it may write topic rows, whose versions must follow the stored ones.
      await this.checkOwnTables();
    } catch (e) {
      await this.transport.close().catch(() => {});
      this.transport = null;
      throw e;
    }
    this.offsetsFlusher = new Flusher(
      (chunks) =>
        this.run('store committed offsets', () =>
          this.t.insertBytes(this.meta(GROUP_OFFSETS_TABLE), GROUP_OFFSET_COLUMNS, chunks),
        ),
      this.config.lingerMs,
      this.config.maxFlushBytes,
      (o) => this.reportFlush('offsets', undefined, o),
    );
    this.checkpointTimer = setInterval(
      () => void this.checkpoint().catch(() => {}),
      this.config.checkpointIntervalMs,
    );
    this.checkpointTimer.unref?.();
    this.opened = true;
  }

  /** The settings of `settings` this ClickHouse knows (an older server may lack some). */
  private async knownSettings(settings: TableSettings): Promise<TableSettings> {
    const names = Object.keys(settings);
    if (names.length === 0) return settings;
    const r = await this.select(
      'read MergeTree settings',
      `SELECT name FROM system.merge_tree_settings WHERE name IN (${names.map(str).join(', ')})`,
    );
    const known = new Set<string>();
    while (!r.done) known.add(r.string());
    return Object.fromEntries(Object.entries(settings).filter(([name]) => known.has(name)));
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    if (!this.transport) return;
    const flushers = [...this.topics.values()].map((t) => t.flusher.drain());
    for (const sink of this.sinks.values()) flushers.push(sink.flusher.drain());
    if (this.offsetsFlusher) flushers.push(this.offsetsFlusher.drain());
    await Promise.all(flushers);
    await this.checkpoint().catch(() => {});
    await this.transport.close().catch(() => {});
    this.transport = null;
    this.rawTransport = null;
  }

  async health(): Promise<StorageHealth> {
    if (this.closing || !this.transport)
      return { ok: false, detail: this.closing ? 'storage is closed' : 'storage is not open' };
    try {
      await this.t.selectBytes('SELECT 1');
      return { ok: true };
    } catch (e) {
      return { ok: false, detail: `${this.location} does not answer: ${describeFailure(backendFailure(e))}` };
    }
  }

  /**
   * Runs any SQL on this storage's ClickHouse and returns the result as ClickHouse wrote it in
   * `format` (TabSeparated, JSONEachRow, CSV, Pretty...; a FORMAT clause in the SQL wins). For tools
   * (the CLI's `kch sql`, the admin endpoint `POST /sql`), which is how an embedded chdb data directory,
   * open in this process only, is reached from outside. The result is held in memory: add a LIMIT.
   * Errors are StorageErrors: INVALID_REQUEST for a statement ClickHouse refused (with its message),
   * UNAVAILABLE when ClickHouse could not be reached.
   */
  async query(sql: string, format = 'TabSeparated'): Promise<Buffer> {
    this.checkOpen();
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(format))
      throw new StorageError(
        'INVALID_REQUEST',
        `${JSON.stringify(format)} is not a ClickHouse format name`,
        false,
      );
    const t = this.t.query ? this.t : this.rawTransport!;
    try {
      return await t.query!(sql, format);
    } catch (e) {
      if (e instanceof StorageError) throw e;
      const f = backendFailure(e);
      if (f.code !== undefined && !f.transient)
        throw new StorageError('INVALID_REQUEST', describeFailure(f), false, { cause: e });
      throw this.unavailable('run the query', f, e);
    }
  }

  /**
   * Calls `listener` after every group-commit insert (records of a topic, or committed offsets): how
   * many appends and rows it carried, its bytes and how long ClickHouse took. For metrics; returns a
   * function that removes the listener.
   */
  onFlush(listener: (stats: FlushStats) => void): () => void {
    this.flushListeners.add(listener);
    return () => this.flushListeners.delete(listener);
  }

  private reportFlush(kind: FlushStats['kind'], topic: string | undefined, o: FlushObservation): void {
    if (this.flushListeners.size === 0) return;
    const stats: FlushStats = {
      kind,
      ...(topic !== undefined ? { topic } : {}),
      appends: o.appends,
      rows: o.rows,
      bytes: o.bytes,
      durationMs: o.durationMs,
      queuedMs: o.queuedMs,
      ok: !('error' in o),
    };
    for (const l of this.flushListeners) {
      try {
        l(stats);
      } catch {
        // a metrics listener never breaks a write
      }
    }
  }

  private async connect(): Promise<ClickHouseTransport> {
    const c = this.config;
    if (c.chdb !== undefined) return ChdbTransport.open(c.chdb, c.chdbSettings);
    // Loaded here, so that memory and chdb users never load the HTTP client.
    let client = c.client;
    if (!client) {
      const { createClient, ClickHouseLogLevel } = await import('@clickhouse/client');
      client = createClient({
        url: c.url,
        request_timeout: c.requestTimeoutMs,
        application: 'kch',
        // Failures come back as StorageErrors that say what failed; the broker logs those.
        log: { level: ClickHouseLogLevel.OFF },
      });
    }
    return new HttpTransport(client, this.location, c.client === undefined);
  }

  /** For public calls: refused once close() began. */
  private checkOpen(): void {
    if (this.closing) throw closedError();
    void this.t;
  }

  /** The transport, for internal calls (close() still flushes through it). */
  private get t(): ClickHouseTransport {
    if (!this.transport) {
      throw this.closing
        ? closedError()
        : new StorageError('UNAVAILABLE', 'the ClickHouse storage is not open', false);
    }
    return this.transport;
  }

  private meta(table: string): string {
    return tableName(this.db, table);
  }

  /** Runs a ClickHouse call; its failure becomes a retriable StorageError that says what failed. */
  private async run<T>(what: string, call: () => Promise<T>, topic?: TopicState): Promise<T> {
    try {
      return await call();
    } catch (e) {
      if (e instanceof StorageError) throw e;
      const f = backendFailure(e);
      if (topic && f.code === UNKNOWN_TABLE) topic.tableMissing = true;
      // Refused for another reason: the table may not be kch's any more; checked before the next use.
      else if (topic && !f.transient) topic.verifyTable = true;
      // A storage fault (the table refuses writes, ClickHouse is down): retriable, as Kafka's
      // KAFKA_STORAGE_ERROR is; producers get through once it is mended.
      throw this.unavailable(what, f, e);
    }
  }

  private unavailable(what: string, f: BackendFailure, cause: unknown): StorageError {
    return new StorageError(
      'UNAVAILABLE',
      `ClickHouse could not ${what} (${this.location}): ${describeFailure(f)}. The client may retry.`,
      true,
      { cause },
    );
  }

  private async select(what: string, sql: string, topic?: TopicState): Promise<RowBinaryReader> {
    return new RowBinaryReader(await this.run(what, () => this.t.selectBytes(sql), topic));
  }

  private nextVersion(): number {
    this.lastVersion = Math.max(Date.now() * 1000, this.lastVersion + 1);
    return this.lastVersion;
  }

  /** Inserts rows into a metadata table at once (no linger). */
  private async insertMeta(
    what: string,
    table: string,
    columns: readonly string[],
    w: TsvWriter,
  ): Promise<void> {
    const rows = w.view();
    await this.run(what, () => this.t.insertBytes(this.meta(table), columns, [rows]));
  }

  private withMetaLock<T>(f: () => Promise<T>): Promise<T> {
    const next = this.metaLock.then(f, f);
    this.metaLock = next.catch(() => {});
    return next;
  }

  private async migrate(): Promise<void> {
    await this.run('create the migrations table', () => this.t.command(migrationsTableDdl(this.db)));
    const r = await this.select(
      'read applied migrations',
      `SELECT version FROM ${this.meta(MIGRATIONS_TABLE)}`,
    );
    const applied = new Set<number>();
    while (!r.done) applied.add(r.u32());
    const known = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
    const newer = [...applied].filter((v) => v > known);
    if (newer.length > 0) {
      throw new StorageError(
        'INVALID_REQUEST',
        `database ${this.db} has schema version ${Math.max(...newer)}, newer than this kch knows (${known}): upgrade kch`,
        false,
      );
    }
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      for (const sql of m.statements({ database: this.db })) {
        await this.run(`apply migration ${m.version} (${m.name})`, () => this.t.command(sql));
      }
      const w = new TsvWriter(256).int(m.version).tab();
      w.string(Buffer.from(m.name), 0, Buffer.byteLength(m.name)).newline();
      await this.insertMeta('record a migration', MIGRATIONS_TABLE, ['version', 'name'], w);
    }
  }

  private async loadTopics(): Promise<void> {
    const r = await this.select(
      'list topics',
      `SELECT name, topic_id, partition_count, configs, created_at, table_name, table_uuid FROM ${this.meta(TOPICS_TABLE)} FINAL WHERE deleted = 0`,
    );
    this.topics.clear();
    while (!r.done) {
      const name = r.string();
      const topicId = r.string();
      const partitionCount = r.i32();
      const configs: Record<string, string> = {};
      for (let n = r.uvarint(); n > 0; n--) {
        const k = r.string();
        configs[k] = r.string();
      }
      const createdAt = r.i64();
      const tableName = r.string();
      const uuid = r.string();
      this.addTopic({ name, topicId, partitionCount, configs, createdAt }, undefined, {
        name: tableName === '' ? name : tableName,
        uuid,
      });
    }
  }

  /**
   * Checks at open that each topic's own table is still the one kch created. A table missing is
   * created again on first use; one that is not kch's makes the topic unusable (never written, read
   * or dropped). Tables of topics stored before kch recorded identities are adopted when they have a
   * topic table's columns (so they are what kch made), and refused otherwise.
   */
  private async checkOwnTables(): Promise<void> {
    const own = [...this.topics.values()].filter((t) => t.own !== null && t.unusable === null);
    const objects = await this.tables.objectsNamed(own.map((t) => t.own!.name));
    const legacy = own.filter((t) => t.own!.uuid === '' && objects.has(t.own!.name));
    const shaped = await this.tables.topicShaped(legacy.map((t) => t.own!.name));
    for (const t of own) {
      const o = objects.get(t.own!.name);
      if (!o) t.tableMissing = true;
      else if (t.own!.uuid === '' && o.engine === 'MergeTree' && shaped.has(o.name))
        await this.recordOwnTable(t, await this.tables.adopt(t.record.name, o));
      else if (!isOwnTable(o, t.own!, t.record.name))
        t.unusable = tableReplacedError(this.db, t.record.name, o);
    }
  }

  /** Records the table kch created for a topic with the topic. */
  private async recordOwnTable(t: TopicState, own: OwnTable): Promise<void> {
    t.own = own;
    await this.writeTopicRow(t.record, false, own);
  }

  private async loadCounters(): Promise<void> {
    const r = await this.select(
      'read metadata versions',
      `SELECT toUInt64(greatest(
  ifNull((SELECT max(version) FROM ${this.meta(TOPICS_TABLE)}), 0),
  ifNull((SELECT max(version) FROM ${this.meta(PARTITIONS_TABLE)}), 0),
  ifNull((SELECT max(version) FROM ${this.meta(GROUP_OFFSETS_TABLE)}), 0))),
  toInt64(ifNull((SELECT max(block_end) FROM ${this.meta(PRODUCER_IDS_TABLE)}), 0))`,
    );
    this.lastVersion = r.u64();
    this.producerBlockEnd = r.i64();
    this.producerNext = this.producerBlockEnd;
  }

  private addTopic(record: TopicRecord, schema?: BoundSchema, own?: OwnTable): TopicState {
    let binding: Binding | null = null;
    let unusable: StorageError | null = null;
    try {
      binding = bindingOf(record.configs, this.db);
    } catch (e) {
      unusable = e as StorageError;
    }
    const ownTable = binding || unusable ? null : (own ?? { name: record.name, uuid: '' });
    const state: TopicState = {
      record,
      table: binding ? binding.quoted : tableName(this.db, ownTable?.name ?? record.name),
      own: ownTable,
      partitions: new Map(),
      locks: new Map(),
      flusher: null as unknown as Flusher,
      bytesPerRecord: 256,
      tableMissing: false,
      verifyTable: false,
      bound: binding ? boundTopic(binding, schema) : null,
      unusable,
    };
    state.flusher = new Flusher(
      (chunks) => this.flushTopic(state, chunks),
      this.config.lingerMs,
      this.config.maxFlushBytes,
      (o) => this.reportFlush('records', record.name, o),
      this.config.insertsInFlight,
    );
    this.topics.set(record.name, state);
    return state;
  }

  // -------------------------------------------------------------------------------- topics

  async listTopics(): Promise<TopicRecord[]> {
    this.checkOpen();
    return [...this.topics.values()].map((t) => structuredClone(t.record));
  }

  async createTopic(topic: TopicRecord): Promise<void> {
    this.checkOpen();
    if (!topic.name || topic.name.includes('\u0000') || topic.name.startsWith(RESERVED_PREFIX)) {
      throw new StorageError(
        'INVALID_TOPIC',
        `topic name ${JSON.stringify(topic.name)} is reserved: names starting with ${RESERVED_PREFIX} are kch's metadata tables; choose another name`,
        false,
      );
    }
    const retention = retentionOf(topic.configs);
    const binding = bindingOf(topic.configs, this.db);
    await this.withMetaLock(async () => {
      if (this.topics.has(topic.name))
        throw new StorageError('TOPIC_EXISTS', `topic ${topic.name} already exists`);
      // A bound topic's table is the user's: checked, never created (nor TTL'd, nor dropped).
      const schema = binding ? await this.bindTable(binding, topic.name) : undefined;
      const own = binding
        ? undefined
        : await this.createOwnTable(
            topic.name,
            topicTableName(topic.name, this.tables.maxNameLength),
            retention,
          );
      await this.writeTopicRow(topic, false, own ?? null);
      this.addTopic(structuredClone(topic), schema, own);
    });
  }

  /**
   * Creates the table of a topic in kch's own tables, named by ./topic-tables.ts's rule, where no
   * object has that name (INVALID_TOPIC otherwise), and returns its identity.
   */
  private async createOwnTable(topic: string, name: string, retention: number | null): Promise<OwnTable> {
    const ddl = topicTableDdl(
      this.db,
      name,
      retention,
      this.config.deduplicationWindow,
      this.tableSettings,
      topicTableComment(topic),
    );
    const ownedByAnother = [...this.topics.values()].some(
      (u) => u.own?.name === name && u.record.name !== topic,
    );
    return this.tables.create(topic, name, ddl, ownedByAnother);
  }

  async deleteTopic(name: string): Promise<TopicDeletion | undefined> {
    this.checkOpen();
    return this.withMetaLock(async () => {
      const t = this.topics.get(name);
      if (!t) throw unknownTopic(name);
      await t.flusher.drain();
      let kept: TableObject | null = null;
      if (t.bound) {
        // Unbinding: the table and its rows stay, they are the user's.
        await Promise.all(
          [...this.sinks.values()].filter((k) => k.table === t.table).map((k) => k.flusher.drain()),
        );
      } else if (t.own) {
        kept = await this.tables.dropOwn(name, t.own);
      }
      await this.writeTopicRow(t.record, true, t.own);
      this.topics.delete(name);
      const go = this.meta(GROUP_OFFSETS_TABLE);
      await this.run(`delete the committed offsets of topic ${name}`, () =>
        this.t.command(
          `INSERT INTO ${go} (${GROUP_OFFSET_COLUMNS.map(ident).join(', ')})
SELECT group_id, topic, partition, offset, leader_epoch, metadata, commit_timestamp, 1, ${int(this.nextVersion())}
FROM ${go} FINAL WHERE topic = ${str(name)} AND deleted = 0`,
        ),
      );
      if (!kept) return undefined;
      const kind = objectKind(kept.engine);
      return {
        kept: `${sqlName(this.db, kept.name)} was left in place: it is a ${kind} kch did not create for topic ${name} (it was dropped and made again outside kch), so kch did not drop it`,
      };
    });
  }

  /** Where the topic's records are, as SQL names it: `kafka.orders`, or the table it is bound to. */
  topicLocation(topic: string): string | null {
    const t = this.topics.get(topic);
    if (!t) return null;
    if (t.bound) return sqlName(t.bound.binding.database, t.bound.binding.table);
    return t.own ? sqlName(this.db, t.own.name) : null;
  }

  async setPartitionCount(name: string, partitionCount: number): Promise<void> {
    this.checkOpen();
    await this.withMetaLock(async () => {
      const t = this.topicOf(name);
      if (partitionCount <= t.record.partitionCount) return;
      const next = { ...t.record, partitionCount };
      await this.writeTopicRow(next, false, t.own);
      t.record = next;
    });
  }

  async setTopicConfigs(name: string, configs: Record<string, string>): Promise<void> {
    this.checkOpen();
    const retention = retentionOf(configs);
    const binding = bindingOf(configs, this.db);
    await this.withMetaLock(async () => {
      const t = this.topicOf(name);
      const next = { ...t.record, configs: { ...configs } };
      if ((t.bound?.binding.quoted ?? null) !== (binding?.quoted ?? null)) {
        await this.rebind(t, binding, retention);
      } else if (t.bound && binding && t.bound.binding.format !== binding.format) {
        // Same table, another format: new values are read as such; read the columns again.
        t.bound = boundTopic(binding);
      } else if (!t.bound) {
        // retention.ms is the TTL of kch's own tables only; a user's table keeps its own TTL.
        const before = ttlExpression(retentionOf(t.record.configs));
        const after = ttlExpression(retention);
        if (before !== after) await this.setTtl(t, after);
      }
      await this.writeTopicRow(next, false, t.own);
      t.record = next;
    });
  }

  private async setTtl(t: TopicState, ttl: string | null): Promise<void> {
    const what = `change the TTL of topic ${t.record.name}`;
    if (ttl !== null) {
      await this.run(what, () => this.t.command(`ALTER TABLE ${t.table} MODIFY TTL ${ttl}`), t);
      return;
    }
    try {
      await this.t.command(`ALTER TABLE ${t.table} REMOVE TTL`);
    } catch (e) {
      const f = backendFailure(e);
      // BAD_ARGUMENTS: the table has no TTL, which is what was asked.
      if (f.code !== 36) throw this.unavailable(what, f, e);
    }
  }

  /** A new version of the topic's row: its record, and the identity of its own table (null if bound). */
  private async writeTopicRow(topic: TopicRecord, deleted: boolean, own: OwnTable | null): Promise<void> {
    const w = new TsvWriter(1024);
    writeText(w, topic.name).tab();
    writeText(w, topic.topicId).tab();
    w.int(topic.partitionCount).tab().byte(0x5b);
    let first = true;
    for (const [k, v] of Object.entries(topic.configs)) {
      if (!first) w.byte(0x2c);
      first = false;
      const kb = Buffer.from(k);
      const vb = Buffer.from(v);
      w.byte(0x28).quoted(kb, 0, kb.length).byte(0x2c).quoted(vb, 0, vb.length).byte(0x29);
    }
    w.byte(0x5d)
      .tab()
      .int(topic.createdAt)
      .tab()
      .int(deleted ? 1 : 0)
      .tab()
      .int(this.nextVersion())
      .tab();
    writeText(w, own?.name ?? '').tab();
    writeText(w, own?.uuid ?? '').newline();
    await this.insertMeta(`store topic ${topic.name}`, TOPICS_TABLE, TOPIC_META_COLUMNS, w);
  }

  /**
   * The quoted, qualified table holding a topic's records (`db`.`topic`, or the table a topic is bound
   * to), for SQL written over topics: materialized views, tools. UNKNOWN_TOPIC_OR_PARTITION when no
   * such topic exists.
   */
  topicTable(name: string): string {
    this.checkOpen();
    return this.topicOf(name).table;
  }

  /**
   * The check of records produced to a topic bound to a table (./bound-check.ts), null for a topic in
   * kch's own table (any bytes). Answers from the table's columns as read at most a second ago, so a
   * column added with ALTER TABLE is known a second later.
   */
  async recordCheck(topic: string): Promise<RecordCheck | null> {
    this.checkOpen();
    const t = this.topicOf(topic);
    if (t.unusable) throw t.unusable;
    const bound = t.bound;
    if (!bound) return null;
    await this.boundSchema(t, SCHEMA_REFRESH_MS);
    return bound.check;
  }

  // --------------------------------------------------------------------- bound topics

  /** What ClickHouse says about a table. Null when it does not exist. */
  private async tableInfo(b: Binding, what: string): Promise<TableInfo | null> {
    const c = await this.select(what, columnsSql(b));
    const columns = [];
    while (!c.done) columns.push(tableColumn(c.string(), c.string(), c.string()));
    const e = await this.select(what, tableSql(b));
    if (e.done) return null;
    return { columns, engine: e.string(), createQuery: e.string() };
  }

  /**
   * Checks that a new binding can hold the topic: the table exists with what kch needs, and is not
   * another topic's unless rows say which topic they belong to (`_topic`).
   */
  private async bindTable(b: Binding, topic: string): Promise<BoundSchema> {
    const schema = describeTable(
      b,
      topic,
      await this.tableInfo(b, `read the columns of ${b.database}.${b.table}`),
    );
    if (!schema.virtuals.has('_topic')) {
      const other = [...this.topics.values()].find(
        (u) => u.bound?.binding.quoted === b.quoted && u.record.name !== topic,
      );
      if (other) {
        throw new StorageError(
          'INVALID_REQUEST',
          `table ${b.database}.${b.table} already holds topic ${other.record.name}, and has no _topic column to tell the topics' rows apart: ` +
            'add `_topic LowCardinality(String)` to share it (first in ORDER BY, for fast fetches), or bind another table',
          false,
        );
      }
    }
    return schema;
  }

  /**
   * The bound table's schema, read again when older than `maxAgeMs` or after a failed insert. While
   * ClickHouse does not answer, the last one read serves.
   */
  private async boundSchema(t: TopicState, maxAgeMs = Number.POSITIVE_INFINITY): Promise<BoundSchema> {
    const b = t.bound!;
    if (b.schema && !b.stale && Date.now() - b.loadedAt < maxAgeMs) return b.schema;
    b.loading ??= (async () => {
      try {
        const what = `read the columns of ${b.binding.database}.${b.binding.table}`;
        const schema = describeTable(b.binding, t.record.name, await this.tableInfo(b.binding, what));
        b.schema = schema;
        b.check = recordCheckFor(schema);
        b.loadedAt = Date.now();
        b.stale = false;
        return schema;
      } catch (e) {
        if (b.schema && e instanceof StorageError && e.kind === 'UNAVAILABLE') return b.schema;
        if (e instanceof StorageError && e.kind === 'INVALID_REQUEST') {
          // The table was fine when bound: it changed since (dropped, or _offset removed). Producers
          // retry until it is back.
          throw new StorageError(
            'UNAVAILABLE',
            `topic ${t.record.name} cannot use its table: ${e.message}`,
            true,
            {
              cause: e,
            },
          );
        }
        throw e;
      } finally {
        b.loading = null;
      }
    })();
    return b.loading;
  }

  /**
   * Moves an empty topic to another table (or to or from kch's own table). A topic with records keeps
   * its table: they would be left behind, and offsets must go on where they are.
   */
  private async rebind(t: TopicState, binding: Binding | null, retention: number | null): Promise<void> {
    for (let partition = 0; partition < t.record.partitionCount; partition++) {
      const { p } = await this.partition({ topic: t.record.name, partition });
      if (p.nextOffset > 0 || p.acceptedEnd > 0) {
        const where = t.bound ? `table ${t.bound.binding.database}.${t.bound.binding.table}` : "kch's table";
        throw new StorageError(
          'INVALID_REQUEST',
          `topic ${t.record.name} has records (in ${where}), so ${TABLE_CONFIG} cannot change: ` +
            'create a new topic with the new table, or delete this one and create it again',
          false,
        );
      }
    }
    const schema = binding ? await this.bindTable(binding, t.record.name) : null;
    if (!binding) {
      t.own = await this.createOwnTable(
        t.record.name,
        topicTableName(t.record.name, this.tables.maxNameLength),
        retention,
      );
    } else if (t.own) {
      await t.flusher.drain();
      // The (empty) table kch made goes, if it still is kch's.
      await this.tables.dropOwn(t.record.name, t.own);
      t.own = null;
    }
    t.bound = binding && schema ? boundTopic(binding, schema) : null;
    t.table = binding ? binding.quoted : tableName(this.db, t.own!.name);
    t.tableMissing = false;
    t.partitions.clear();
  }

  /** The group commit of a bound table's rows in a format and column list, shared by its topics. */
  private sinkFor(s: BoundSchema): BoundSink {
    const columns = s.binding.format === 'JSONEachRow' ? [] : s.insertColumns;
    const key = JSON.stringify([s.binding.quoted, s.binding.format, columns, s.deduplicates]);
    let sink = this.sinks.get(key);
    if (!sink) {
      sink = new BoundSink(
        {
          transport: () => this.t,
          insertRetries: this.config.insertRetries,
          retryBackoffMs: this.config.retryBackoffMs,
          closing: () => this.closing,
          location: this.location,
          token: () => `${this.instanceId}-${++this.flushSeq}`,
        },
        s.binding.quoted,
        s.binding.format,
        columns,
        s.deduplicates,
        this.config.lingerMs,
        this.config.maxFlushBytes,
        // Reported under the topic that opened the sink (a table may hold several).
        (o) => this.reportFlush('records', s.topic, o),
        this.config.insertsInFlight,
      );
      this.sinks.set(key, sink);
    }
    return sink;
  }

  /** Rows of a bound topic's batches in its table's terms, for its sink. */
  private async boundRows(
    t: TopicState,
    partition: number,
    batches: readonly StoredBatch[],
    w: TsvWriter,
  ): Promise<EncodedRows> {
    const b = t.bound!;
    const s = await this.boundSchema(t);
    let records = 0;
    let lastRow = -1;
    for (const batch of batches) {
      const r = await writeBoundRows(w, s, partition, batch);
      records += r.rows;
      if (r.rows > 0) lastRow = r.lastOffset;
    }
    const end = batches[batches.length - 1]!.lastOffset;
    const target: ChunkTarget = {
      topic: t.record.name,
      partition,
      from: batches[0]!.baseOffset,
      to: end,
      filter: partitionFilter(s, partition),
    };
    const sink = this.sinkFor(s);
    return {
      records,
      endKnown: lastRow === end,
      insert: (chunk, rows) =>
        sink.add(chunk, rows, target).catch((e: unknown) => {
          b.stale = true;
          throw e;
        }),
    };
  }

  /** Rows of batches in kch's own table (TabSeparated, ./records.ts). */
  private async ownRows(
    t: TopicState,
    partition: number,
    batches: readonly StoredBatch[],
    w: TsvWriter,
  ): Promise<EncodedRows> {
    const prefix = Buffer.from(`${partition}\t`, 'latin1');
    let records = 0;
    for (const b of batches) {
      // A batch whose records were all left out (holes) has no row; its offsets are used all the same.
      if (b.recordCount > 0) records += (await writeBatchRows(w, prefix, b)).records;
    }
    const last = batches[batches.length - 1]!;
    return {
      records,
      endKnown: last.recordCount === last.lastOffset - last.baseOffset + 1,
      insert: (chunk, rows) => t.flusher.add(chunk, rows),
    };
  }

  /** Rows of a partition and its offset column, in the topic's table, for SQL shared by both kinds. */
  private async rowsOf(t: TopicState, partition: number): Promise<{ where: string; offset: string }> {
    if (!t.bound) return { where: `partition = ${int(partition)}`, offset: 'offset' };
    return { where: partitionFilter(await this.boundSchema(t), partition), offset: OFFSET };
  }

  private async readBound(
    t: TopicState,
    tp: TopicPartition,
    p: PartitionState,
    fromOffset: number,
    maxBytes: number,
  ): Promise<StoredBatch[]> {
    const s = await this.boundSchema(t);
    const end = p.nextOffset;
    let cursor = Math.max(fromOffset, p.logStartOffset);
    const out: StoredBatch[] = [];
    let total = 0;
    while (cursor < end) {
      const limit = Math.min(100_000, Math.ceil(Math.max(0, maxBytes - total) / t.bytesPerRecord) + 8);
      const from = cursor;
      const buf = await this.run(
        `read ${tp.topic}-${tp.partition}`,
        () => this.t.selectBytes(readSql(s, tp.partition, from, end, limit)),
        t,
      );
      const rows = parseBoundRows(buf);
      const { batches, rows: used } = batchesFromRows(rows, maxBytes - total, out.length === 0);
      for (const b of batches) {
        out.push(b);
        total += b.bytes.length;
      }
      if (used < rows.length) break;
      const after = rows.length > 0 ? rows[rows.length - 1]!.offset + 1 : cursor;
      if (rows.length < limit) {
        // No row up to the end: those offsets are holes. An empty batch moves consumers past them.
        if (after < end && (out.length === 0 || total + EMPTY_BATCH_BYTES <= maxBytes))
          out.push(emptyBatch(after, end - 1));
        break;
      }
      cursor = after;
    }
    noteRecordSize(
      t,
      total,
      out.reduce((n, b) => n + b.recordCount, 0),
      0.5,
    );
    return out;
  }

  /**
   * Applies an integration `tables` config (./tables-config.ts): creates the tables that do not exist
   * and returns which topics bind to which table. Binding itself is the broker's part (topic configs).
   */
  async applyTablesConfig(input: unknown): Promise<TopicBinding[]> {
    this.checkOpen();
    const tables = parseTablesConfig(input);
    for (const t of tables) {
      const [db] = tableOfEntry(t, this.db);
      if (db !== this.db) {
        await this.run(`create the database ${db}`, () =>
          this.t.command(`CREATE DATABASE IF NOT EXISTS ${ident(db)}`),
        );
      }
      try {
        await this.t.command(integrationTableDdl(t, this.db));
      } catch (e) {
        const f = backendFailure(e);
        if (f.transient) throw this.unavailable(`create the table ${t.name}`, f, e);
        throw new StorageError(
          'INVALID_REQUEST',
          `ClickHouse refused to create the table ${t.name} of the tables config: ${describeFailure(f)}`,
          false,
          { cause: e },
        );
      }
    }
    return topicBindings(tables);
  }

  // ---------------------------------------------------------------------------- views (./views.ts)

  /** Creates a materialized view over a topic's table; see ./views.ts and docs/materialized-views.md. */
  createView(definition: ViewDefinitionInput): Promise<ViewInfo> {
    return createView(this.viewHost(), definition);
  }

  /** Creates the view unless one has its name; says whether an existing one has this definition. */
  ensureView(definition: ViewDefinitionInput): Promise<EnsureViewResult> {
    return ensureView(this.viewHost(), definition);
  }

  listViews(): Promise<ViewInfo[]> {
    return listViews(this.viewHost());
  }

  dropView(name: string): Promise<void> {
    return dropView(this.viewHost(), name);
  }

  private viewHost(): ViewHost {
    this.checkOpen();
    return {
      database: this.db,
      query: (sql, format) => this.query(sql, format),
      topicTable: (name) => this.topicTable(name),
      isBound: (name) => this.topicOf(name).bound !== null,
      topicNames: async () => [...this.topics.keys()],
      holdAppends: (topic, f) => this.holdAppends(topic, f),
    };
  }

  /**
   * Runs `f` with the topic's appends held: each partition's append chain waits for `f`, after the
   * appends already in it were handed in and their inserts settled. Partitions added meanwhile are
   * not held.
   */
  private async holdAppends<T>(topic: string, f: () => Promise<T>): Promise<T> {
    const t = this.topicOf(topic);
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const before: Promise<unknown>[] = [];
    for (let p = 0; p < t.record.partitionCount; p++) {
      const previous = t.locks.get(p) ?? Promise.resolve();
      before.push(previous);
      const tail = previous.then(() => held);
      t.locks.set(p, tail);
      void tail.then(() => {
        if (t.locks.get(p) === tail) t.locks.delete(p);
      });
    }
    try {
      await Promise.all(before);
      // The locks cover handing rows to the flusher, not the insert: wait for those in flight too.
      for (const state of t.partitions.values()) await state.then((p) => p.settled).catch(() => {});
      return await f();
    } finally {
      release();
    }
  }

  private topicOf(name: string): TopicState {
    const t = this.topics.get(name);
    if (!t) throw unknownTopic(name);
    return t;
  }

  /**
   * Creates a topic's own table again when it was found missing (dropped behind kch's back), under
   * its recorded name, and records the new table's identity. If something else has the name by now,
   * the topic is unusable until it is gone. A bound topic's table is the user's: never created.
   */
  private async ensureTable(t: TopicState): Promise<void> {
    if (!t.tableMissing || !t.own) return;
    const name = t.record.name;
    try {
      const own = await this.createOwnTable(name, t.own.name, retentionOf(t.record.configs));
      await this.recordOwnTable(t, own);
    } catch (e) {
      if (e instanceof StorageError && e.kind === 'INVALID_TOPIC') {
        const o = await this.tables.objectAt(t.own.name);
        if (o) t.unusable = tableReplacedError(this.db, name, o);
        throw t.unusable ?? e;
      }
      throw e;
    }
    t.tableMissing = false;
  }

  /**
   * Checks that a topic's own table is still the one kch created, after an insert failed for a reason
   * that was not load, or while it is unusable (the user may have moved their object away since).
   */
  private async checkOwnTable(t: TopicState): Promise<void> {
    const own = t.own!;
    const o = await this.tables.objectAt(own.name);
    t.verifyTable = false;
    if (!o) {
      t.unusable = null;
      t.tableMissing = true;
    } else if (isOwnTable(o, own, t.record.name)) {
      t.unusable = null;
    } else {
      t.unusable = tableReplacedError(this.db, t.record.name, o);
    }
  }

  // ---------------------------------------------------------------------------- partitions

  /** The topic and the state of one of its partitions, recovered on first use and cleaned of suspects. */
  private async partition(tp: TopicPartition): Promise<{ t: TopicState; p: PartitionState }> {
    this.checkOpen();
    const t = this.topicOf(tp.topic);
    if (t.own && (t.unusable || t.verifyTable)) await this.checkOwnTable(t);
    if (t.unusable) throw t.unusable;
    if (!Number.isInteger(tp.partition) || tp.partition < 0 || tp.partition >= t.record.partitionCount) {
      throw new StorageError(
        'UNKNOWN_TOPIC_OR_PARTITION',
        `partition ${tp.topic}-${tp.partition} does not exist`,
      );
    }
    let loading = t.partitions.get(tp.partition);
    if (!loading) {
      loading = this.loadPartition(t, tp.partition);
      t.partitions.set(tp.partition, loading);
      loading.catch(() => t.partitions.delete(tp.partition));
    }
    const p = await loading;
    await this.ensureTable(t);
    if (p.suspectFrom !== null) await this.cleanSuspects(t, tp.partition, p);
    return { t, p };
  }

  private async loadPartition(t: TopicState, partition: number): Promise<PartitionState> {
    await this.ensureTable(t);
    const pt = this.meta(PARTITIONS_TABLE);
    const where = `topic_id = ${str(t.record.topicId)} AND partition = ${int(partition)}`;
    const rows = await this.rowsOf(t, partition);
    const r = await this.select(
      `recover partition ${t.record.name}-${partition}`,
      `SELECT
  toInt64(ifNull((SELECT toInt64(minOrNull(${rows.offset})) FROM ${t.table} WHERE ${rows.where}), -1)),
  toInt64(ifNull((SELECT toInt64(maxOrNull(${rows.offset})) FROM ${t.table} WHERE ${rows.where}), -1)),
  toInt64(ifNull((SELECT max(log_start_offset) FROM ${pt} WHERE ${where}), 0)),
  toInt64(ifNull((SELECT max(end_offset) FROM ${pt} WHERE ${where}), 0))`,
      t,
    );
    const minOffset = r.i64();
    const maxOffset = r.i64();
    const marker = r.i64();
    const checkpointedEnd = r.i64();
    const nextOffset = Math.max(maxOffset + 1, checkpointedEnd, marker);
    const logStartOffset = minOffset < 0 ? nextOffset : Math.min(nextOffset, Math.max(marker, minOffset));
    return {
      nextOffset,
      acceptedEnd: nextOffset,
      settled: Promise.resolve(true),
      inFlight: 0,
      failures: 0,
      failedEnd: nextOffset,
      logStartOffset,
      marker,
      checkpointedEnd,
      suspectFrom: null,
      suspectQueries: [],
    };
  }

  /** Deletes rows a failed insert may have left behind, before anything else uses the partition. */
  private async cleanSuspects(t: TopicState, partition: number, p: PartitionState): Promise<void> {
    // Inserts of the partition still running would land after the DELETE: let them end first.
    await p.settled;
    const from = p.suspectFrom!;
    if (this.t.killQuery) {
      for (const id of p.suspectQueries) await this.t.killQuery(id).catch(() => {});
    }
    const rows = await this.rowsOf(t, partition);
    const where = `${rows.where} AND ${rows.offset} >= ${int(from)}`;
    const r = await this.select(
      `check ${t.record.name}-${partition} after a failed insert`,
      `SELECT count() FROM ${t.table} WHERE ${where}`,
      t,
    );
    if (r.u64() > 0) {
      await this.run(`remove the rows of a failed insert from ${t.record.name}-${partition}`, () =>
        this.t.command(`DELETE FROM ${t.table} WHERE ${where}`),
      );
    }
    if (p.suspectFrom === from) {
      p.suspectFrom = null;
      p.suspectQueries = [];
    }
  }

  async openPartition(tp: TopicPartition): Promise<PartitionSnapshot> {
    const { t, p } = await this.partition(tp);
    // A user's table has no batch columns: producer state is not recovered (docs/topics-over-tables.md).
    if (t.bound) return { logStartOffset: p.logStartOffset, nextOffset: p.nextOffset, producerBatches: [] };
    const r = await this.select(
      `recover the producers of ${tp.topic}-${tp.partition}`,
      `SELECT pid, epoch, seq, batch_offset, last_delta, max_ts FROM (
  SELECT batch_offset, any(producer_id) AS pid, any(producer_epoch) AS epoch, any(base_sequence) AS seq,
    any(batch_last_offset_delta) AS last_delta, any(batch_max_timestamp) AS max_ts
  FROM ${t.table}
  WHERE partition = ${int(tp.partition)} AND producer_id >= 0 AND NOT bitTest(batch_attributes, ${CONTROL_BIT})
    AND offset < ${int(p.nextOffset)}
  GROUP BY batch_offset
) ORDER BY batch_offset DESC LIMIT ${PRODUCER_BATCHES_KEPT} BY pid`,
      t,
    );
    const producerBatches: ProducerBatchInfo[] = [];
    while (!r.done) {
      const producerId = r.i64();
      const producerEpoch = r.i16();
      const baseSequence = r.i32();
      const baseOffset = r.i64();
      const lastDelta = r.i32();
      const maxTimestamp = r.i64();
      producerBatches.push({
        producerId,
        producerEpoch,
        baseSequence,
        lastSequence: addSequence(baseSequence, lastDelta),
        baseOffset,
        lastOffset: baseOffset + lastDelta,
        maxTimestamp,
      });
    }
    producerBatches.sort((a, b) => a.baseOffset - b.baseOffset);
    return { logStartOffset: p.logStartOffset, nextOffset: p.nextOffset, producerBatches };
  }

  /**
   * Appends of a partition are pipelined (see Storage.appendsInFlight): the next one is encoded and
   * queued for an insert while the one before is still being inserted. Each settles after the ones
   * before it, and fails when one of them failed (its rows, should they have landed, are then deleted
   * with the failed ones before the partition is used again).
   */
  get appendsInFlight(): number {
    return this.config.insertsInFlight;
  }

  async append(tp: TopicPartition, batches: readonly StoredBatch[]): Promise<void> {
    this.checkOpen();
    const t = this.topicOf(tp.topic);
    const previous = t.locks.get(tp.partition) ?? Promise.resolve();
    // The lock covers checking, encoding and handing the rows to the flusher, not the insert.
    const run = previous.then(
      () => this.appendLocked(tp, batches),
      () => this.appendLocked(tp, batches),
    );
    const tail = run.catch(() => {});
    t.locks.set(tp.partition, tail);
    void tail.then(() => {
      if (t.locks.get(tp.partition) === tail) t.locks.delete(tp.partition);
    });
    return (await run).stored;
  }

  private async appendLocked(
    tp: TopicPartition,
    batches: readonly StoredBatch[],
  ): Promise<{ stored: Promise<void> }> {
    const { t, p } = await this.partition(tp);
    if (batches.length === 0) return { stored: p.settled.then(() => undefined) };
    const failures = p.failures;
    let next = p.acceptedEnd;
    for (const b of batches) {
      if (b.baseOffset !== next || b.lastOffset < b.baseOffset) {
        if (b === batches[0] && b.baseOffset > next && b.baseOffset <= p.failedEnd) throw earlierFailed(tp);
        throw new StorageError(
          'INVALID_REQUEST',
          `append to ${tp.topic}-${tp.partition} at offset ${b.baseOffset}, but the log ends at ${next}`,
          false,
        );
      }
      next = b.lastOffset + 1;
    }
    let bytes = 0;
    let expected = 0;
    for (const b of batches) {
      bytes += b.bytes.length;
      expected += b.recordCount;
    }
    // About what the rows take (values as they are, ~100 bytes of other fields per row); grown if not.
    const w = new TsvWriter(Math.max(4096, bytes + expected * 112 + batches.length * 256));
    const rows = t.bound
      ? await this.boundRows(t, tp.partition, batches, w)
      : await this.ownRows(t, tp.partition, batches, w);
    const records = rows.records;
    // An append it follows failed while this one was being encoded: it fails too.
    if (p.failures !== failures) throw earlierFailed(tp);
    const from = batches[0]!.baseOffset;
    // Batches whose records were all left out make no rows, but take their offsets all the same.
    const inserted = records === 0 ? Promise.resolve() : rows.insert(w.view(), records);
    inserted.catch(() => {}); // taken below, in order
    const earlier = p.inFlight > 0 ? p.settled : Promise.resolve(true);
    p.inFlight++;
    p.acceptedEnd = next;
    const stored = (async () => {
      let error: unknown = null;
      try {
        await inserted;
      } catch (e) {
        error = e;
      }
      const earlierOk = await earlier;
      if (error === null && earlierOk && !rows.endKnown) {
        // The rows do not show where the log ends (records left out at its end): the end is written
        // down now, or a restart would hand those offsets out again.
        error = await this.checkpointEnd(t, tp.partition, p, next).then(
          () => null,
          (e: unknown) => e,
        );
      }
      p.inFlight--;
      if (error === null && earlierOk) {
        p.nextOffset = next;
        noteRecordSize(t, bytes, records, 0.2);
        return;
      }
      // This insert failed, or an earlier one of the partition did: rows from `from` on may be in
      // ClickHouse (this insert's, or a failed one's behind a network) and are deleted before the
      // partition is used again; the broker appends again from the end of what was stored.
      p.suspectFrom = p.suspectFrom === null ? from : Math.min(p.suspectFrom, from);
      if (error instanceof FlushError) p.suspectQueries.push(...error.queryIds);
      p.failedEnd = Math.max(p.failedEnd, p.acceptedEnd);
      p.acceptedEnd = p.nextOffset;
      p.failures++;
      if (error !== null) throw error instanceof FlushError ? error.error : error;
      throw earlierFailed(tp);
    })();
    p.settled = stored.then(
      () => true,
      () => false,
    );
    return { stored };
  }

  /** One group-commit insert into a topic table: deduplicated by its token, retried while transient. */
  private async flushTopic(t: TopicState, chunks: Buffer[]): Promise<void> {
    const token = `${this.instanceId}-${++this.flushSeq}`;
    const queryIds: string[] = [];
    for (let attempt = 0; ; attempt++) {
      const queryId = `kch-${token}-${attempt}`;
      queryIds.push(queryId);
      try {
        await this.t.insertBytes(t.table, TOPIC_INSERT_COLUMNS, chunks, {
          types: TOPIC_INSERT_TYPES,
          queryId,
          settings: { insert_deduplicate: 1, insert_deduplication_token: token },
        });
        return;
      } catch (e) {
        if (e instanceof StorageError) throw new FlushError(e, queryIds);
        const f = backendFailure(e);
        if (f.code === UNKNOWN_TABLE) t.tableMissing = true;
        // Refused for another reason: the table may not be kch's any more; checked before the next use.
        else if (!f.transient) t.verifyTable = true;
        if (!f.transient || attempt >= this.config.insertRetries || this.closing) {
          const error = new StorageError(
            'UNAVAILABLE',
            `ClickHouse did not store the records for topic ${t.record.name} (${this.location}): ${describeFailure(f)}. ` +
              'None of them were kept; the client may retry.',
            true,
            { cause: e },
          );
          throw new FlushError(error, this.t.remote ? queryIds : []);
        }
        await sleep(this.config.retryBackoffMs * 2 ** attempt);
      }
    }
  }

  async read(tp: TopicPartition, fromOffset: number, maxBytes: number): Promise<StoredBatch[]> {
    const { t, p } = await this.partition(tp);
    if (t.bound) return this.readBound(t, tp, p, fromOffset, maxBytes);
    const end = p.nextOffset;
    let cursor = Math.max(fromOffset, p.logStartOffset);
    const out: StoredBatch[] = [];
    let total = 0;
    let forceRows = 0;
    const what = `read ${tp.topic}-${tp.partition}`;
    const rowsIn = (from: number, to: number) =>
      this.run(
        what,
        () =>
          this.t.selectBytes(
            `SELECT ${READ_COLUMNS} FROM ${t.table} WHERE partition = ${int(tp.partition)} AND offset >= ${int(from)} AND offset < ${int(to)} ORDER BY offset`,
          ),
        t,
      );
    while (cursor < end) {
      // Offsets are dense, so an offset range of about maxBytes' worth of records is one query.
      const rows = Math.max(
        forceRows,
        Math.min(1_000_000, Math.ceil(Math.max(0, maxBytes - total) / t.bytesPerRecord) + 8),
      );
      forceRows = 0;
      const rangeEnd = Math.min(cursor + rows, end);
      let buf = await rowsIn(cursor, rangeEnd);
      if (buf.length === 0) {
        // A gap (records removed by TTL or DeleteRecords): go on from the next record still there.
        const r = await this.select(
          what,
          `SELECT offset FROM ${t.table} WHERE partition = ${int(tp.partition)} AND offset >= ${int(rangeEnd)} AND offset < ${int(end)} ORDER BY offset LIMIT 1`,
          t,
        );
        if (r.done) {
          // No record up to the end (batches whose records were all left out): an empty batch moves
          // consumers past those offsets, as the empty batches Kafka keeps after compaction do.
          if (out.length === 0 || total + EMPTY_BATCH_BYTES <= maxBytes)
            out.push(emptyBatch(cursor, end - 1));
          break;
        }
        cursor = r.i64();
        continue;
      }
      const firstBatch = readInt64(buf, 8);
      if (firstBatch < cursor) {
        // The range starts inside a batch: its first records come too, as a batch is returned whole.
        buf = Buffer.concat([await rowsIn(firstBatch, cursor), buf]);
      }
      const groups = groupRows(buf);
      let next = rangeEnd;
      for (let i = 0; i < groups.length; i++) {
        const g = groups[i]!;
        if (g.lastOffset >= rangeEnd && rangeEnd < end) {
          // The batch goes on past the rows read: read it again whole, from its start.
          next = g.baseOffset;
          if (i === 0) forceRows = g.lastOffset - g.baseOffset + 1;
          break;
        }
        const batch = await encodeRowGroup(buf, g);
        if (out.length > 0 && total + batch.bytes.length > maxBytes) return out;
        out.push(batch);
        total += batch.bytes.length;
      }
      const last = out[out.length - 1]?.lastOffset ?? cursor - 1;
      if (next === end && last < end - 1 && total + EMPTY_BATCH_BYTES <= maxBytes) {
        // Offsets after the last record up to the end hold none (see the gap case above).
        out.push(emptyBatch(last + 1, end - 1));
      }
      if (total >= maxBytes) break;
      cursor = next;
    }
    noteRecordSize(
      t,
      total,
      out.reduce((n, b) => n + b.recordCount, 0),
      0.5,
    );
    return out;
  }

  async offsetForTimestamp(
    tp: TopicPartition,
    timestamp: number,
  ): Promise<{ offset: number; timestamp: number } | null> {
    const { t, p } = await this.partition(tp);
    if (timestamp > DATETIME64_MS_MAX) return null;
    const ts = Math.max(DATETIME64_MS_MIN, Math.floor(timestamp));
    const what = `look up ${tp.topic}-${tp.partition} by timestamp`;
    if (t.bound) {
      const s = await this.boundSchema(t);
      const time = timestampExpr(s);
      return this.offsetAndTimestamp(
        t,
        `SELECT toInt64(${OFFSET}), ${time} FROM ${t.table} WHERE ${this.boundLive(s, tp.partition, p)} AND ${time} >= ${int(ts)} ORDER BY ${OFFSET} LIMIT 1`,
        what,
      );
    }
    return this.offsetAndTimestamp(
      t,
      `SELECT offset, toUnixTimestamp64Milli(timestamp) FROM ${t.table}
WHERE ${this.liveRows(tp.partition, p)} AND timestamp >= fromUnixTimestamp64Milli(toInt64(${int(ts)}), 'UTC')
ORDER BY offset LIMIT 1`,
      what,
    );
  }

  async maxTimestamp(tp: TopicPartition): Promise<{ offset: number; timestamp: number } | null> {
    const { t, p } = await this.partition(tp);
    if (t.bound) {
      const s = await this.boundSchema(t);
      const time = timestampExpr(s);
      return this.offsetAndTimestamp(
        t,
        `SELECT toInt64(${OFFSET}), ${time} FROM ${t.table} WHERE ${this.boundLive(s, tp.partition, p)} ORDER BY ${time} DESC, ${OFFSET} ASC LIMIT 1`,
        `find the max timestamp of ${tp.topic}-${tp.partition}`,
      );
    }
    return this.offsetAndTimestamp(
      t,
      `SELECT offset, toUnixTimestamp64Milli(timestamp) FROM ${t.table}
WHERE ${this.liveRows(tp.partition, p)} ORDER BY timestamp DESC, offset ASC LIMIT 1`,
      `find the max timestamp of ${tp.topic}-${tp.partition}`,
    );
  }

  /** Rows of a bound topic's partition between log start and end. */
  private boundLive(s: BoundSchema, partition: number, p: PartitionState): string {
    return `${partitionFilter(s, partition)} AND ${OFFSET} >= ${int(p.logStartOffset)} AND ${OFFSET} < ${int(p.nextOffset)}`;
  }

  /** Records of the partition between log start and end, control records excluded. */
  private liveRows(partition: number, p: PartitionState): string {
    return `partition = ${int(partition)} AND offset >= ${int(p.logStartOffset)} AND offset < ${int(p.nextOffset)} AND NOT bitTest(batch_attributes, ${CONTROL_BIT})`;
  }

  private async offsetAndTimestamp(
    t: TopicState,
    sql: string,
    what: string,
  ): Promise<{ offset: number; timestamp: number } | null> {
    const r = await this.select(what, sql, t);
    if (r.done) return null;
    return { offset: r.i64(), timestamp: r.i64() };
  }

  async currentLogStartOffset(tp: TopicPartition): Promise<number> {
    const { t, p } = await this.partition(tp);
    // The first record the TTL (or a DeleteRecords) left: rows go in whole parts, so this moves by jumps.
    const rows = await this.rowsOf(t, tp.partition);
    const r = await this.select(
      `find the log start of ${tp.topic}-${tp.partition}`,
      `SELECT toInt64(ifNull(toInt64(minOrNull(${rows.offset})), -1)) FROM ${t.table} WHERE ${rows.where} AND ${rows.offset} >= ${int(p.logStartOffset)}`,
      t,
    );
    const first = r.i64();
    const start = first < 0 ? p.nextOffset : first;
    if (start > p.logStartOffset) p.logStartOffset = Math.min(start, p.nextOffset);
    return p.logStartOffset;
  }

  async deleteRecordsBefore(tp: TopicPartition, offset: number): Promise<number> {
    const { t, p } = await this.partition(tp);
    const target = Math.min(offset, p.nextOffset);
    if (target <= p.logStartOffset) return p.logStartOffset;
    const w = this.partitionRow(new TsvWriter(256), t, tp.partition, target, p.nextOffset);
    await this.insertMeta(
      `record the log start of ${tp.topic}-${tp.partition}`,
      PARTITIONS_TABLE,
      PARTITION_COLUMNS,
      w,
    );
    p.marker = target;
    p.logStartOffset = target;
    p.checkpointedEnd = Math.max(p.checkpointedEnd, p.nextOffset);
    // Whole batches before the new start go now (a lightweight DELETE); one straddling it stays, as in
    // Kafka. Reads filter by the log start anyway, so a failure here only leaves the rows for later.
    // A bound table has no batches: its rows before the start go.
    const before = t.bound
      ? `${partitionFilter(await this.boundSchema(t), tp.partition)} AND ${OFFSET} < ${int(target)}`
      : `partition = ${int(tp.partition)} AND batch_offset + batch_last_offset_delta < ${int(target)}`;
    await this.t.command(`DELETE FROM ${t.table} WHERE ${before}`).catch(() => {});
    return target;
  }

  /** A `_kch_partitions` row: a partition's log start marker and end, as of now. */
  private partitionRow(
    w: TsvWriter,
    t: TopicState,
    partition: number,
    marker: number,
    end: number,
  ): TsvWriter {
    writeText(w, t.record.topicId).tab();
    return w.int(partition).tab().int(marker).tab().int(end).tab().int(this.nextVersion()).newline();
  }

  /** Writes down the end of one partition now (its rows do not show it). */
  private async checkpointEnd(
    t: TopicState,
    partition: number,
    p: PartitionState,
    end: number,
  ): Promise<void> {
    const w = this.partitionRow(new TsvWriter(256), t, partition, p.marker, end);
    await this.insertMeta(
      `record the end of ${t.record.name}-${partition}`,
      PARTITIONS_TABLE,
      PARTITION_COLUMNS,
      w,
    );
    p.checkpointedEnd = Math.max(p.checkpointedEnd, end);
  }

  /** Writes the ends of partitions that grew since the last checkpoint. */
  private async checkpoint(): Promise<void> {
    if (!this.transport) return;
    const w = new TsvWriter(1024);
    const done: [PartitionState, number][] = [];
    for (const t of this.topics.values()) {
      for (const [partition, loading] of t.partitions) {
        const p = await loading.catch(() => null);
        if (!p || p.nextOffset <= p.checkpointedEnd) continue;
        this.partitionRow(w, t, partition, p.marker, p.nextOffset);
        done.push([p, p.nextOffset]);
      }
    }
    if (done.length === 0) return;
    await this.transport.insertBytes(this.meta(PARTITIONS_TABLE), PARTITION_COLUMNS, [w.view()]);
    for (const [p, end] of done) p.checkpointedEnd = Math.max(p.checkpointedEnd, end);
  }

  // ------------------------------------------------------------------------------ groups

  async commitOffsets(group: string, offsets: readonly CommittedOffset[]): Promise<void> {
    this.checkOpen();
    if (offsets.length === 0) return;
    const w = new TsvWriter(256 * offsets.length);
    const g = Buffer.from(group);
    for (const o of offsets) {
      w.string(g, 0, g.length).tab();
      writeText(w, o.topic).tab();
      w.int(o.partition).tab().int(o.offset).tab().int(o.leaderEpoch).tab();
      if (o.metadata === null) w.null();
      else writeText(w, o.metadata);
      w.tab().int(o.commitTimestamp).tab().int(0).tab().int(this.nextVersion()).newline();
    }
    await this.offsetsFlusher!.add(w.view(), offsets.length);
  }

  async fetchOffsets(group: string): Promise<CommittedOffset[]> {
    this.checkOpen();
    const r = await this.select(
      `fetch the offsets of group ${group}`,
      `SELECT topic, partition, offset, leader_epoch, metadata, commit_timestamp
FROM ${this.meta(GROUP_OFFSETS_TABLE)} FINAL WHERE group_id = ${str(group)} AND deleted = 0 ORDER BY topic, partition`,
    );
    const out: CommittedOffset[] = [];
    while (!r.done) {
      out.push({
        topic: r.string(),
        partition: r.i32(),
        offset: r.i64(),
        leaderEpoch: r.i32(),
        metadata: r.nullableString(),
        commitTimestamp: r.i64(),
      });
    }
    return out;
  }

  async listOffsetGroups(): Promise<string[]> {
    this.checkOpen();
    const r = await this.select(
      'list groups',
      `SELECT DISTINCT group_id FROM ${this.meta(GROUP_OFFSETS_TABLE)} FINAL WHERE deleted = 0 ORDER BY group_id`,
    );
    const out: string[] = [];
    while (!r.done) out.push(r.string());
    return out;
  }

  async deleteOffsets(group: string, partitions?: readonly TopicPartition[]): Promise<void> {
    this.checkOpen();
    if (partitions && partitions.length === 0) return;
    await this.offsetsFlusher!.drain();
    const go = this.meta(GROUP_OFFSETS_TABLE);
    const only = partitions
      ? ` AND (topic, partition) IN (${partitions.map((tp) => `(${str(tp.topic)}, ${int(tp.partition)})`).join(', ')})`
      : '';
    await this.run(`delete the offsets of group ${group}`, () =>
      this.t.command(
        `INSERT INTO ${go} (${GROUP_OFFSET_COLUMNS.map(ident).join(', ')})
SELECT group_id, topic, partition, offset, leader_epoch, metadata, commit_timestamp, 1, ${int(this.nextVersion())}
FROM ${go} FINAL WHERE group_id = ${str(group)} AND deleted = 0${only}`,
      ),
    );
  }

  // ---------------------------------------------------------------------------- producers

  async allocateProducerId(): Promise<number> {
    this.checkOpen();
    while (this.producerNext >= this.producerBlockEnd) {
      this.producerAlloc ??= this.reserveProducerIds().finally(() => {
        this.producerAlloc = null;
      });
      await this.producerAlloc;
    }
    return this.producerNext++;
  }

  /** Writes the end of a new block of ids before any of it is handed out. */
  private async reserveProducerIds(): Promise<void> {
    const end = this.producerBlockEnd + this.config.producerIdBlockSize;
    const w = new TsvWriter(64).int(end).newline();
    await this.insertMeta('reserve producer ids', PRODUCER_IDS_TABLE, ['block_end'], w);
    this.producerNext = this.producerBlockEnd;
    this.producerBlockEnd = end;
  }
}

const TOPIC_META_COLUMNS = [
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
const PARTITION_COLUMNS = ['topic_id', 'partition', 'log_start_offset', 'end_offset', 'version'];
const GROUP_OFFSET_COLUMNS = [
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

function writeText(w: TsvWriter, s: string): TsvWriter {
  const b = Buffer.from(s);
  return w.string(b, 0, b.length);
}

/**
 * A Storage in ClickHouse: a server (`{ url }` or `{ client }`) or the embedded engine (`{ chdb: dir }`).
 * See {@link ClickHouseStorageOptions} for the knobs (database, linger, timeouts).
 */
export function clickhouseStorage(options: ClickHouseStorageOptions): ClickHouseStorage {
  return new ClickHouseStorage(options);
}
