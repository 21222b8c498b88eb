/**
 * Where each partition starts and ends. Recovered with SQL on first use (the highest offset stored, or
 * the end checkpointed in `_kch_partitions` when the last records are gone), then kept in memory, as
 * the broker only appends through this storage; checkpointed on a timer and at close, so that offsets
 * are never handed out twice once TTL has removed every record. The start moves with DeleteRecords
 * (a marker in `_kch_partitions`) and with what TTL removed.
 *
 * Also the clean-up after a failed insert: rows it may have left (a network in between), in the
 * topic's table and in the side table of transactions, are deleted before anything else uses the
 * partition, so a rejected append never becomes visible; and, with many brokers, the removal of the
 * rows a partition's fences hide. Recovery includes the partition's transactions
 * (./transaction-ends.ts): their batches count for the end and the log start.
 */
import type { TopicPartition } from '../storage.js';
import type { Backend } from './backend.js';
import type { BoundTopics } from './bound-topics.js';
import type { MetadataStore } from './metadata-store.js';
import { deletesByRetention, retentionOf } from './schema.js';
import type { SideBatches } from './side-batches.js';
import { int } from './sql.js';
import {
  countRows,
  deleteRows,
  firstOffsetFrom,
  firstSideOffset,
  ownBatchesBefore,
  recoverPartition,
  rowsHiddenUnderFences,
  rowsOfEpochOrOlder,
  sideRowsAtOrAfter,
  sideRowsOfTopic,
} from './statements.js';
import type { TopicDefaults } from './topic-defaults.js';
import { fencesOf, type PartitionState, recoveredPartition, type TopicState } from './topic-state.js';
import type { TransactionEnds } from './transaction-ends.js';
import { TsvWriter } from './tsv.js';

/** The smaller of two offsets where -1 means none; -1 when both are. */
function earliest(a: number, b: number): number {
  if (a < 0) return b;
  return b < 0 ? a : Math.min(a, b);
}

/**
 * kch's own table of a topic that compacts and never deletes by time: rows it lacks went to
 * compaction, holes that do not move the log start. (A user's table is not compacted: its first row
 * is where it starts.)
 */
function compactsOnly(t: TopicState, defaults: TopicDefaults): boolean {
  return !t.bound && !deletesByRetention(defaults.effective(t.record.configs));
}

export class PartitionStates {
  constructor(
    private readonly backend: Backend,
    private readonly metadata: MetadataStore,
    private readonly bound: BoundTopics,
    private readonly side: SideBatches,
    private readonly transactions: TransactionEnds,
    private readonly defaults: TopicDefaults,
  ) {}

  /** The partition's state, recovered on first use after `prepare` (which makes sure the table exists). */
  get(t: TopicState, partition: number, prepare: () => Promise<void>): Promise<PartitionState> {
    let loading = t.partitions.get(partition);
    if (!loading) {
      loading = prepare().then(() => this.recover(t, partition));
      t.partitions.set(partition, loading);
      loading.catch(() => t.partitions.delete(partition));
    }
    return loading;
  }

  private async recover(t: TopicState, partition: number): Promise<PartitionState> {
    const { nextOffset, minOffset, marker, checkpointedEnd } = await this.readStored(t, partition);
    // Its transactions, with those a stopped broker left between marker and end finished first.
    const { index: side, firstCommitted } = await this.transactions.recover(t, partition, marker);
    // Staged batches hold the log start as records do (and those just committed are records now);
    // markers alone do not.
    const first = earliest(earliest(minOffset, side.firstPendingFrom(marker)), firstCommitted);
    // A topic that only compacts loses records to compaction alone, whose offsets are holes, not a
    // new start: only DeleteRecords moves it (docs/compaction.md).
    const logStartOffset = compactsOnly(t, this.defaults)
      ? Math.min(nextOffset, marker)
      : first < 0
        ? nextOffset
        : Math.min(nextOffset, Math.max(marker, first));
    return recoveredPartition(nextOffset, logStartOffset, marker, checkpointedEnd, side);
  }

  /**
   * The partition's end as stored now (Storage.partitionEnd), nothing cached: a partition another
   * broker leads. Under the fences this storage knows, which may be older than the leader's: a
   * deposed leader's late rows can then show an end past what the leader serves.
   */
  async readEnd(t: TopicState, partition: number): Promise<number> {
    return (await this.readStored(t, partition)).nextOffset;
  }

