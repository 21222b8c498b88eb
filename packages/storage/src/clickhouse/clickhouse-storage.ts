/**
 * The ClickHouse storage: topics are tables, records are rows. The schema is in ./schema.ts and
 * docs/clickhouse-schema.md; the transports (chdb embedded, a server over HTTP) in ./transport.ts.
 *
 * What is kept where:
 * - records: the topic's table, one row per record (appends go through group commit, ./flusher.ts);
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
  type Storage,
  StorageError,
  type StorageHealth,
  type StoredBatch,
  type TopicPartition,
  type TopicRecord,
} from '../storage.js';
import { ChdbTransport } from './chdb-transport.js';
import { Flusher, type FlushObservation } from './flusher.js';
import { HttpTransport } from './http-transport.js';
import {
  type ClickHouseStorageConfig,
  type ClickHouseStorageOptions,
  clickhouseStorageOptionsSchema,
} from './options.js';
import { encodeRowGroup, groupRows, writeBatchRows } from './records.js';
import { RowBinaryReader, readInt64 } from './rowbinary.js';
import {
  GROUP_OFFSETS_TABLE,
  MIGRATIONS,
  MIGRATIONS_TABLE,
  migrationsTableDdl,
  PARTITIONS_TABLE,
  PRODUCER_IDS_TABLE,
  RESERVED_PREFIX,
  TOPIC_INSERT_COLUMNS,
  TOPIC_READ_COLUMNS,
  TOPICS_TABLE,
  topicTableDdl,
  ttlExpression,
} from './schema.js';
import { ident, int, str, tableName } from './sql.js';
import {
  type BackendFailure,
  backendFailure,
  type ClickHouseTransport,
  describeFailure,
  UNKNOWN_TABLE,
} from './transport.js';
import { TsvWriter } from './tsv.js';

/** Record timestamps DateTime64(3) can hold (1900-01-01 .. 2299-12-31), as in schema.ts. */
const MIN_TIMESTAMP = -2208988800000;
const MAX_TIMESTAMP = 10413791999999;
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
}

