/**
 * One partition as the leader sees it: offsets are assigned here, densely and in order, and the
 * batches go to storage as one write per drain of the append queue (group commit). The high watermark
 * moves only when storage has accepted the write, so an acknowledged record is durable and a failed
 * write leaves no gap: its offsets are handed out again.
 */
import {
  assignOffsets,
  ControlRecordType,
  ErrorCode,
  encodeControlBatch,
  KafkaProtocolError,
  type RecordBatchHeader,
  readBatchHeader,
} from '@kch/protocol';
import {
  type CompactionRequest,
  type CompactionResult,
  earlierAppendRejected,
  InFlightAppends,
  isStaged,
  markerType,
  type OpenTransaction,
  type PartitionLeadership,
  type PartitionSnapshot,
  producerBatchInfo,
  type Storage,
  StorageError,
  type StoredBatch,
} from '@kch/storage';
import type { LeaseCheck } from '../cluster/membership.js';
import { ProducerStateTable, type SequenceCheck } from './producer-state.js';
import { DEFAULT_MAX_PENDING_STORAGE_BYTES, StorageBacklog } from './storage-backlog.js';
import type { TailCache } from './tail-cache.js';

/**
 * A validated batch from a Produce request, offsets not yet assigned: the batch as it will be stored,
 * with `lastOffsetDelta` in place of its offsets. It takes offsets base..base+lastOffsetDelta,
 * whatever its `recordCount` (fewer when records were dead-lettered: their offsets stay holes).
 */
export type IncomingBatch = Omit<StoredBatch, 'baseOffset' | 'lastOffset'> & { lastOffsetDelta: number };

/** The fields the partition log needs of a batch, from its header (read by the caller or here). */
export function incomingBatch(
  bytes: Buffer,
  header: RecordBatchHeader = readBatchHeader(bytes),
): IncomingBatch {
  return {
    bytes,
    lastOffsetDelta: header.lastOffsetDelta,
    recordCount: header.recordCount,
    baseTimestamp: Number(header.baseTimestamp),
    maxTimestamp: Number(header.maxTimestamp),
    producerId: Number(header.producerId),
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    isTransactional: header.isTransactional,
    isControl: header.isControl,
  };
}

export interface AppendResult {
  baseOffset: number;
  /** Records appended (0 for a retried duplicate). */
  recordCount: number;
  /** Set for a retry of a batch already written: nothing was appended this time. */
  duplicate?: boolean;
  /** -1 unless the topic uses LogAppendTime. */
  logAppendTime: number;
  logStartOffset: number;
}

