/**
 * The storage contract: everything a kch broker persists goes through this interface.
 *
 * A broker owns the Kafka semantics (offset assignment, idempotence checks, consumer groups, long
 * polling); a storage keeps what must survive a restart and answers range reads. Implementations:
 * `memoryStorage()` (this package) and `clickhouseStorage()`; plugin authors prove theirs with the
 * contract suite in `@kch/storage/testing`.
 *
 * Conventions:
 * - Offsets and timestamps are JavaScript numbers (exact up to 2^53: centuries of offsets at a million
 *   records a second). The Kafka wire uses int64; the broker converts at the edge.
 * - A partition is appended to by one broker at a time and never concurrently: the broker waits for
 *   `append` to settle before it calls `append` again for the same partition, unless the storage
 *   declares {@link Storage.appendsInFlight} (then appends of a partition are pipelined, settled in
 *   order, and a rejection rejects the later ones too). Calls for different partitions may overlap,
 *   and a storage may group them into one write.
 * - When `append` resolves, the batches are durable and visible to `read`. When it rejects, none of them
 *   may become visible later (the broker reuses their offsets).
 * - Every failure is a {@link StorageError}; `retriable` tells the broker whether the client may retry.
 * - Nothing here assumes a single broker process: leadership is a lease held through the
 *   {@link ClusterStore}, so state a broker caches is always reloadable through `openPartition`.
 */

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** A topic as stored: configs are the overrides set on the topic (not the broker defaults). */
export interface TopicRecord {
  name: string;
  /** Kafka's topic id: 16 random bytes, printed as 22 characters of URL-safe base64. */
  topicId: string;
  partitionCount: number;
  configs: Record<string, string>;
  /** Creation time in ms since the epoch. */
  createdAt: number;
}

/**
 * One RecordBatch (magic 2) as it travels on the wire, with its offsets assigned. The metadata fields
 * repeat what is in the batch header, so storages need not parse `bytes` to index it.
 *
 * A batch may hold fewer records than its offset range (`lastOffset - baseOffset + 1`), even none:
 * records removed before it was stored keep their offsets as holes, as after Kafka's compaction. The
 * broker does this when it routes invalid records to a dead-letter topic. Reads return such a batch
 * with the same holes.
 */
export interface StoredBatch {
  baseOffset: number;
  /** baseOffset + lastOffsetDelta. */
  lastOffset: number;
  /** Number of records in the batch. */
  recordCount: number;
  /** The batch's first timestamp and its max timestamp (LogAppendTime when the topic uses it). */
  baseTimestamp: number;
  maxTimestamp: number;
  /** -1 when the producer is not idempotent. */
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  isTransactional: boolean;
  isControl: boolean;
  /** The whole batch, header included, exactly as a Fetch response returns it. */
  bytes: Buffer;
}

/** What an idempotent producer last wrote to a partition, for duplicate detection after a restart. */
export interface ProducerBatchInfo {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  lastSequence: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
}

/** State of a partition as recovered from storage when the broker opens it. */
export interface PartitionSnapshot {
  /** First offset still in the log (moved by retention and DeleteRecords). */
  logStartOffset: number;
  /** The offset the next record gets: the high watermark, as there is one replica. */
  nextOffset: number;
  /** Up to the last five batches of each idempotent producer, oldest first (Kafka keeps five). */
  producerBatches: ProducerBatchInfo[];
  /**
   * The transactions still open in the partition (storages with {@link Storage.transactions}):
   * producers with staged batches no marker has ended yet, by first offset. Absent means none.
   */
  openTransactions?: OpenTransaction[];
}

/** A producer's transaction still open in a partition: staged batches no marker has ended yet. */
export interface OpenTransaction {
  producerId: number;
  producerEpoch: number;
  /** The offset of its first batch in the partition: the last stable offset stops before it. */
  firstOffset: number;
}

export interface CommittedOffset {
  topic: string;
  partition: number;
  offset: number;
  /** -1 when unknown. */
  leaderEpoch: number;
  metadata: string | null;
  /** Commit time in ms since the epoch. */
  commitTimestamp: number;
}

/** What {@link Storage.deleteTopic} did not remove, in words for the operator. */
export interface TopicDeletion {
  kept?: string;
}

