/**
 * The ClickHouse storage: topics are tables, records are rows. The schema is in ./schema.ts and
 * docs/clickhouse-schema.md, its SQL in ./statements.ts; the transports (chdb embedded, a server over
 * HTTP) in ./transport.ts.
 *
 * What is kept where:
 * - records: the topic's table, one row per record (appends go through group commit, ./flusher.ts);
 *   or, for a topic bound to a user's table (`kch.table`), that table's rows (./bound-table.ts);
 * - topics and their configs: `_kch_topics`; retention.ms is also the TTL of the topic's table;
 * - DeleteRecords log starts and checkpoints of partition ends: `_kch_partitions`;
 * - committed offsets: `_kch_group_offsets`; producer id blocks: `_kch_producer_ids` (and, with a
 *   Keeper, the `producer_ids` counter of `_kch_cluster_counters`);
 * - SCRAM credentials, ACLs and client quotas: `_kch_scram_credentials`, `_kch_acls`,
 *   `_kch_client_quotas`;
 * - transactions: staged batches and markers in `_kch_txn_batches` until their transaction ends, the
 *   coordinator's state in `_kch_transactions`;
 * - dynamic broker configs: `_kch_broker_configs`.
 *
 * This class is the front: it opens and closes, and hands each call to the room that does it:
 * - ./metadata-store.ts: migrations, the metadata lock, versioned rows of topics and partitions;
 * - ./topic-catalog.ts: topics (create, alter, delete, TTL), their tables, the way in to a partition;
 * - ./bound-topics.ts: topics bound to a user's table, and the group commits into those tables;
 * - ./partition-states.ts: partition recovery, clean-up after failed inserts, log start, checkpoints;
 * - ./partition-writer.ts: appends, their group commit and pipelining;
 * - ./partition-reader.ts: reads, lookups by timestamp, producer state;
 * - ./transaction-ends.ts (with ./side-batches.ts, ./side-index.ts, ./side-reads.ts): transactions
 *   kept apart from the topic's table until they commit; ./transaction-store.ts: `transactions`;
 * - ./committed-offsets.ts and ./producer-ids.ts;
 * - ./security-store.ts: the Storage's SecurityStore (`security`); ./broker-config-store.ts:
 *   `brokerConfigs`;
 * - ./views.ts and ./tables-config.ts, for tools (./sql-storage.ts).
 */
import { randomBytes } from 'node:crypto';
import {
  type AppendOptions,
  type BrokerConfigStore,
  type CleanerStateStore,
  type ClusterStore,
  type CommittedOffset,
  type CompactionRequest,
  type CompactionResult,
  type FlushStats,
  type PartitionLeadership,
  type PartitionSnapshot,
  type RecordCheck,
  type SecurityStore,
  StorageError,
  type StorageHealth,
  type StoredBatch,
  type TopicDeletion,
  type TopicPartition,
  type TopicRecord,
  type TransactionStore,
} from '../storage.js';
import { Backend, closedError } from './backend.js';
import { BoundTopics } from './bound-topics.js';
import { ClickHouseBrokerConfigStore } from './broker-config-store.js';
import { ClickHouseCleanerStateStore } from './cleaner-state-store.js';
import { clusterDialect } from './cluster-ddl.js';
import {
  KeeperClusterStore,
  KeeperCounter,
  openKeeperTables,
  PRODUCER_IDS_COUNTER,
} from './cluster-store.js';
import { dialectTransport } from './cluster-transport.js';
import { CommittedOffsets } from './committed-offsets.js';
import { compactOwnPartition } from './compaction.js';
import { connect, describeLocation } from './connect.js';
import { FlushReports } from './flush-reports.js';
import type { InsertContext } from './insert-retry.js';
import { MetadataStore } from './metadata-store.js';
import {
  type ClickHouseStorageConfig,
  type ClickHouseStorageOptions,
  clickhouseStorageOptionsSchema,
} from './options.js';
import { PartitionReader } from './partition-reader.js';
import { PartitionStates } from './partition-states.js';
import { PartitionWriter } from './partition-writer.js';
import { ProducerIds } from './producer-ids.js';
import { checkCluster, settleDialect } from './replication.js';
import { ClickHouseSecurityStore } from './security-store.js';
import { SideBatches } from './side-batches.js';
import { SingleBrokerStore } from './single-broker.js';
import { SQL_STORAGE, type SqlStorage } from './sql-storage.js';
import { SqlTools } from './sql-tools.js';
import { createDatabase, sideRowsOfTopic } from './statements.js';
import type { TopicBinding } from './tables-config.js';
import { TopicCatalog } from './topic-catalog.js';
import { TopicDefaults } from './topic-defaults.js';
import { TopicRows } from './topic-rows.js';
import { TopicTables } from './topic-tables.js';
import { TransactionEnds } from './transaction-ends.js';
import { ClickHouseTransactionStore } from './transaction-store.js';
import { backendFailure, describeFailure } from './transport.js';
import {
  createView,
  dropView,
  type EnsureViewResult,
  ensureView,
  listViews,
  type ViewDefinitionInput,
  type ViewInfo,
} from './views.js';