interface TopicState {
  record: TopicRecord;
  /** Quoted `db`.`topic`. */
  table: string;
  partitions: Map<number, Promise<PartitionState>>;
  /** Appends of a partition run one after the other (the contract says so; this makes sure). */
  locks: Map<number, Promise<unknown>>;
  flusher: Flusher;
  /** Encoded batch bytes per record seen so far, to size reads. */
  bytesPerRecord: number;
  /** The table was found missing (dropped behind kch's back): it is created again before use. */
  tableMissing: boolean;
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
  private readonly topics = new Map<string, TopicState>();
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
      await this.loadTopics();
      await this.loadCounters();
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

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    if (!this.transport) return;
    const flushers = [...this.topics.values()].map((t) => t.flusher.drain());
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
    if (c.chdb !== undefined) return ChdbTransport.open(c.chdb);
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
      `SELECT name, topic_id, partition_count, configs, created_at FROM ${this.meta(TOPICS_TABLE)} FINAL WHERE deleted = 0`,
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
      this.addTopic({ name, topicId, partitionCount, configs, createdAt });
    }
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

  private addTopic(record: TopicRecord): TopicState {
    const state: TopicState = {
      record,
      table: tableName(this.db, record.name),
      partitions: new Map(),
      locks: new Map(),
      flusher: null as unknown as Flusher,
      bytesPerRecord: 256,
      tableMissing: false,
    };
    state.flusher = new Flusher(
      (chunks) => this.flushTopic(state, chunks),
      this.config.lingerMs,
      this.config.maxFlushBytes,
      (o) => this.reportFlush('records', record.name, o),
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
        'INVALID_REQUEST',
        `topic name ${JSON.stringify(topic.name)} cannot be stored: names starting with ${RESERVED_PREFIX} are kch's metadata tables`,
        false,
      );
    }
    const retention = retentionOf(topic.configs);
    await this.withMetaLock(async () => {
      if (this.topics.has(topic.name))
        throw new StorageError('TOPIC_EXISTS', `topic ${topic.name} already exists`);
      await this.run(`create the table of topic ${topic.name}`, () =>
        this.t.command(topicTableDdl(this.db, topic.name, retention, this.config.deduplicationWindow)),
      );
      await this.writeTopicRow(topic, false);
      this.addTopic(structuredClone(topic));
    });
  }

  async deleteTopic(name: string): Promise<void> {
    this.checkOpen();
    await this.withMetaLock(async () => {
      const t = this.topics.get(name);
      if (!t) throw unknownTopic(name);
      await t.flusher.drain();
      await this.run(`drop the table of topic ${name}`, () =>
        this.t.command(`DROP TABLE IF EXISTS ${t.table} SYNC`),
      );
      await this.writeTopicRow(t.record, true);
      this.topics.delete(name);
      const go = this.meta(GROUP_OFFSETS_TABLE);
      await this.run(`delete the committed offsets of topic ${name}`, () =>
        this.t.command(
          `INSERT INTO ${go} (${GROUP_OFFSET_COLUMNS.map(ident).join(', ')})
SELECT group_id, topic, partition, offset, leader_epoch, metadata, commit_timestamp, 1, ${int(this.nextVersion())}
FROM ${go} FINAL WHERE topic = ${str(name)} AND deleted = 0`,
        ),
      );
    });
  }

  async setPartitionCount(name: string, partitionCount: number): Promise<void> {
    this.checkOpen();
    await this.withMetaLock(async () => {
      const t = this.topicOf(name);
      if (partitionCount <= t.record.partitionCount) return;
      const next = { ...t.record, partitionCount };
      await this.writeTopicRow(next, false);
      t.record = next;
    });
  }

  async setTopicConfigs(name: string, configs: Record<string, string>): Promise<void> {
    this.checkOpen();
    const retention = retentionOf(configs);
    await this.withMetaLock(async () => {
      const t = this.topicOf(name);
      const before = ttlExpression(retentionOf(t.record.configs));
      const after = ttlExpression(retention);
      if (before !== after) await this.setTtl(t, after);
      const next = { ...t.record, configs: { ...configs } };
      await this.writeTopicRow(next, false);
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

  private async writeTopicRow(topic: TopicRecord, deleted: boolean): Promise<void> {
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
      .newline();
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

  private topicOf(name: string): TopicState {
    const t = this.topics.get(name);
    if (!t) throw unknownTopic(name);
    return t;
  }

  private async ensureTable(t: TopicState): Promise<void> {
    if (!t.tableMissing) return;
    await this.run(`create the table of topic ${t.record.name} again`, () =>
      this.t.command(
        topicTableDdl(this.db, t.record.name, retentionOf(t.record.configs), this.config.deduplicationWindow),
      ),
    );
    t.tableMissing = false;
  }

  // ---------------------------------------------------------------------------- partitions

  /** The topic and the state of one of its partitions, recovered on first use and cleaned of suspects. */
  private async partition(tp: TopicPartition): Promise<{ t: TopicState; p: PartitionState }> {
    this.checkOpen();
    const t = this.topicOf(tp.topic);
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
    const r = await this.select(
      `recover partition ${t.record.name}-${partition}`,
      `SELECT
  toInt64(ifNull((SELECT minOrNull(offset) FROM ${t.table} WHERE partition = ${int(partition)}), -1)),
  toInt64(ifNull((SELECT maxOrNull(offset) FROM ${t.table} WHERE partition = ${int(partition)}), -1)),
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
    return { nextOffset, logStartOffset, marker, checkpointedEnd, suspectFrom: null, suspectQueries: [] };
  }

  /** Deletes rows a failed insert may have left behind, before anything else uses the partition. */
  private async cleanSuspects(t: TopicState, partition: number, p: PartitionState): Promise<void> {
    const from = p.suspectFrom!;
    if (this.t.killQuery) {
      for (const id of p.suspectQueries) await this.t.killQuery(id).catch(() => {});
    }
    const where = `partition = ${int(partition)} AND offset >= ${int(from)}`;
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

  async append(tp: TopicPartition, batches: readonly StoredBatch[]): Promise<void> {
    this.checkOpen();
    const t = this.topicOf(tp.topic);
    const previous = t.locks.get(tp.partition) ?? Promise.resolve();
    const run = previous.then(
      () => this.appendLocked(tp, batches),
      () => this.appendLocked(tp, batches),
    );
    const tail = run.catch(() => {});
    t.locks.set(tp.partition, tail);
    void tail.then(() => {
      if (t.locks.get(tp.partition) === tail) t.locks.delete(tp.partition);
    });
    return run;
  }

  private async appendLocked(tp: TopicPartition, batches: readonly StoredBatch[]): Promise<void> {
    const { t, p } = await this.partition(tp);
    if (batches.length === 0) return;
    let next = p.nextOffset;
    for (const b of batches) {
      if (b.baseOffset !== next || b.lastOffset < b.baseOffset) {
        throw new StorageError(
          'INVALID_REQUEST',
          `append to ${tp.topic}-${tp.partition} at offset ${b.baseOffset}, but the log ends at ${next}`,
          false,
        );
      }
      next = b.lastOffset + 1;
    }
    let bytes = 0;
    for (const b of batches) bytes += b.bytes.length;
    const w = new TsvWriter(Math.max(4096, bytes * 2 + batches.length * 256));
    const prefix = Buffer.from(`${tp.partition}\t`, 'latin1');
    let records = 0;
    for (const b of batches) records += (await writeBatchRows(w, prefix, b)).records;
    try {
      await t.flusher.add(w.view(), records);
    } catch (e) {
      const from = batches[0]!.baseOffset;
      p.suspectFrom = p.suspectFrom === null ? from : Math.min(p.suspectFrom, from);
      if (e instanceof FlushError) p.suspectQueries.push(...e.queryIds);
      throw e instanceof FlushError ? e.error : e;
    }
    p.nextOffset = next;
    t.bytesPerRecord = Math.max(16, Math.round(t.bytesPerRecord * 0.8 + (bytes / records) * 0.2));
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
          queryId,
          settings: { insert_deduplicate: 1, insert_deduplication_token: token },
        });
        return;
      } catch (e) {
        if (e instanceof StorageError) throw new FlushError(e, queryIds);
        const f = backendFailure(e);
        if (f.code === UNKNOWN_TABLE) t.tableMissing = true;
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
        if (r.done) break;
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
      if (total >= maxBytes) break;
      cursor = next;
    }
    if (out.length > 0) {
      const records = out.reduce((n, b) => n + b.recordCount, 0);
      t.bytesPerRecord = Math.max(16, Math.round(t.bytesPerRecord * 0.5 + (total / records) * 0.5));
    }
    return out;
  }

  async offsetForTimestamp(
    tp: TopicPartition,
    timestamp: number,
  ): Promise<{ offset: number; timestamp: number } | null> {
    const { t, p } = await this.partition(tp);
    if (timestamp > MAX_TIMESTAMP) return null;
    const ts = Math.max(MIN_TIMESTAMP, Math.floor(timestamp));
    return this.offsetAndTimestamp(
      t,
      `SELECT offset, toUnixTimestamp64Milli(timestamp) FROM ${t.table}
WHERE ${this.liveRows(tp.partition, p)} AND timestamp >= fromUnixTimestamp64Milli(toInt64(${int(ts)}), 'UTC')
ORDER BY offset LIMIT 1`,
      `look up ${tp.topic}-${tp.partition} by timestamp`,
    );
  }

  async maxTimestamp(tp: TopicPartition): Promise<{ offset: number; timestamp: number } | null> {
    const { t, p } = await this.partition(tp);
    return this.offsetAndTimestamp(
      t,
      `SELECT offset, toUnixTimestamp64Milli(timestamp) FROM ${t.table}
WHERE ${this.liveRows(tp.partition, p)} ORDER BY timestamp DESC, offset ASC LIMIT 1`,
      `find the max timestamp of ${tp.topic}-${tp.partition}`,
    );
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
    const r = await this.select(
      `find the log start of ${tp.topic}-${tp.partition}`,
      `SELECT toInt64(ifNull(minOrNull(offset), -1)) FROM ${t.table} WHERE partition = ${int(tp.partition)} AND offset >= ${int(p.logStartOffset)}`,
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
    const w = new TsvWriter(256);
    writeText(w, t.record.topicId).tab();
    w.int(tp.partition).tab().int(target).tab().int(p.nextOffset).tab().int(this.nextVersion()).newline();
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
    await this.t
      .command(
        `DELETE FROM ${t.table} WHERE partition = ${int(tp.partition)} AND batch_offset + batch_last_offset_delta < ${int(target)}`,
      )
      .catch(() => {});
    return target;
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
        writeText(w, t.record.topicId).tab();
        w.int(partition).tab().int(p.marker).tab().int(p.nextOffset).tab().int(this.nextVersion()).newline();
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

/** Failure of one flush, with the query ids that might still be running on a server. */
class FlushError extends Error {
  constructor(
    readonly error: StorageError,
    readonly queryIds: string[],
  ) {
    super(error.message);
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