export interface StorageHealth {
  ok: boolean;
  /** What is wrong, in words a user can act on, when not ok. */
  detail?: string;
}

/**
 * One write a storage made on its own schedule (a group-commit insert), for metrics. Reported through
 * the optional {@link Storage.onFlush}.
 */
export interface FlushStats {
  /**
   * What was written: a topic's records, committed offsets of consumer groups, or transactions' staged
   * batches and markers (of every topic: they share one group commit).
   */
  kind: 'records' | 'offsets' | 'transactions';
  /** The topic, for `records`. */
  topic?: string;
  /** Appends (or offset commits) the write carried together. */
  appends: number;
  rows: number;
  /** Bytes of rows sent (the encoding the storage uses, e.g. RowBinary). */
  bytes: number;
  durationMs: number;
  /** How long the oldest rows waited before the write started (linger, earlier writes), when known. */
  queuedMs?: number;
  ok: boolean;
}

/** A record as {@link Storage.recordCheck} sees it. The buffers are views, valid during the call only. */
export interface CheckedRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: readonly { key: string; value: Buffer | null }[];
}

/**
 * Whether a record fits a topic's schema: null when it does, else why not, in words for the producer
 * (e.g. `field "qty": expected UInt32, got "abc"`). Synchronous and pure: the broker calls it once per
 * record before it assigns offsets, and a record it accepted must then be stored without error.
 */
export type RecordCheck = (record: CheckedRecord) => string | null;

export type StorageErrorKind =
  /** The topic already exists. */
  | 'TOPIC_EXISTS'
  /** No such topic or partition. */
  | 'UNKNOWN_TOPIC_OR_PARTITION'
  /** The offset is outside the log. */
  | 'OFFSET_OUT_OF_RANGE'
  /** The request is invalid for this storage (a bad config value). */
  | 'INVALID_REQUEST'
  /**
   * The topic name cannot be used here: reserved by the storage, or taken by something the storage
   * did not create for the topic (a user's table of the same name). Kafka's INVALID_TOPIC_EXCEPTION.
   */
  | 'INVALID_TOPIC'
  /** The backend is unavailable, timed out or overloaded; retrying later may succeed. */
  | 'UNAVAILABLE'
  /**
   * The caller's leadership of the partition was replaced (a later leader epoch began): nothing was
   * stored. Kafka's NOT_LEADER_OR_FOLLOWER; the client asks the new leader.
   */
  | 'FENCED'
  /**
   * The backend refused a statement of the storage's own (a table changed behind its back, a fault in
   * the storage): a retry fails the same way until someone acts on the message.
   */
  | 'INTERNAL';