/** How often at most the columns of a bound table are read again for record checks (ms). */
const SCHEMA_REFRESH_MS = 1000;

export class ClickHouseStorage implements SqlStorage {
  readonly [SQL_STORAGE] = true as const;
  readonly name = 'clickhouse';
  readonly location: string;
  readonly config: ClickHouseStorageConfig;
  /** SCRAM credentials, ACLs and client quotas, kept in this database; usable once open. */
  readonly security: SecurityStore;
  /**
   * How brokers over this database find each other, set by `open` for a server: KeeperMap tables when
   * it has a Keeper (./cluster-store.ts), else the single-broker lease (./single-broker.ts). Unset for
   * embedded ClickHouse, whose directory one process holds.
   */
  cluster: ClusterStore | undefined;
  /** The transaction coordinator's state, kept in this database; usable once open. */
  readonly transactions: TransactionStore;
  /** Dynamic broker configs, kept in this database; usable once open. */
  readonly brokerConfigs: BrokerConfigStore;
  /** The log cleaner's state of each partition, kept in this database; usable once open. */
  readonly cleanerStates: CleanerStateStore;

  private readonly backend: Backend;
  private readonly metadata: MetadataStore;
  private readonly catalog: TopicCatalog;
  private readonly bound: BoundTopics;
  private readonly states: PartitionStates;
  private readonly writer: PartitionWriter;
  private readonly reader: PartitionReader;
  private readonly offsets: CommittedOffsets;
  private readonly producerIds: ProducerIds;
  private readonly securityStore: ClickHouseSecurityStore;
  private readonly transactionStore: ClickHouseTransactionStore;
  private readonly brokerConfigStore: ClickHouseBrokerConfigStore;
  private readonly cleanerStateStore: ClickHouseCleanerStateStore;
  private readonly side: SideBatches;
  private readonly tools: SqlTools;
  private readonly reports = new FlushReports();
  private checkpointTimer: NodeJS.Timeout | null = null;
  private opened = false;

  constructor(options: ClickHouseStorageOptions) {
    const parsed = clickhouseStorageOptionsSchema.safeParse(options);
    if (!parsed.success) {
      const detail = parsed.error.issues
        .map((i) => `${i.path.join('.') || 'options'}: ${i.message}`)
        .join('; ');
      throw new StorageError('INVALID_REQUEST', `invalid clickhouseStorage options: ${detail}`, false);
    }
    const c = parsed.data;
    this.config = c;
    this.location = describeLocation(c);
    const backend = new Backend(c.database, this.location, clusterDialect({ cluster: c.cluster }));
    this.backend = backend;
    const instanceId = randomBytes(6).toString('hex');
    let flushSeq = 0;
    const inserts: InsertContext = {
      transport: () => backend.t,
      insertRetries: c.insertRetries,
      retryBackoffMs: c.retryBackoffMs,
      closing: () => backend.closing,
      location: this.location,
      token: () => `${instanceId}-${++flushSeq}`,
      dialect: () => backend.dialect,
    };
    const tables = new TopicTables({
      database: c.database,
      transport: () => backend.t,
      dialect: () => backend.dialect,
      select: (what, sql) => backend.select(what, sql),
      run: (what, call) => backend.run(what, call),
    });
    this.metadata = new MetadataStore(backend);
    this.bound = new BoundTopics(backend, inserts, c, this.reports, () => this.cluster?.manyBrokers === true);
    const rows = new TopicRows(this.bound, inserts, c, this.reports);
    this.side = new SideBatches(backend, inserts, c, this.reports);
    const ends = new TransactionEnds(backend, this.side, rows, this.bound, this.metadata);
    const defaults = new TopicDefaults();
    this.states = new PartitionStates(backend, this.metadata, this.bound, this.side, ends, defaults);
    this.offsets = new CommittedOffsets(backend, this.metadata, this.reports);
    this.catalog = new TopicCatalog(
      backend,
      this.metadata,
      tables,
      this.bound,
      this.states,
      this.offsets,
      defaults,
      c.deduplicationWindow,
      () => this.cluster,
      c.topicClaimStaleMs,
    );
    this.writer = new PartitionWriter(backend, this.catalog, this.states, this.bound, rows, ends);
    this.reader = new PartitionReader(backend, this.catalog, this.bound, this.side);
    this.producerIds = new ProducerIds(backend, c.producerIdBlockSize);
    this.securityStore = new ClickHouseSecurityStore(backend, this.metadata);
    this.security = this.securityStore;
    this.transactionStore = new ClickHouseTransactionStore(backend, this.metadata);
    this.transactions = this.transactionStore;
    this.brokerConfigStore = new ClickHouseBrokerConfigStore(backend, this.metadata);
    this.brokerConfigs = this.brokerConfigStore;
    this.cleanerStateStore = new ClickHouseCleanerStateStore(backend, this.metadata);
    this.cleanerStates = this.cleanerStateStore;
    this.tools = new SqlTools(backend, this.catalog, this.writer);
  }

