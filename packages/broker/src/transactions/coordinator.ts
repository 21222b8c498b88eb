/**
 * The transaction coordinator (KIP-98): one state per transactional id, kept in the storage's
 * TransactionStore and written before any change counts, as Kafka appends to __transaction_state
 * before it completes a transition. The rules are in ./transitions.ts; this class serializes the
 * requests of each transactional id, persists, writes the markers (./markers.ts) and runs the
 * timeouts. Keyed by transactional id, so that coordination can later be spread over brokers by
 * slot, as groups are.
 */
import { ErrorCode } from '@kch/protocol';
import {
  type CommittedOffset,
  KeyedTurns,
  type Storage,
  type TopicPartition,
  type TransactionMetadata,
  type TransactionStore,
} from '@kch/storage';
import type { EventEmitter } from 'eventemitter3';
import type { BrokerEvents } from '../events.js';
import type { Logger } from '../logger.js';
import type { BrokerConfig } from '../options.js';
import { type MarkerTargets, MarkerWriter } from './markers.js';
import {
  addToTransaction,
  completeTransaction,
  EPOCH_EXHAUSTED,
  endTransaction,
  fenceAndAbort,
  initProducer,
  newTransaction,
  type Transition,
  verifyPartition,
} from './transitions.js';

/** How long EndTxn waits for the markers before it answers anyway (see `endTxn`). */
export const MARKER_WAIT_MS = 5_000;

export type TransactionConfig = Pick<
  BrokerConfig,
  'transactionMaxTimeoutMs' | 'transactionAbortTimedOutIntervalMs' | 'transactionalIdExpirationMs'
>;

export interface TransactionCoordinatorOptions {
  config: TransactionConfig;
  storage: Storage;
  store: TransactionStore;
  logger: Logger;
  events: EventEmitter<BrokerEvents>;
  targets: MarkerTargets;
}

/** The answer to InitProducerId. */
export interface InitResult {
  errorCode: number;
  producerId: number;
  producerEpoch: number;
}