interface PendingAppend {
  /** Batches still being validated (decompression may be async) or ready. */
  prepared: Promise<IncomingBatch[]> | IncomingBatch[];
  /** A transaction marker (appendMarker): stored alone, after every earlier append settled. */
  marker?: boolean;
  logAppendTime: boolean;
  /** Assigned in commit(). */
  baseOffset: number;
  recordCount: number;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

export interface ReadResult {
  batches: StoredBatch[];
  highWatermark: number;
  /** The first offset of the oldest open transaction, or the high watermark when none is open. */
  lastStableOffset: number;
  logStartOffset: number;
}

/** Which records a read may return (a Fetch's IsolationLevel). */
export type Isolation = 'uncommitted' | 'committed';

/**
 * The leader epoch of a partition served by one broker: it never changes. With several brokers each
 * leadership raises it (./cluster/leadership.ts).
 */
export const LEADER_EPOCH = 0;

/** Kafka's answer to a client that asked a broker which does not lead the partition (any more). */
export function notLeader(topic: string, partition: number): KafkaProtocolError {
  return new KafkaProtocolError(
    'NOT_LEADER_OR_FOLLOWER',
    `this broker does not lead ${topic}-${partition} (any more): refresh metadata and ask the leader`,
  );
}

export class PartitionLog {
  logStartOffset = 0;
  readonly producers = new ProducerStateTable();
  /** Batches kept in memory, newest last, covering the end of the log. */
  readonly tail: StoredBatch[] = [];
  private opened: Promise<void> | undefined;
  private readonly queue: PendingAppend[] = [];
  private draining = false;
  /**
   * Appends handed to storage and not settled yet (more than one when storage allows), each with the
   * producers' state including its batches (a working copy over the one before it). Its stored end
   * is the high watermark.
   */
  private appends = new InFlightAppends<ProducerStateTable>(0);
  private readonly listeners = new Set<() => void>();
  /** Transactions open in this partition, by producer id: stored batches no marker has ended yet. */
  private readonly openTxns = new Map<number, OpenTransaction>();
  /** Set when the topic is deleted: queued and future appends fail. */
  private deleted = false;
  /** The leader epoch appended batches are stamped with; it grows with each leadership (many brokers). */
  leaderEpoch = LEADER_EPOCH;
  /**
   * Set while several brokers share the data: the leadership this broker opened the partition with,
   * or null while another broker leads it. Undefined with one broker, which leads every partition.
   */
  private leadership: PartitionLeadership | null | undefined;
  private lease: LeaseCheck | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly storage: Storage,
    private readonly cache: TailCache,
    /**
     * The broker's bound on bytes handed to storage and not stored yet (./storage-backlog.ts), shared
     * by its partitions (TopicManager); a log made alone has one of its own.
     */
    private readonly backlog = new StorageBacklog(DEFAULT_MAX_PENDING_STORAGE_BYTES),
  ) {}

  /** Recovers offsets and producer state from storage; idempotent, retried after a failure. */
  open(): Promise<void> {
    // Another broker leads it: what this one would read could be stale the moment it is read.
    if (this.leadership === null) return Promise.reject(notLeader(this.topic, this.partition));
    if (!this.opened) {
      const tp = { topic: this.topic, partition: this.partition };
      this.opened = this.storage.openPartition(tp, this.leadership ?? undefined).then(
        (s: PartitionSnapshot) => {
          this.logStartOffset = s.logStartOffset;
          this.appends = new InFlightAppends(s.nextOffset);
          this.producers.load(s.producerBatches);
          this.openTxns.clear();
          for (const t of s.openTransactions ?? []) this.openTxns.set(t.producerId, t);
        },
        (e: unknown) => {
          this.opened = undefined;
          throw e;
        },
      );
    }
    return this.opened;
  }

  /** Whether this broker serves the partition: always with one broker; with several, while it leads it. */
  get isLeader(): boolean {
    return this.leadership !== null && !this.deleted;
  }

  /** Marks a new log of a partition whose leadership is decided among several brokers: not served yet. */
  awaitLeadership(): void {
    this.leadership = null;
  }

  /**
   * Makes this broker the partition's leader in `leadership.epoch` (many brokers): the state cached
   * from an earlier leadership goes, the partition is opened again with its fences, and the offset it
   * resumes at (the start of the epoch) is returned. Appends are acknowledged only while `lease` holds.
   */
  async lead(leadership: PartitionLeadership, lease: LeaseCheck): Promise<number> {
    await this.appends.settled();
    this.cache.drop(this);
    this.opened = undefined;
    this.leadership = leadership;
    this.leaderEpoch = leadership.epoch;
    this.lease = lease;
    try {
      await this.open();
    } catch (e) {
      this.leadership = null;
      throw e;
    }
    return this.nextOffset;
  }

  /**
   * Stops serving the partition (another broker leads it, or is to): queued appends fail with
   * NOT_LEADER_OR_FOLLOWER, and this resolves once the appends handed to storage have settled, so the
   * next leader reads a partition nobody here still writes to.
   */
  async resign(): Promise<void> {
    this.leadership = null;
    const e = notLeader(this.topic, this.partition);
    for (const p of this.queue.splice(0)) p.reject(e);
    await this.appends.settled();
    this.cache.drop(this);
    this.opened = undefined;
    // Long polls waiting on this partition answer now (with the error, as the partition moved).
    for (const l of [...this.listeners]) l();
  }