  // ------------------------------------------------------------------------------ lifecycle

  async open(): Promise<void> {
    const b = this.backend;
    if (b.closing) throw closedError();
    if (this.opened) return;
    const transport = await connect(this.config, this.location);
    // Every call with the settings of the dialect in force (./cluster-transport.ts), which a wrapper
    // of the options sees as ClickHouse will.
    const dialect = () => b.dialect;
    b.unwrapped = dialectTransport(transport, dialect);
    b.transport = this.config.wrapTransport
      ? dialectTransport(this.config.wrapTransport(transport), dialect)
      : b.unwrapped;
    try {
      await checkCluster(b, this.config.cluster);
      await b.command('create the database', createDatabase(b.database, b.dialect));
      await this.metadata.createMigrationsTable();
      // What the tables are (replicated, Cloud's shared ones) decides the settings of what follows.
      b.dialect = await settleDialect(b, this.config.cluster);
      await this.metadata.migrate();
      await this.catalog.open(this.config.topicTableSettings);
      await this.catalog.load();
      await this.metadata.loadVersion();
      // Embedded ClickHouse locks its directory to one process: no other broker can reach the data.
      const keeper = this.config.chdb === undefined && (await openKeeperTables(b));
      if (this.config.chdb === undefined)
        this.cluster = keeper ? new KeeperClusterStore(b) : new SingleBrokerStore(b);
      // Brokers that may share the database reserve producer ids through Keeper, one at a time.
      await this.producerIds.open(keeper ? new KeeperCounter(b, PRODUCER_IDS_COUNTER) : null);
      // After the versions: it may write topic rows, whose versions must follow the stored ones.
      await this.catalog.checkOwnTables();
    } catch (e) {
      await b.transport.close().catch(() => {});
      b.transport = null;
      throw e;
    }
    this.offsets.open(this.config.lingerMs, this.config.maxFlushBytes);
    this.checkpointTimer = setInterval(
      () => void this.states.checkpoint(this.catalog.all()).catch(() => {}),
      this.config.checkpointIntervalMs,
    );
    this.checkpointTimer.unref?.();
    this.opened = true;
  }

  async close(): Promise<void> {
    const b = this.backend;
    if (b.closing) return;
    b.closing = true;
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    if (!b.transport) return;
    const drain = async () => {
      const flushers: Promise<void>[] = [];
      for (const t of this.catalog.all()) if (t.flusher) flushers.push(t.flusher.drain());
      flushers.push(this.bound.drain(), this.side.drain(), this.offsets.drain());
      flushers.push(
        this.securityStore.drain(),
        this.transactionStore.drain(),
        this.brokerConfigStore.drain(),
        this.cleanerStateStore.drain(),
      );
      await Promise.all(flushers);
    };
    await drain();
    await this.writer.settle(this.catalog.all());
    // Appends that ended transactions inserted rows after the first drain.
    await drain();
    await this.states.checkpoint(this.catalog.all()).catch(() => {});
    await b.transport.close().catch(() => {});
    b.transport = null;
    b.unwrapped = null;
  }