export class TransactionCoordinator {
  private readonly states = new Map<string, TransactionMetadata>();
  /** The requests of each transactional id run one after the other (Kafka's pending transition). */
  private readonly turns = new KeyedTurns<string>();
  private readonly markers: MarkerWriter;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly o: TransactionCoordinatorOptions) {
    this.markers = new MarkerWriter(o.targets, o.logger, (id) => this.completeAfterMarkers(id));
  }

  /**
   * Loads every transactional id's state; a transaction whose end was decided (PrepareCommit,
   * PrepareAbort) has its markers written again, so that an acknowledged commit completes after a
   * restart. Open transactions stay open until their producer ends them or they time out.
   */
  async start(): Promise<void> {
    for (const m of await this.o.store.list()) this.states.set(m.transactionalId, m);
    for (const m of this.states.values())
      if (m.state === 'PrepareCommit' || m.state === 'PrepareAbort') void this.markers.write(m);
    this.timer = setInterval(() => void this.sweep(), this.o.config.transactionAbortTimedOutIntervalMs);
    this.timer.unref?.();
    this.o.logger.info('transaction coordinator started', { transactionalIds: this.states.size });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.markers.stop();
  }

  /** A copy of a transactional id's state, or undefined. */
  get(transactionalId: string): TransactionMetadata | undefined {
    const m = this.states.get(transactionalId);
    return m && structuredClone(m);
  }

  all(): TransactionMetadata[] {
    return [...this.states.values()].map((m) => structuredClone(m));
  }

  /** How many transactions are open (Ongoing) now: read at every metrics scrape, without copies. */
  openCount(): number {
    let n = 0;
    for (const m of this.states.values()) if (m.state === 'Ongoing') n++;
    return n;
  }

  /** The transactional id whose open (Ongoing) transaction is the producer's, if any. */
  openTransactionOf(producerId: number): string | undefined {
    for (const m of this.states.values())
      if (m.producerId === producerId && m.state === 'Ongoing') return m.transactionalId;
    return undefined;
  }

  /** InitProducerId with a transactional id (KIP-98, KIP-360). */
  initProducerId(
    transactionalId: string,
    timeoutMs: number,
    producerId: number,
    producerEpoch: number,
  ): Promise<InitResult> {
    const refused = (errorCode: number): InitResult => ({ errorCode, producerId: -1, producerEpoch: -1 });
    if (timeoutMs <= 0 || timeoutMs > this.o.config.transactionMaxTimeoutMs)
      return Promise.resolve(refused(ErrorCode.INVALID_TRANSACTION_TIMEOUT));
    return this.serialized(transactionalId, async () => {
      const now = Date.now();
      let m = this.states.get(transactionalId);
      if (!m) m = newTransaction(transactionalId, await this.o.storage.allocateProducerId(), timeoutMs, now);
      if (m.state === 'Ongoing') {
        // Another producer with this id while a transaction is open: the open one is aborted at a new
        // epoch (which fences its producer); this one retries and gets the epoch after it.
        const expected = producerId >= 0;
        if (expected && producerId !== m.producerId) return refused(ErrorCode.PRODUCER_FENCED);
        const fenced = fenceAndAbort(m, now);
        const error = await this.persist(fenced);
        if (error !== ErrorCode.NONE) return refused(error);
        void this.ended(fenced, 'fenced');
        return refused(ErrorCode.CONCURRENT_TRANSACTIONS);
      }
      // An exhausted epoch moves the transactional id to a new producer id (taken ahead: rules are sync).
      const known = m;
      const spare = known.producerEpoch >= EPOCH_EXHAUSTED ? await this.o.storage.allocateProducerId() : -1;
      const t = initProducer(known, { timeoutMs, producerId, producerEpoch, now }, () => spare);
      if ('error' in t) return refused(t.error);
      const stored = t.next ?? known;
      if (t.next || !this.states.has(transactionalId)) {
        const error = await this.persist(stored);
        if (error !== ErrorCode.NONE) return refused(error);
      }
      return {
        errorCode: ErrorCode.NONE,
        producerId: stored.producerId,
        producerEpoch: stored.producerEpoch,
      };
    });
  }

  /** AddPartitionsToTxn: NONE once the partitions are part of the transaction (stored). */
  addPartitions(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    partitions: readonly TopicPartition[],
  ): Promise<number> {
    return this.change(transactionalId, (m) =>
      addToTransaction(m, producerId, producerEpoch, { partitions }, Date.now()),
    );
  }

  /** AddOffsetsToTxn: the group's offsets may then be sent with TxnOffsetCommit. */
  addGroup(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    group: string,
  ): Promise<number> {
    return this.change(transactionalId, (m) =>
      addToTransaction(m, producerId, producerEpoch, { group }, Date.now()),
    );
  }

  /** Whether a transactional Produce may write to `tp` (./transitions.ts verifyPartition). */
  verify(transactionalId: string, producerId: number, producerEpoch: number, tp: TopicPartition): number {
    return verifyPartition(this.states.get(transactionalId), producerId, producerEpoch, tp);
  }

  /**
   * TxnOffsetCommit, after the group's own checks: the offsets become pending in the transaction,
   * visible to OffsetFetch only once it commits. `notAdded` is the error for a group the transaction
   * does not hold (by request version: TRANSACTION_ABORTABLE from v4, INVALID_TXN_STATE before).
   */
  addOffsets(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    group: string,
    offsets: readonly CommittedOffset[],
    notAdded: number,
  ): Promise<number> {
    return this.change(transactionalId, (m) => {
      if (!m || m.producerId !== producerId) return { error: ErrorCode.INVALID_PRODUCER_ID_MAPPING };
      if (m.producerEpoch !== producerEpoch) return { error: ErrorCode.INVALID_PRODUCER_EPOCH };
      const held = m.groups.find((g) => g.group === group);
      if (m.state !== 'Ongoing' || !held) return { error: notAdded };
      const byPartition = new Map(held.offsets.map((o) => [`${o.topic}\u0000${o.partition}`, o]));
      for (const o of offsets) byPartition.set(`${o.topic}\u0000${o.partition}`, o);
      const groups = m.groups.map((g) => (g === held ? { group, offsets: [...byPartition.values()] } : g));
      return { next: { ...m, groups, updatedAt: Date.now() } };
    });
  }

  /**
   * EndTxn: the decision (PrepareCommit, PrepareAbort) is stored, then the markers are written
   * (CONCURRENT_TRANSACTIONS meanwhile). Kafka answers once the decision is stored; kch answers once
   * the markers are written too, so that a committed transaction's records are rows of its topics'
   * tables when the producer hears of the commit, as a plain record is when it is acknowledged. A
   * partition slower than MARKER_WAIT_MS does not hold the answer longer: it is then Kafka's (the
   * decision is stored, and the markers follow).
   */
  async endTxn(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    commit: boolean,
  ): Promise<number> {
    let written: Promise<void> | undefined;
    const error = await this.serialized(transactionalId, async () => {
      const t = endTransaction(
        this.states.get(transactionalId),
        producerId,
        producerEpoch,
        commit,
        true,
        Date.now(),
      );
      if ('error' in t) return t.error;
      if (!t.next) return ErrorCode.NONE;
      const stored = await this.persist(t.next);
      if (stored === ErrorCode.NONE) written = this.ended(t.next, 'client');
      return stored;
    });
    // Outside the transactional id's turn: the markers' completion takes it.
    if (written) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([written, new Promise((resolve) => (timer = setTimeout(resolve, MARKER_WAIT_MS)))]);
      clearTimeout(timer);
    }
    return error;
  }

  /**
   * Aborts a transaction the coordinator ends itself (a timeout, an operator's abort): the producer
   * is fenced at a new epoch, then the ABORT markers are written.
   */
  abort(transactionalId: string, reason: 'timeout' | 'admin'): Promise<number> {
    return this.serialized(transactionalId, async () => {
      const m = this.states.get(transactionalId);
      if (m?.state !== 'Ongoing') return ErrorCode.INVALID_TXN_STATE;
      const fenced = fenceAndAbort(m, Date.now());
      const error = await this.persist(fenced);
      if (error === ErrorCode.NONE) void this.ended(fenced, reason);
      return error;
    });
  }

  /**
   * Whether a transaction holds offsets of `group` for the partition that it has not committed yet:
   * OffsetFetch with requireStable answers UNSTABLE_OFFSET_COMMIT for it (KIP-447).
   */
  hasPendingOffsets(group: string, topic: string, partition: number): boolean {
    for (const m of this.states.values()) {
      if (m.state === 'Empty' || m.state === 'CompleteCommit' || m.state === 'CompleteAbort') continue;
      for (const g of m.groups)
        if (g.group === group && g.offsets.some((o) => o.topic === topic && o.partition === partition))
          return true;
    }
    return false;
  }

  /** Runs a change that either fails with an error code or stores the next state. */
  private change(
    transactionalId: string,
    f: (m: TransactionMetadata | undefined) => Transition,
  ): Promise<number> {
    return this.serialized(transactionalId, async () => {
      const t = f(this.states.get(transactionalId));
      if ('error' in t) return t.error;
      return t.next ? this.persist(t.next) : ErrorCode.NONE;
    });
  }

  /** Stores a state, then makes it current; a storage failure leaves the state as it was. */
  private async persist(next: TransactionMetadata): Promise<number> {
    if (this.closed) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    try {
      await this.o.store.put(next);
    } catch (e) {
      this.o.logger.warn('transaction state not stored', { transactionalId: next.transactionalId, error: e });
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    this.states.set(next.transactionalId, next);
    return ErrorCode.NONE;
  }

  /** A transaction whose end was decided: its markers go out now; resolves once they are written. */
  private ended(m: TransactionMetadata, reason: 'client' | 'fenced' | 'timeout' | 'admin'): Promise<void> {
    this.o.events.emit('transaction', {
      transactionalId: m.transactionalId,
      producerId: m.producerId,
      outcome: m.state === 'PrepareCommit' ? 'commit' : 'abort',
      reason,
    });
    return this.markers.write(m);
  }

  /** Every marker of the transaction is written: Complete{Commit,Abort}, stored (retried until it is). */
  private completeAfterMarkers(transactionalId: string): Promise<boolean> {
    return this.serialized(transactionalId, async () => {
      const m = this.states.get(transactionalId);
      if (!m || (m.state !== 'PrepareCommit' && m.state !== 'PrepareAbort')) return true;
      return (await this.persist(completeTransaction(m, Date.now()))) === ErrorCode.NONE;
    });
  }

  /** Aborts transactions past their timeout, and forgets transactional ids idle past their expiration. */
  private async sweep(): Promise<void> {
    const now = Date.now();
    for (const m of [...this.states.values()]) {
      if (m.state === 'Ongoing' && m.startedAt >= 0 && m.startedAt + m.timeoutMs < now) {
        this.o.logger.info('transaction timed out, aborting', {
          transactionalId: m.transactionalId,
          producerId: m.producerId,
          timeoutMs: m.timeoutMs,
        });
        await this.abort(m.transactionalId, 'timeout');
      } else if (
        (m.state === 'Empty' || m.state === 'CompleteCommit' || m.state === 'CompleteAbort') &&
        m.updatedAt + this.o.config.transactionalIdExpirationMs < now
      ) {
        await this.serialized(m.transactionalId, async () => {
          if (this.states.get(m.transactionalId) !== m) return;
          await this.o.store.remove(m.transactionalId);
          this.states.delete(m.transactionalId);
        }).catch((e: unknown) =>
          this.o.logger.warn('expired transactional id not removed', {
            transactionalId: m.transactionalId,
            error: e,
          }),
        );
      }
    }
  }

  private serialized<T>(transactionalId: string, f: () => Promise<T>): Promise<T> {
    return this.turns.run(transactionalId, f);
  }
}