  /** The offset after the last stored record: the high watermark, as there is one replica. */
  get nextOffset(): number {
    return this.appends.storedEnd;
  }

  get highWatermark(): number {
    return this.appends.storedEnd;
  }

  /**
   * The last stable offset: the first offset of the oldest transaction still open here, or the high
   * watermark when none is (Kafka's firstUnstableOffset rule). read_committed consumers stop before it.
   */
  get lastStableOffset(): number {
    let lso = this.appends.storedEnd;
    for (const t of this.openTxns.values()) if (t.firstOffset < lso) lso = t.firstOffset;
    return lso;
  }

  /** The transactions open here, oldest first (DescribeProducers' CurrentTxnStartOffset). */
  openTransactions(): OpenTransaction[] {
    return [...this.openTxns.values()].sort((a, b) => a.firstOffset - b.firstOffset);
  }

  /**
   * Writes a COMMIT or ABORT marker of a producer's transaction (the transaction coordinator's
   * WriteTxnMarkers): a control batch with its own offset, after every append queued before it. An
   * ABORT drops the transaction's batches from reads (storage.ts: an aborted transaction's offsets
   * become holes). Resolves once the marker is stored.
   */
  async appendMarker(
    producerId: number,
    producerEpoch: number,
    commit: boolean,
    coordinatorEpoch: number,
  ): Promise<void> {
    const bytes = encodeControlBatch({
      producerId: BigInt(producerId),
      producerEpoch,
      type: commit ? ControlRecordType.Commit : ControlRecordType.Abort,
      coordinatorEpoch,
      timestamp: BigInt(Date.now()),
    });
    await this.enqueue([incomingBatch(bytes)], false, true);
  }

  /**
   * Queues batches for appending. Called synchronously in request order, so appends of one connection
   * keep their order even when several requests are in flight; `prepared` may still be validating, and
   * a rejection of it fails this append alone.
   */
  append(
    prepared: Promise<IncomingBatch[]> | IncomingBatch[],
    logAppendTime: boolean,
  ): Promise<AppendResult> {
    // A validation failure is handled when the drain reaches this append, which may be after an
    // earlier write finishes: mark it handled now so it is not reported as an unhandled rejection.
    if (prepared instanceof Promise) prepared.catch(() => undefined);
    return this.enqueue(prepared, logAppendTime, false);
  }