  async health(): Promise<StorageHealth> {
    const b = this.backend;
    if (b.closing || !b.transport)
      return { ok: false, detail: b.closing ? 'storage is closed' : 'storage is not open' };
    try {
      await b.t.selectBytes('SELECT 1');
      return { ok: true };
    } catch (e) {
      return { ok: false, detail: `${this.location} does not answer: ${describeFailure(backendFailure(e))}` };
    }
  }

  /**
   * Calls `listener` after every group-commit insert (records of a topic, or committed offsets): how
   * many appends and rows it carried, its bytes and how long ClickHouse took. For metrics; returns a
   * function that removes the listener.
   */
  onFlush(listener: (stats: FlushStats) => void): () => void {
    return this.reports.add(listener);
  }

  // -------------------------------------------------------------------------------- topics

  /**
   * The topics as stored. With many brokers over the database they are read again each time (another
   * broker may have created, deleted or changed one); a single broker answers from its catalog.
   */
  async listTopics(): Promise<TopicRecord[]> {
    this.backend.checkOpen();
    await this.catalog.refresh();
    return [...this.catalog.all()].map((t) => structuredClone(t.record));
  }

  async createTopic(topic: TopicRecord): Promise<void> {
    this.backend.checkOpen();
    await this.catalog.create(topic);
  }

  async deleteTopic(name: string): Promise<TopicDeletion | undefined> {
    this.backend.checkOpen();
    const topicId = this.catalog.topicOf(name).record.topicId;
    const deletion = await this.catalog.delete(name);
    // Its transactions' rows: keyed by topic id, so a topic made again under the name never sees
    // them; removed for the space (a failure leaves them unseen).
    await this.side
      .remove(`the transaction rows of topic ${name}`, sideRowsOfTopic(topicId), false)
      .catch(() => {});
    return deletion;
  }

  async setPartitionCount(name: string, partitionCount: number): Promise<void> {
    this.backend.checkOpen();
    await this.catalog.setPartitionCount(name, partitionCount);
  }

  async setTopicConfigs(name: string, configs: Record<string, string>): Promise<void> {
    this.backend.checkOpen();
    await this.catalog.setConfigs(name, configs);
  }

  async setTopicDefaults(defaults: Readonly<Record<string, string>>): Promise<void> {
    this.backend.checkOpen();
    await this.catalog.setDefaults(defaults);
  }

  /** Where the topic's records are, as SQL names it: `kafka.orders`, or the table it is bound to. */
  topicLocation(topic: string): string | null {
    return this.catalog.location(topic);
  }

  /**
   * The check of records produced to a topic bound to a table (./bound-check.ts), null for a topic in
   * kch's own table (any bytes). Answers from the table's columns as read at most a second ago, so a
   * column added with ALTER TABLE is known a second later.
   */
  async recordCheck(topic: string): Promise<RecordCheck | null> {
    this.backend.checkOpen();
    const t = this.catalog.topicOf(topic);
    if (t.unusable) throw t.unusable;
    const bound = t.bound;
    if (!bound) return null;
    await this.bound.schema(t, SCHEMA_REFRESH_MS);
    return bound.check;
  }

  // ---------------------------------------------------------------------------- partitions

  async openPartition(tp: TopicPartition, leadership?: PartitionLeadership): Promise<PartitionSnapshot> {
    if (leadership) await this.writer.lead(tp, leadership);
    return this.reader.openPartition(tp);
  }

  /**
   * Appends of a partition are pipelined (see Storage.appendsInFlight and ./partition-writer.ts):
   * the next one is encoded and queued for an insert while the one before is still being inserted.
   */
  get appendsInFlight(): number {
    return this.config.insertsInFlight;
  }

  append(tp: TopicPartition, batches: readonly StoredBatch[], options?: AppendOptions): Promise<void> {
    return this.writer.append(tp, batches, options);
  }

  read(tp: TopicPartition, fromOffset: number, maxBytes: number): Promise<StoredBatch[]> {
    return this.reader.read(tp, fromOffset, maxBytes);
  }

  offsetForTimestamp(
    tp: TopicPartition,
    timestamp: number,
  ): Promise<{ offset: number; timestamp: number } | null> {
    return this.reader.offsetForTimestamp(tp, timestamp);
  }