  private async readStored(t: TopicState, partition: number) {
    const rows = await this.bound.partitionRows(t, partition);
    const r = await this.backend.select(
      `recover partition ${t.record.name}-${partition}`,
      recoverPartition(
        t.table,
        rows,
        this.backend.database,
        t.record.topicId,
        partition,
        fencesOf(t, partition).starts,
      ),
      t,
    );
    const minOffset = r.i64();
    const maxOffset = r.i64();
    const marker = r.i64();
    const checkpointedEnd = r.i64();
    const lastSideOffset = r.i64();
    const nextOffset = Math.max(maxOffset + 1, checkpointedEnd, marker, lastSideOffset + 1);
    return { nextOffset, minOffset, marker, checkpointedEnd };
  }

  /** Deletes rows a failed insert may have left behind, before anything else uses the partition. */
  async cleanSuspects(t: TopicState, partition: number, p: PartitionState): Promise<void> {
    // Inserts of the partition still running would land after the DELETE: let them end first.
    await p.appends.settled();
    const from = p.suspectFrom!;
    const transport = this.backend.t;
    if (transport.killQuery) {
      for (const id of p.suspectQueries) await transport.killQuery(id).catch(() => {});
    }
    const rows = await this.bound.partitionRows(t, partition);
    // In a leadership, only rows of this leader's epoch or older: a leader that was replaced without
    // knowing it yet must never delete its successor's rows.
    const mine = rowsOfEpochOrOlder(rows, fencesOf(t, partition).latest?.epoch ?? null);
    const where = `${mine} AND ${rows.offset} >= ${int(from)}`;
    // On a replicated table a read may not see the insert yet (it waits for its quorum, or was written
    // on another replica): delete whatever is there then, as such rows would become visible.
    const unseen = this.backend.dialect.insertsMayLandLate;
    await this.removeRows(t, partition, where, 'the rows of a failed insert', unseen);
    // Its staged batches and markers too (the rows a failed commit copied before them stay: a commit
    // skips what the table holds, see ./transaction-ends.ts).
    const side = this.side.rowsOf(t.record.topicId, partition, fencesOf(t, partition).starts);
    await this.side.remove(
      `the transaction rows of a failed insert into ${t.record.name}-${partition}`,
      sideRowsAtOrAfter(side, from, fencesOf(t, partition).latest?.epoch ?? null),
      unseen,
    );
    if (p.suspectFrom === from) {
      p.suspectFrom = null;
      p.suspectQueries = [];
    }
  }

  /**
   * Deletes the rows of the topic's table (kch's own, or a bound one with `_leader_epoch`) that the
   * partition's fences hide: a deposed leader's late rows, never acknowledged, which reads leave out
   * but SQL over the table would see. Run by a new leader once it has fenced the partition. Best
   * effort: reads stay fenced whatever remains, and a row of a replica not seen yet stays until the
   * next leader's clean-up (docs/clickhouse-schema.md gives the SQL that leaves such rows out).
   */
  async removeHidden(t: TopicState, partition: number): Promise<void> {
    const fences = fencesOf(t, partition);
    if (fences.empty) return;
    const remove = async () => {
      const where = rowsHiddenUnderFences(await this.bound.partitionRows(t, partition), fences.starts);
      if (where !== null) await this.removeRows(t, partition, where, "a deposed leader's late rows", false);
    };
    await remove().catch(() => {});
  }

  /**
   * A lightweight DELETE of the partition's rows `where` selects, when there are any (`unseen`: even
   * when a read finds none), so that a partition with nothing to remove costs no mutation.
   */
  private async removeRows(
    t: TopicState,
    partition: number,
    where: string,
    what: string,
    unseen: boolean,
  ): Promise<void> {
    const r = unseen
      ? null
      : await this.backend.select(
          `look for ${what} in ${t.record.name}-${partition}`,
          countRows(t.table, where),
          t,
        );
    if (r === null || r.u64() > 0)
      await this.backend.command(
        `remove ${what} from ${t.record.name}-${partition}`,
        deleteRows(t.table, where),
      );
  }