  /** Queues an append (or a marker) for the drain; refused at once where another broker leads. */
  private enqueue(
    prepared: Promise<IncomingBatch[]> | IncomingBatch[],
    logAppendTime: boolean,
    marker: boolean,
  ): Promise<AppendResult> {
    if (this.leadership === null) return Promise.reject(notLeader(this.topic, this.partition));
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ prepared, marker, logAppendTime, baseOffset: -1, recordCount: 0, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        try {
          await this.open();
        } catch (e) {
          for (const p of this.queue.splice(0)) p.reject(e);
          break;
        }
        // A marker goes to storage alone, once everything before it is stored: the storage ends the
        // transaction's staged batches (storage.ts), so they must all have landed.
        const markerAt = this.queue.findIndex((p) => p.marker);
        const pending = this.queue.splice(
          0,
          markerAt === 0 ? 1 : markerAt < 0 ? this.queue.length : markerAt,
        );
        if (pending[0]!.marker) await this.appends.settled();
        // Validation (decompression) may be async: wait for it before offsets are assigned, so that
        // nothing below changes while they are.
        const prepared = await Promise.all(
          pending.map((p) =>
            Promise.resolve(p.prepared).then(
              (batches) => batches,
              (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
            ),
          ),
        );
        // Appends of this partition still being stored: at most `appendsInFlight` of them, and none
        // after a failure, until every one of them has settled (they fail too, and offsets go back).
        const max = Math.max(1, this.storage.appendsInFlight ?? 1);
        if (!this.appends.accepts(max)) await this.appends.whenAccepting(max);
        // Storage holds the broker's bound of pending bytes: wait until it stores some. The check and
        // the hand-over below are in one turn, so partitions woken together cannot both pass it.
        while (this.backlog.room === 0) await this.backlog.released();
        const taken = this.fitting(pending, prepared);
        if (taken < pending.length) {
          // What does not fit goes back to the head of the queue, validated, for the next round.
          this.queue.unshift(...pending.splice(taken));
          prepared.length = taken;
        }
        const stored = this.commit(pending, prepared);
        if (max === 1) await stored;
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * How many of the appends, from the first, fit in the room the storage backlog has left: at least
   * one, so that the bound is passed by one append at most.
   */
  private fitting(pending: PendingAppend[], prepared: (IncomingBatch[] | Error)[]): number {
    let room = this.backlog.room;
    for (const [i, batches] of prepared.entries()) {
      if (batches instanceof Error) continue;
      for (const b of batches) room -= b.bytes.length;
      if (room < 0) return Math.max(1, i);
    }
    return pending.length;
  }

  /**
   * Assigns offsets to `pending` (after what earlier appends still being stored took), hands them to
   * storage as one append and acknowledges once it is stored. Synchronous up to the storage call.
   */
  private commit(pending: PendingAppend[], prepared: (IncomingBatch[] | Error)[]): Promise<unknown> {
    if (this.deleted) {
      const e = new KafkaProtocolError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${this.topic} was deleted`);
      for (const p of pending) p.reject(e);
      return Promise.resolve();
    }
    if (this.leadership === null) {
      const e = notLeader(this.topic, this.partition);
      for (const p of pending) p.reject(e);
      return Promise.resolve();
    }
    const appends = this.appends;
    const lease = this.lease;
    const overlay = (appends.newest() ?? this.producers).overlay();
    const now = Date.now();
    let next = appends.acceptedEnd;
    const toStore: StoredBatch[] = [];
    const outcomes: (AppendResult | Error | null)[] = [];
    for (const [i, p] of pending.entries()) {
      const batches = prepared[i]!;
      if (batches instanceof Error) {
        outcomes.push(batches);
        continue;
      }
      const verdict = p.marker ? null : this.checkProducers(batches, overlay);
      if (verdict) {
        outcomes.push(verdict);
        continue;
      }
      const baseOffset = next;
      for (const b of batches) {
        assignOffsets(b.bytes, {
          baseOffset: BigInt(next),
          partitionLeaderEpoch: this.leaderEpoch,
          logAppendTime: p.logAppendTime ? BigInt(now) : undefined,
        });
        const maxTimestamp = p.logAppendTime ? now : b.maxTimestamp;
        const stored: StoredBatch = {
          baseOffset: next,
          lastOffset: next + b.lastOffsetDelta,
          recordCount: b.recordCount,
          baseTimestamp: b.baseTimestamp,
          maxTimestamp,
          producerId: b.producerId,
          producerEpoch: b.producerEpoch,
          baseSequence: b.baseSequence,
          isTransactional: b.isTransactional,
          isControl: b.isControl,
          bytes: b.bytes,
        };
        if (p.marker) overlay.recordMarker(b.producerId, b.producerEpoch);
        else if (b.producerId >= 0) overlay.record(producerBatchInfo(stored));
        toStore.push(stored);
        p.recordCount += b.recordCount;
        next = stored.lastOffset + 1;
      }
      outcomes.push(null);
      p.baseOffset = baseOffset;
    }
    const acknowledge = (err: Error | null) => {
      for (const [i, p] of pending.entries()) {
        settle(
          p,
          outcomes[i] ??
            err ?? {
              baseOffset: p.baseOffset,
              recordCount: p.recordCount,
              logAppendTime: p.logAppendTime ? now : -1,
              logStartOffset: this.logStartOffset,
            },
        );
      }
    };
    // Nothing to store (errors and duplicates only): answered once what is in flight has settled, so
    // that answers keep the order of the requests.
    if (toStore.length === 0) return appends.afterSettled(() => acknowledge(null));
    // Stored, but counted so only while the lease holds: a broker that may have been replaced must not
    // confirm what the next leader might hide (docs/architecture.md, "Many brokers"). The storage
    // asks before the append counts, and removes the rows when the answer is no.
    let leaseChecked = false;
    const options = lease && {
      confirm: () => {
        leaseChecked = true;
        return this.stillLeading(lease);
      },
    };
    let write: Promise<void>;
    let bytes = 0;
    for (const b of toStore) bytes += b.bytes.length;
    this.backlog.take(bytes);
    try {
      write = this.storage.append({ topic: this.topic, partition: this.partition }, toStore, options);
    } catch (e) {
      write = Promise.reject(e);
    }
    const release = () => this.backlog.release(bytes);
    write.then(release, release);
    // Outcomes are taken in the order the appends were handed in, whatever order storage settles them.
    const stored = appends.add(
      next,
      write,
      {
        stored: () => {
          this.producers.merge(overlay);
          // The next append's working copy looked through this one; the merged table now says the same.
          appends.oldest()?.rebase(this.producers);
          this.cache.add(this, toStore);
          this.noteTransactions(toStore);
          // A storage that did not run `confirm` (written before it existed, or one that cannot take
          // the append back: see AppendOptions): the lease is checked here, and a refusal leaves the
          // rows in place.
          if (!lease || leaseChecked) acknowledge(null);
          else void this.stillLeading(lease).then(() => acknowledge(null), acknowledge);
          for (const l of [...this.listeners]) l();
        },
        // Nothing of it was stored (and nothing after it will be): the offsets will be assigned again,
        // and the producers' state is unchanged.
        rejected: (error) => {
          const e = storageFailure(
            error ?? earlierAppendRejected({ topic: this.topic, partition: this.partition }),
            this.topic,
            this.partition,
          );
          acknowledge(e);
          return e;
        },
      },
      overlay,
    );
    // Answered through `acknowledge`; the drain only waits for it.
    return stored.catch(() => undefined);
  }

  /**
   * Resolves while `lease` holds, else rejects with NOT_LEADER_OR_FOLLOWER: past the local deadline
   * (renewals slowed down) the store is asked first.
   */
  private async stillLeading(lease: LeaseCheck): Promise<void> {
    if (lease.held() || (await lease.confirm().catch(() => false))) return;
    throw notLeader(this.topic, this.partition);
  }

  /**
   * Opens and ends the transactions of stored batches. An ABORT took its transaction's batches out of
   * storage: the cached ones go too (the whole cached tail; later reads refill it from storage).
   */
  private noteTransactions(stored: readonly StoredBatch[]): void {
    for (const b of stored) {
      if (isStaged(b)) {
        if (!this.openTxns.has(b.producerId))
          this.openTxns.set(b.producerId, {
            producerId: b.producerId,
            producerEpoch: b.producerEpoch,
            firstOffset: b.baseOffset,
          });
      } else if (b.isControl && b.isTransactional) {
        const opened = this.openTxns.delete(b.producerId);
        if (opened && markerType(b) === 'abort') this.cache.drop(this);
      }
    }
  }

  /** Null when every batch may be appended; otherwise the duplicate's result or the error. */
  private checkProducers(batches: IncomingBatch[], overlay: ProducerStateTable): AppendResult | Error | null {
    for (const b of batches) {
      if (b.producerId < 0) continue;
      // Kafka's ProducerAppendInfo: a producer inside a transaction here writes transactionally.
      if (!b.isTransactional && this.openTxns.has(b.producerId)) {
        return new KafkaProtocolError(
          ErrorCode.INVALID_TXN_STATE,
          `producer ${b.producerId} has a transaction open in ${this.topic}-${this.partition}: expected a transactional batch`,
        );
      }
      const check: SequenceCheck = overlay.check({
        producerId: b.producerId,
        producerEpoch: b.producerEpoch,
        baseSequence: b.baseSequence,
        lastSequence: (b.baseSequence + b.lastOffsetDelta) % 2 ** 31,
      });
      if (check.kind === 'error') return new KafkaProtocolError(check.errorCode, check.message);
      if (check.kind === 'duplicate') {
        // A retry of a batch already written: acknowledged with the original offset, not appended again.
        return {
          baseOffset: check.original.baseOffset,
          recordCount: 0,
          duplicate: true,
          logAppendTime: -1,
          logStartOffset: this.logStartOffset,
        };
      }
    }
    return null;
  }

  /**
   * Batches from `offset` on, at most about `maxBytes` (the first batch always whole), up to the high
   * watermark, or for `committed` reads up to the last stable offset.
   */
  async read(offset: number, maxBytes: number, isolation: Isolation = 'uncommitted'): Promise<ReadResult> {
    await this.open();
    const hw = this.nextOffset;
    const lso = this.lastStableOffset;
    const end = isolation === 'committed' ? lso : hw;
    if (offset < this.logStartOffset || offset > hw) {
      throw new KafkaProtocolError(
        'OFFSET_OUT_OF_RANGE',
        `offset ${offset} is outside ${this.topic}-${this.partition}, which holds ${this.logStartOffset} to ${hw}`,
      );
    }
    let batches: StoredBatch[] = [];
    if (offset < end) {
      const first = this.tail[0];
      if (first !== undefined && first.baseOffset <= offset) batches = sliceTail(this.tail, offset, maxBytes);
      else {
        try {
          batches = await this.storage.read(
            { topic: this.topic, partition: this.partition },
            offset,
            maxBytes,
          );
        } catch (e) {
          throw storageFailure(e, this.topic, this.partition);
        }
        // A read may race an append; never show what is above the high watermark we answer with.
        batches = batches.filter((b) => b.baseOffset < end);
        // Nothing stored at the offset asked for: retention may have removed it since we last looked.
        if ((batches[0]?.baseOffset ?? end) > offset && (await this.refreshLogStart()) > offset) {
          throw new KafkaProtocolError(
            'OFFSET_OUT_OF_RANGE',
            `offset ${offset} is before the log start ${this.logStartOffset} of ${this.topic}-${this.partition}: retention removed it`,
          );
        }
      }
    }
    // A transaction's batches start at its first offset, so the stable end falls between batches.
    if (end < hw && batches.length > 0 && batches[batches.length - 1]!.baseOffset >= end)
      batches = batches.filter((b) => b.baseOffset < end);
    return { batches, highWatermark: hw, lastStableOffset: lso, logStartOffset: this.logStartOffset };
  }

  /** Asks storage where the log starts now (retention works in the background) and returns it. */
  async refreshLogStart(): Promise<number> {
    await this.open();
    let start: number;
    try {
      start = await this.storage.currentLogStartOffset({ topic: this.topic, partition: this.partition });
    } catch (e) {
      throw storageFailure(e, this.topic, this.partition);
    }
    if (start > this.logStartOffset) {
      this.logStartOffset = Math.min(start, this.nextOffset);
      this.cache.trimBefore(this, this.logStartOffset);
    }
    return this.logStartOffset;
  }

  /**
   * Compacts the log (Storage.compact; docs/compaction.md) up to its last stable offset: kch has no
   * segments, and an open transaction's records are not cleaned, as Kafka cleans only below the LSO.
   * The cached tail over what changed goes, so reads come from storage, holes and all. Null where
   * the storage does not compact, or another broker leads the partition.
   */
  async compact(request: Omit<CompactionRequest, 'endOffset'>): Promise<CompactionResult | null> {
    if (!this.storage.compact || !this.isLeader) return null;
    await this.open();
    const tp = { topic: this.topic, partition: this.partition };
    let result: CompactionResult;
    try {
      result = await this.storage.compact(tp, { ...request, endOffset: this.lastStableOffset });
    } catch (e) {
      throw storageFailure(e, this.topic, this.partition);
    }
    if (result.removed > 0) this.cache.trimStartingBefore(this, result.cleanedTo);
    return result;
  }

  /** Calls `listener` after every append; returns the function that stops it. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async deleteRecordsBefore(offset: number): Promise<number> {
    await this.open();
    const target = offset === -1 ? this.nextOffset : offset;
    if (target < 0 || target > this.nextOffset) {
      throw new KafkaProtocolError(
        'OFFSET_OUT_OF_RANGE',
        `cannot delete records before offset ${offset}: ${this.topic}-${this.partition} ends at ${this.nextOffset}`,
      );
    }
    try {
      this.logStartOffset = await this.storage.deleteRecordsBefore(
        { topic: this.topic, partition: this.partition },
        target,
      );
    } catch (e) {
      throw storageFailure(e, this.topic, this.partition);
    }
    this.cache.trimBefore(this, this.logStartOffset);
    return this.logStartOffset;
  }

  /** Marks the log deleted: later appends fail, and the cache lets go of it. */
  close(): void {
    this.deleted = true;
    this.cache.drop(this);
    for (const l of [...this.listeners]) l();
  }
}

function settle(p: PendingAppend, outcome: AppendResult | Error): void {
  if (outcome instanceof Error) p.reject(outcome);
  else p.resolve(outcome);
}

function sliceTail(tail: readonly StoredBatch[], offset: number, maxBytes: number): StoredBatch[] {
  let lo = 0;
  let hi = tail.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (tail[mid]!.lastOffset < offset) lo = mid + 1;
    else hi = mid;
  }
  const out: StoredBatch[] = [];
  let bytes = 0;
  for (let i = lo; i < tail.length; i++) {
    const b = tail[i]!;
    if (out.length > 0 && bytes + b.bytes.length > maxBytes) break;
    out.push(b);
    bytes += b.bytes.length;
  }
  return out;
}

/** Storage failures reach clients as Kafka errors: retriable ones as KAFKA_STORAGE_ERROR. */
export function storageFailure(e: unknown, topic: string, partition: number): KafkaProtocolError {
  if (e instanceof KafkaProtocolError) return e;
  if (e instanceof StorageError) {
    if (e.kind === 'UNKNOWN_TOPIC_OR_PARTITION')
      return new KafkaProtocolError('UNKNOWN_TOPIC_OR_PARTITION', e.message);
    if (e.kind === 'OFFSET_OUT_OF_RANGE') return new KafkaProtocolError('OFFSET_OUT_OF_RANGE', e.message);
    if (e.kind === 'FENCED') return new KafkaProtocolError('NOT_LEADER_OR_FOLLOWER', e.message);
    if (e.kind === 'INVALID_TOPIC')
      return new KafkaProtocolError('INVALID_TOPIC_EXCEPTION', e.message, { cause: e });
    if (!e.retriable) return new KafkaProtocolError('UNKNOWN_SERVER_ERROR', e.message, { cause: e });
    // A storage fault that may pass: the storage's message already says the client may retry.
    return new KafkaProtocolError(ErrorCode.KAFKA_STORAGE_ERROR, e.message, { cause: e });
  }
  // A storage that failed without saying how (not a StorageError): a storage fault all the same, and
  // retriable, so a producer keeps its records rather than dropping them.
  const message = e instanceof Error ? e.message : String(e);
  return new KafkaProtocolError(
    ErrorCode.KAFKA_STORAGE_ERROR,
    `storage failed for ${topic}${partition >= 0 ? `-${partition}` : ''}: ${message}`,
    { cause: e },
  );
}