  maxTimestamp(tp: TopicPartition): Promise<{ offset: number; timestamp: number } | null> {
    return this.reader.maxTimestamp(tp);
  }

  async currentLogStartOffset(tp: TopicPartition): Promise<number> {
    const { t, p } = await this.catalog.partition(tp);
    return this.states.currentLogStart(t, tp, p);
  }

  async partitionEnd(tp: TopicPartition): Promise<number> {
    // The state `partition` caches is this storage's own view: stale once another broker appended.
    const { t } = await this.catalog.partition(tp);
    return this.states.readEnd(t, tp.partition);
  }

  async deleteRecordsBefore(tp: TopicPartition, offset: number): Promise<number> {
    const { t, p } = await this.catalog.partition(tp);
    return this.states.deleteRecordsBefore(t, tp, p, offset);
  }

  /**
   * Compacts kch's own table of the topic (./compaction.ts). A table the topic is bound to
   * (`kch.table`) is the user's: nothing of it is removed (docs/compaction.md).
   */
  async compact(tp: TopicPartition, request: CompactionRequest): Promise<CompactionResult> {
    const { t, p } = await this.catalog.partition(tp);
    if (t.bound) return { cleanedTo: p.logStartOffset, removed: 0 };
    return compactOwnPartition(this.backend, this.side, t, tp, p, request);
  }

  // ------------------------------------------------------------------------------ groups

  async commitOffsets(group: string, offsets: readonly CommittedOffset[]): Promise<void> {
    this.backend.checkOpen();
    await this.offsets.commit(group, offsets);
  }

  async fetchOffsets(group: string): Promise<CommittedOffset[]> {
    this.backend.checkOpen();
    return this.offsets.fetch(group);
  }

  async listOffsetGroups(): Promise<string[]> {
    this.backend.checkOpen();
    return this.offsets.groups();
  }

  async deleteOffsets(group: string, partitions?: readonly TopicPartition[]): Promise<void> {
    this.backend.checkOpen();
    await this.offsets.deleteGroup(group, partitions);
  }

  async allocateProducerId(): Promise<number> {
    this.backend.checkOpen();
    return this.producerIds.allocate();
  }

  // ------------------------------------------------------------- for tools (./sql-storage.ts)

  /**
   * Runs any SQL on this storage's ClickHouse (see SqlStorage.query): for the CLI's `kch sql` and the
   * admin endpoint `POST /sql`, which is how an embedded chdb data directory, open in this process
   * only, is reached from outside. The result is held in memory: add a LIMIT.
   */
  query(sql: string, format = 'TabSeparated'): Promise<Buffer> {
    return this.tools.query(sql, format);
  }

  /**
   * Applies an integration `tables` config (./tables-config.ts): creates the tables that do not exist
   * and returns which topics bind to which table. Binding itself is the broker's part (topic configs).
   */
  applyTablesConfig(input: unknown): Promise<TopicBinding[]> {
    return this.tools.applyTablesConfig(input);
  }

  /**
   * The quoted, qualified table holding a topic's records (`db`.`topic`, or the table a topic is bound
   * to), for SQL written over topics: materialized views, tools. UNKNOWN_TOPIC_OR_PARTITION when no
   * such topic exists.
   */
  topicTable(name: string): string {
    return this.tools.topicTable(name);
  }

  /** Creates a materialized view over a topic's table; see ./views.ts and docs/materialized-views.md. */
  createView(definition: ViewDefinitionInput): Promise<ViewInfo> {
    return createView(this.tools.viewHost(), definition);
  }

  /** Creates the view unless one has its name; says whether an existing one has this definition. */
  ensureView(definition: ViewDefinitionInput): Promise<EnsureViewResult> {
    return ensureView(this.tools.viewHost(), definition);
  }

  listViews(): Promise<ViewInfo[]> {
    return listViews(this.tools.viewHost());
  }

  dropView(name: string): Promise<void> {
    return dropView(this.tools.viewHost(), name);
  }
}

/**
 * A Storage in ClickHouse: a server (`{ url }` or `{ client }`) or the embedded engine (`{ chdb: dir }`).
 * See {@link ClickHouseStorageOptions} for the knobs (database, linger, timeouts).
 */
export function clickhouseStorage(options: ClickHouseStorageOptions): ClickHouseStorage {
  return new ClickHouseStorage(options);
}