  /** The log start as it is now: never back, forward to the first record TTL (or a DeleteRecords) left. */
  async currentLogStart(t: TopicState, tp: TopicPartition, p: PartitionState): Promise<number> {
    // No TTL on a topic that only compacts: what its table lacks are compaction's holes (see recover).
    if (compactsOnly(t, this.defaults)) return p.logStartOffset;
    // The end before the query: what was stored by then is in what the query sees. An append stored
    // while the query runs may be missed by it, so the end read afterwards would make a table that
    // seemed empty start past that append's records (a consumer at a new partition's earliest offset
    // then skipped the first record produced to it).
    const end = p.nextOffset;
    // Rows go in whole parts, so this moves by jumps.
    const rows = await this.bound.partitionRows(t, tp.partition);
    const r = await this.backend.select(
      `find the log start of ${tp.topic}-${tp.partition}`,
      firstOffsetFrom(t.table, rows, p.logStartOffset),
      t,
    );
    let first = earliest(r.i64(), p.side.firstPendingFrom(p.logStartOffset));
    // Transactions are the log's too where the table has no row: markers, and an aborted
    // transaction's batches, whose offsets are holes, not records retention removed. A marker always
    // follows those, so the side index tells when one may come before the first row. Those written
    // longer ago than retention.ms are gone with the records around them.
    const upTo = first < 0 ? end : first;
    if (p.side.meets(p.logStartOffset, upTo)) {
      const rows = this.side.rowsOf(t.record.topicId, tp.partition, fencesOf(t, tp.partition).starts);
      const retention = retentionOf(this.defaults.effective(t.record.configs));
      const now = Date.now();
      const writtenSince = retention === null || retention >= now ? null : (now - retention) * 1000;
      const s = await this.backend.select(
        `find the log start of ${tp.topic}-${tp.partition}`,
        firstSideOffset(this.backend.database, rows, p.logStartOffset, upTo, writtenSince),
        t,
      );
      const side = s.i64();
      if (side >= 0) first = earliest(first, Math.max(side, p.logStartOffset));
    }
    const start = Math.min(first < 0 ? end : first, end);
    if (start > p.logStartOffset) {
      const passed = p.side.meets(p.logStartOffset, start);
      p.logStartOffset = start;
      if (passed) await this.dropSideRowsBefore(t, tp, p, start).catch(() => {});
    }
    return p.logStartOffset;
  }

  /** Transaction rows wholly before `offset` (the new log start) go, from the index and the table. */
  private async dropSideRowsBefore(t: TopicState, tp: TopicPartition, p: PartitionState, offset: number) {
    p.side.dropBefore(offset);
    const side = sideRowsOfTopic(t.record.topicId, tp.partition, offset);
    await this.side.remove(`transaction rows before ${offset} of ${tp.topic}-${tp.partition}`, side, false);
  }

  /** DeleteRecords: moves the log start forward to `offset` (never past the end) and returns it. */
  async deleteRecordsBefore(
    t: TopicState,
    tp: TopicPartition,
    p: PartitionState,
    offset: number,
  ): Promise<number> {
    const target = Math.min(offset, p.nextOffset);
    if (target <= p.logStartOffset) return p.logStartOffset;
    const w = this.metadata.partitionRow(
      new TsvWriter(256),
      t.record.topicId,
      tp.partition,
      target,
      p.nextOffset,
    );
    await this.metadata.storePartitionRows(`record the log start of ${tp.topic}-${tp.partition}`, w);
    p.marker = target;
    p.logStartOffset = target;
    p.checkpointedEnd = Math.max(p.checkpointedEnd, p.nextOffset);
    // Whole batches before the new start go now (a lightweight DELETE); one straddling it stays, as in
    // Kafka. Reads filter by the log start anyway, so a failure here only leaves the rows for later.
    // A bound table has no batches: its rows before the start go.
    let before: string;
    if (t.bound) {
      const rows = await this.bound.partitionRows(t, tp.partition);
      before = `${rows.where} AND ${rows.offset} < ${int(target)}`;
    } else before = ownBatchesBefore(tp.partition, target);
    await this.backend.t.command(deleteRows(t.table, before)).catch(() => {});
    await this.dropSideRowsBefore(t, tp, p, target).catch(() => {});
    return target;
  }

  /** Writes down the end of one partition now (its rows do not show it). */
  async checkpointEnd(t: TopicState, partition: number, p: PartitionState, end: number): Promise<void> {
    const w = this.metadata.partitionRow(new TsvWriter(256), t.record.topicId, partition, p.marker, end);
    await this.metadata.storePartitionRows(`record the end of ${t.record.name}-${partition}`, w);
    p.checkpointedEnd = Math.max(p.checkpointedEnd, end);
  }

  /** Writes the ends of partitions of `topics` that grew since the last checkpoint. */
  async checkpoint(topics: Iterable<TopicState>): Promise<void> {
    if (!this.backend.transport) return;
    const w = new TsvWriter(1024);
    const done: [PartitionState, number][] = [];
    for (const t of topics) {
      for (const [partition, loading] of t.partitions) {
        const p = await loading.catch(() => null);
        if (!p || p.nextOffset <= p.checkpointedEnd) continue;
        this.metadata.partitionRow(w, t.record.topicId, partition, p.marker, p.nextOffset);
        done.push([p, p.nextOffset]);
      }
    }
    if (done.length === 0) return;
    await this.metadata.storePartitionRows('checkpoint the ends of partitions', w);
    for (const [p, end] of done) p.checkpointedEnd = Math.max(p.checkpointedEnd, end);
  }
}