export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(
    readonly kind: StorageErrorKind,
    message: string,
    readonly retriable: boolean = kind === 'UNAVAILABLE',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What `append` may be asked besides storing the batches. */
export interface AppendOptions {
  /**
   * Runs once the batches were written (and every earlier append of the partition was stored), before
   * the append counts as stored. A broker of several checks here that it still leads the partition:
   * an insert that lands after its leadership may have passed to another broker must not be
   * acknowledged (docs/architecture.md, "Many brokers over one database"). When it rejects, the append
   * fails with its error as a failed write does, and its batches must go from the data too, not only
   * from reads, as people query the data directly (the ClickHouse storage deletes the rows at once).
   * A storage that cannot take an append back without risking a successor's records may leave it
   * unrun (the ClickHouse storage's topics bound to a user's table without `_leader_epoch`):
   * the broker then checks after the append resolved and refuses the acknowledgement, rows in place.
   */
  confirm?(): Promise<void>;
}

/**
 * What {@link Storage.compact} is asked to clean (Kafka's log cleaner, docs/compaction.md). Records
 * at or past `endOffset`, and from the first record newer than `maxTimestamp` on, are not touched:
 * kch has no segments, so this is its active segment.
 */
export interface CompactionRequest {
  /** Nothing at or past it is compacted: the broker passes the partition's last stable offset. */
  endOffset: number;
  /**
   * min.compaction.lag.ms: the cleaning stops at the first record whose timestamp is after this
   * (now minus the lag), as Kafka's stops at the first segment holding a record that young.
   */
  maxTimestamp: number;
  /**
   * Tombstones (null values) below this offset go too: the broker passes the end of a cleaning done
   * at least delete.retention.ms ago, so a tombstone stays that long after it was first cleaned past.
   */
  tombstonesBefore: number;
}

/**
 * What the log cleaner knows of a partition's cleanings (Kafka's cleaner-offset-checkpoint, and the
 * delete horizons Kafka writes in the batches it cleaned): kept so that after a restart, or on another
 * broker, a tombstone still goes delete.retention.ms after the cleaning that first passed it.
 */
export interface CleanerState {
  /** The topic's id: a state of a deleted topic of the same name is not this one's. */
  topicId: string;
  /** Where the last cleaning stopped: offsets from here on are not cleaned yet. */
  cleanedTo: number;
  /** The tombstone horizon the last cleaning used. */
  tombstonesBefore: number;
  /** Cleanings that could still raise that horizon: where each stopped and when (ms), oldest first. */
  passes: { cleanedTo: number; at: number }[];
}

/** Where the log cleaner's state persists, one {@link CleanerState} per partition. */
export interface CleanerStateStore {
  /** The state last put for `tp`, or null. */
  get(tp: TopicPartition): Promise<CleanerState | null>;
  /** Replaces the state of `tp`. */
  put(tp: TopicPartition, state: CleanerState): Promise<void>;
}

/** What {@link Storage.compact} did. */
export interface CompactionResult {
  /** Where the cleaning stopped (exclusive): the first offset it did not look at. */
  cleanedTo: number;
  /** Records removed. */
  removed: number;
}

export interface Storage {
  /** A short name for logs and metrics, e.g. "memory" or "clickhouse". */
  readonly name: string;
  /**
   * Optional: how many appends of one partition the broker may have unsettled at once (default 1).
   * With more than one, the broker calls `append` again for a partition before the earlier calls
   * settled, with batches that follow the last ones handed in, so that a slow write (a group-commit
   * insert) does not hold up the next one. Such a storage must then settle the appends of a partition
   * in the order they were called, and when one rejects, reject every later one still unsettled too,
   * none of whose batches may become visible later; after a rejection, the broker waits until all its
   * appends of the partition have settled and appends again from the end of what was stored.
   *
   * The rule has one owner, `InFlightAppends` (./in-flight-appends.ts, tested on its own): the
   * broker's partition logs take their appends through one, and a storage that pipelines can settle
   * its appends through one too (the ClickHouse storage does), so both sides keep the same rule.
   */
  readonly appendsInFlight?: number;
  /** A description of where the data lives, for the broker's startup line. */
  readonly location: string;

  /** Connects and prepares the schema. Called once before anything else. */
  open(): Promise<void>;
  /** Flushes pending writes and releases resources. No call follows it. */
  close(): Promise<void>;
  health(): Promise<StorageHealth>;
  /**
   * Optional, for storages whose topics can have a schema (a ClickHouse table bound to the topic):
   * the check the broker runs on each produced record before it assigns offsets. Resolves null when
   * the topic takes any bytes. Called for every Produce, so it answers from a cache; it may refresh the
   * schema it checks against (a column added to the table) at most every second or so.
   */
  recordCheck?(topic: string): Promise<RecordCheck | null>;
  /**
   * Optional, for metrics: calls `listener` after every write the storage batches by itself (group
   * commit). Returns a function that removes the listener. Storages without such writes leave it out.
   */
  onFlush?(listener: (stats: FlushStats) => void): () => void;

  /**
   * Optional: where the topic's records can be read outside Kafka, as the storage's users name it (a
   * ClickHouse table: `kafka.orders`). DescribeConfigs shows it as `kch.storage.table`.
   */
  topicLocation?(topic: string): string | null;

  listTopics(): Promise<TopicRecord[]>;
  /** Fails with TOPIC_EXISTS when a topic of that name exists. */
  createTopic(topic: TopicRecord): Promise<void>;
  /**
   * Removes the topic, its records and its committed offsets. May resolve with what it left in place
   * and why (a table that is no longer the one the storage made for the topic), for the broker's log.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: storages written before TopicDeletion return Promise<void>
  deleteTopic(name: string): Promise<TopicDeletion | undefined | void>;
  /** Raises the partition count; new partitions start empty at offset 0. */
  setPartitionCount(name: string, partitionCount: number): Promise<void>;
  /** Replaces the topic's config overrides with `configs`. */
  setTopicConfigs(name: string, configs: Record<string, string>): Promise<void>;
  /**
   * Optional, for storage that applies topic configs itself (ClickHouse: retention.ms as a table
   * TTL, cleanup.policy): the broker's defaults of topic configs (its log.retention.ms,
   * log.cleanup.policy, ...), which apply to every topic without its own value, to those made from
   * now on and to those that exist. The broker calls it after `open` and whenever they change.
   */
  setTopicDefaults?(defaults: Readonly<Record<string, string>>): Promise<void>;

  /**
   * Recovers the partition's state. With `leadership` (several brokers share the data, and this one
   * has just become the partition's leader in `leadership.epoch`), the storage also fences the
   * partition from then on: its end is read once, `snapshot.nextOffset` becomes the start of
   * `leadership.epoch`, and every later read of the partition (including the next `openPartition`)
   * hides the rows a deposed leader wrote late. A row of a batch with partition leader epoch r is
   * visible only below the start of the first epoch after r, the starts being
   * `leadership.epochStarts` plus `{ epoch: leadership.epoch, startOffset: snapshot.nextOffset }`
   * (docs/architecture.md, "Many brokers"). From then on `append` refuses (StorageError
   * INVALID_REQUEST, nothing of it stored) batches the fences would hide, by the partition leader
   * epoch in their header. An epoch's start, once known, is kept (opening again in the same epoch does
   * not move it); a leadership older than the newest epoch known is refused (INVALID_REQUEST). A
   * storage that cannot tell a row's epoch (the ClickHouse storage's bound topics) reads the end again
   * but hides nothing, and says so in its docs.
   */
  openPartition(tp: TopicPartition, leadership?: PartitionLeadership): Promise<PartitionSnapshot>;
  /**
   * Appends batches whose offsets follow the partition's current end without a gap, in order.
   * Durable and readable when the promise resolves.
   *
   * With {@link Storage.transactions}, transactions are kept apart (docs/architecture.md,
   * "Transactions"): a transactional batch (`isTransactional`, not `isControl`) is staged: `read`
   * returns it in its place, as Kafka's read_uncommitted consumers see open transactions, but it is not
   * one of the topic's records as the storage's users see them (a ClickHouse table's rows) until its
   * transaction commits. A control batch (a COMMIT or ABORT marker: the broker appends each in an
   * append of its own) ends its producer's staged batches in the partition: COMMIT makes them records
   * of the topic at their offsets, ABORT drops them from every read (their offsets become holes, as
   * after compaction). The marker is returned by `read` at its offset, and is never one of the
   * topic's records.
   */
  append(tp: TopicPartition, batches: readonly StoredBatch[], options?: AppendOptions): Promise<void>;
  /**
   * Batches from the one containing `fromOffset` on, in offset order, until their total size reaches
   * `maxBytes`; the first batch is returned whole even when it alone is larger. Empty at the end of the
   * log. Batches wholly before the log start offset are not returned.
   */
  read(tp: TopicPartition, fromOffset: number, maxBytes: number): Promise<StoredBatch[]>;
  /**
   * The earliest offset whose timestamp is at or after `timestamp`, with that record's timestamp, or
   * null when every record is older.
   */
  offsetForTimestamp(
    tp: TopicPartition,
    timestamp: number,
  ): Promise<{ offset: number; timestamp: number } | null>;
  /** The offset and timestamp of the record with the largest timestamp, or null for an empty log. */
  maxTimestamp(tp: TopicPartition): Promise<{ offset: number; timestamp: number } | null>;
  /**
   * The log start offset as it is now: after DeleteRecords, and after retention removed old records
   * (a ClickHouse TTL does that in the background). Never less than an earlier answer.
   */
  currentLogStartOffset(tp: TopicPartition): Promise<number>;
  /** Moves the log start offset forward to `offset` (never back) and returns the new log start. */
  deleteRecordsBefore(tp: TopicPartition, offset: number): Promise<number>;
  /**
   * Optional: log compaction (cleanup.policy contains `compact`; docs/compaction.md). Among the
   * partition's records from the log start to where the cleaning stops (see {@link CompactionRequest}),
   * removes every record a later record of the same key there supersedes, every record without a key,
   * and the tombstones below `request.tombstonesBefore`. Offsets never change: removed records leave
   * holes (a batch keeps its header, base offset, last offset delta and producer fields, with fewer
   * records, or goes from reads when none is left), the end and the log start stay where they are.
   * Never removed: control batches (transaction markers), the last batch of each idempotent
   * producer (its sequence is what duplicate detection recovers on open), whole, and the last record
   * before where the cleaning stops (Kafka never cleans its active segment: a log does not end in
   * holes, which a consumer could not read past to the high watermark). A storage may keep
   * what it does not compact (a table the user owns) and answer `removed: 0`.
   */
  compact?(tp: TopicPartition, request: CompactionRequest): Promise<CompactionResult>;
  /**
   * Optional, for storages that several brokers share (a `cluster` store with `manyBrokers`): the
   * partition's end as stored now, read afresh rather than from what this storage cached, because
   * another broker may lead the partition and have appended since. The broker reads it for
   * partitions it does not lead (tableGroups commits the ends of every partition of a topic).
   */
  partitionEnd?(tp: TopicPartition): Promise<number>;

  /** Stores committed offsets of a consumer group (replacing earlier commits of the same partitions). */
  commitOffsets(group: string, offsets: readonly CommittedOffset[]): Promise<void>;
  fetchOffsets(group: string): Promise<CommittedOffset[]>;
  /** Groups that have committed offsets. */
  listOffsetGroups(): Promise<string[]>;
  /** Deletes a group's committed offsets: all of them, or those of the given partitions. */
  deleteOffsets(group: string, partitions?: readonly TopicPartition[]): Promise<void>;

  /** A producer id never handed out before by this storage, across restarts. */
  allocateProducerId(): Promise<number>;

  /**
   * Optional: where SCRAM credentials, ACLs and client quotas persist. Available after `open`. A broker
   * over a storage without it keeps them in process memory and says so at start.
   */
  readonly security?: SecurityStore;

  /**
   * Optional: how brokers over the same data find each other (see {@link ClusterStore}). A storage
   * without it serves one broker.
   */
  readonly cluster?: ClusterStore;

  /**
   * Optional: transactions. A storage with it keeps the transaction coordinator's state and stages
   * transactional batches until their marker (see `append`); a broker over a storage without it
   * refuses transactional producers.
   */
  readonly transactions?: TransactionStore;

  /**
   * Optional: dynamic broker configs (Kafka's KIP-226, set by AlterConfigs on a BROKER resource). A
   * broker over a storage without it keeps them in process memory.
   */
  readonly brokerConfigs?: BrokerConfigStore;

  /**
   * Optional: where the log cleaner's state persists (docs/compaction.md). A broker over a storage
   * without it keeps it in memory: after a restart tombstones are then kept longer than asked.
   */
  readonly cleanerStates?: CleanerStateStore;
}

/**
 * A dynamic broker config as stored: `resource` is "" for the cluster-wide default (Kafka's
 * DYNAMIC_DEFAULT_BROKER_CONFIG) or a broker's node id in decimal (DYNAMIC_BROKER_CONFIG).
 */
export interface BrokerConfigEntry {
  readonly resource: string;
  readonly name: string;
  readonly value: string;
}

/**
 * Where dynamic broker configs persist, shared by every broker over the same data. `list` reads what
 * is stored now (also what another broker wrote); a write is durable when its promise resolves.
 */
export interface BrokerConfigStore {
  list(): Promise<BrokerConfigEntry[]>;
  /** Sets each config given with a value and removes each given with null, for one resource. */
  alter(resource: string, changes: Readonly<Record<string, string | null>>): Promise<void>;
}

/** The states a transaction is stored in, by Kafka's TransactionState names. */
export const TRANSACTION_STATE_NAMES = [
  'Empty',
  'Ongoing',
  'PrepareCommit',
  'PrepareAbort',
  'CompleteCommit',
  'CompleteAbort',
] as const;

/** A transaction's state as the coordinator moves it (Kafka's TransactionState names). */
export type TransactionStateName = (typeof TRANSACTION_STATE_NAMES)[number];

/** The pending offsets a transaction holds for a group (AddOffsetsToTxn, then TxnOffsetCommit). */
export interface TransactionGroupOffsets {
  group: string;
  offsets: CommittedOffset[];
}

/**
 * What the transaction coordinator keeps of a transactional id (Kafka's TransactionMetadata, as its
 * `__transaction_state` log stores it), written before every change counts.
 */
export interface TransactionMetadata {
  transactionalId: string;
  producerId: number;
  /** The producer id this one replaced when the epoch ran out; -1 when none. */
  previousProducerId: number;
  producerEpoch: number;
  /** The epoch before the last bump (KIP-360), so that a retried InitProducerId is recognised; -1 when none. */
  lastProducerEpoch: number;
  /** transaction.timeout.ms as the producer asked for it. */
  timeoutMs: number;
  state: TransactionStateName;
  /** The partitions in the transaction, in the order they were added. */
  partitions: TopicPartition[];
  /** The groups added with AddOffsetsToTxn, with the offsets TxnOffsetCommit sent for each. */
  groups: TransactionGroupOffsets[];
  /** When the transaction began (its first partition or group was added), ms; -1 when none. */
  startedAt: number;
  /** When this state was written, ms. */
  updatedAt: number;
}

/**
 * Where the transaction coordinator keeps its state, one entry per transactional id (so that several
 * brokers can share coordination by transactional id, as they share groups).
 */
export interface TransactionStore {
  /** Every transactional id's state as stored now. */
  list(): Promise<TransactionMetadata[]>;
  /** Stores the state of a transactional id, replacing the one before; durable when it resolves. */
  put(state: TransactionMetadata): Promise<void>;
  /** Removes a transactional id (expired after transactional.id.expiration.ms). */
  remove(transactionalId: string): Promise<void>;
}

/** Where a leader epoch of a partition begins: the first offset its leader assigned. */
export interface LeaderEpochStart {
  readonly epoch: number;
  readonly startOffset: number;
}

/** The leadership a broker opens a partition with (see {@link Storage.openPartition}). */
export interface PartitionLeadership {
  /** The leader epoch this broker leads the partition in; higher than every one in `epochStarts`. */
  readonly epoch: number;
  /** Where each earlier leader epoch began, as recorded in the partition's ownership. */
  readonly epochStarts: readonly LeaderEpochStart[];
}

/** A broker as it registers in a cluster: how clients reach it, by listener. */
export interface ClusterMember {
  readonly nodeId: number;
  /** Random per process start: tells a broker from its own earlier life under the same node id. */
  readonly instance: string;
  readonly rack: string | null;
  readonly endpoints: readonly ClusterEndpoint[];
}

export interface ClusterEndpoint {
  readonly listener: string;
  readonly host: string;
  readonly port: number;
  readonly securityProtocol: string;
}

/** The members whose registration has not expired, by the store's clock. */
export interface ClusterView {
  /** The store's clock (ms): registrations expire by it, so brokers' own clocks need not agree. */
  readonly now: number;
  readonly members: readonly (ClusterMember & { readonly expiresAt: number })[];
}

/**
 * Who owns a key (a partition's leadership, a coordinator slot) and since which epoch. Epochs only
 * grow: each change of owner raises it by one.
 */
export interface Ownership {
  readonly key: string;
  readonly nodeId: number;
  readonly instance: string;
  readonly epoch: number;
  /** For partitions: where each leader epoch began, oldest first. */
  readonly epochStarts: readonly LeaderEpochStart[];
}

/**
 * How several brokers over the same data form one cluster: registrations that expire unless renewed,
 * and ownerships changed only by compare-and-set on their epoch. Every write is linearizable (the
 * ClickHouse storage keeps them in KeeperMap tables), which is what the brokers' fencing rests on
 * (docs/architecture.md, "Many brokers").
 */
export interface ClusterStore {
  /**
   * Whether several brokers may share the data. False for a store that can only make sure there is
   * one (a ClickHouse without Keeper): `register` then refuses a second live broker.
   */
  readonly manyBrokers: boolean;
  /**
   * Registers a broker for `ttlMs` under its node id, or the lowest free one when `nodeId` is null,
   * and resolves the id. A node id whose registration is live belongs to that broker: refused with a
   * StorageError (INVALID_REQUEST) that says who holds it.
   */
  register(member: Omit<ClusterMember, 'nodeId'> & { nodeId: number | null }, ttlMs: number): Promise<number>;
  /**
   * Extends the registration to `ttlMs` from now. Resolves false when it is gone: it expired and
   * another broker fenced it (the broker must then stop acting as a member and register again).
   */
  renew(nodeId: number, instance: string, ttlMs: number): Promise<boolean>;
  /** Removes the registration (a broker stopping cleanly, after it stopped serving). */
  leave(nodeId: number, instance: string): Promise<void>;
  /** The live members. */
  view(): Promise<ClusterView>;
  /**
   * Removes a registration that expired before `now` (the store's clock), so that its broker can never
   * renew it. Resolves true when it is gone (removed now, or by someone else).
   */
  fence(nodeId: number, instance: string, now: number): Promise<boolean>;
  owners(): Promise<Ownership[]>;
  /**
   * Sets `next` as the key's ownership when the stored one has epoch `expectedEpoch` (null: the key
   * has none). Resolves whether it did; another writer may have changed it first.
   */
  setOwner(expectedEpoch: number | null, next: Ownership): Promise<boolean>;
  /** Removes ownerships (of a deleted topic's partitions). */
  dropOwners(keys: readonly string[]): Promise<void>;
}

/**
 * A user's SCRAM credential for one mechanism (RFC 5802): the salt, iterations and the derived keys,
 * never the password. AlterUserScramCredentials stores it; SCRAM authentication checks against it.
 */
export interface ScramCredential {
  /** The user name, as the client sends it (the principal is `User:<user>`). */
  readonly user: string;
  readonly mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  readonly salt: Buffer;
  readonly iterations: number;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/**
 * One access control entry bound to a resource pattern, with Kafka's own codes (as CreateAcls carries
 * them): resourceType 2 TOPIC, 3 GROUP, 4 CLUSTER, 5 TRANSACTIONAL_ID, 6 DELEGATION_TOKEN, 7 USER;
 * patternType 3 LITERAL, 4 PREFIXED; operation 2 ALL ... 14 IDEMPOTENT_WRITE; permissionType 2 DENY,
 * 3 ALLOW. Two bindings with the same seven fields are the same binding.
 */
export interface AclBinding {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly patternType: number;
  /** `User:alice`, or `User:*` for every principal. */
  readonly principal: string;
  /** A client address, or `*` for any. */
  readonly host: string;
  readonly operation: number;
  readonly permissionType: number;
}

/**
 * A client quota (KIP-546): the entity it applies to, by entity type (`user`, `client-id`, `ip`) with a
 * name or null for the default entity of that type, and its values by quota key
 * (`producer_byte_rate`, `consumer_byte_rate`, `request_percentage`, ...).
 */
export interface ClientQuota {
  readonly entity: Readonly<Record<string, string | null>>;
  readonly values: Readonly<Record<string, number>>;
}

/**
 * Where a broker keeps its security metadata: SCRAM credentials, ACLs and client quotas. Each list
 * reads what is stored now (also what another broker over the same data wrote); each write is durable
 * when its promise resolves.
 */
export interface SecurityStore {
  listScramCredentials(): Promise<ScramCredential[]>;
  /** Stores the credential, replacing the user's earlier one of the same mechanism. */
  putScramCredential(credential: ScramCredential): Promise<void>;
  /** Removes the user's credential of the mechanism; resolves false when there was none. */
  deleteScramCredential(user: string, mechanism: ScramCredential['mechanism']): Promise<boolean>;

  listAcls(): Promise<AclBinding[]>;
  /** Adds bindings; adding one that is stored already changes nothing. */
  addAcls(bindings: readonly AclBinding[]): Promise<void>;
  /** Removes exactly these bindings (those not stored are ignored). */
  deleteAcls(bindings: readonly AclBinding[]): Promise<void>;

  listClientQuotas(): Promise<ClientQuota[]>;
  /**
   * Sets the quota values of an entity: each key given with a number is set, each given with null is
   * removed; an entity left without values is removed.
   */
  alterClientQuota(
    entity: Readonly<Record<string, string | null>>,
    changes: Readonly<Record<string, number | null>>,
  ): Promise<void>;
}
