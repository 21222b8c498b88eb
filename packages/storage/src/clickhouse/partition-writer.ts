/**
 * Appends: each append's batches become rows in one buffer (RowBinary for kch's own table,
 * ./records.ts; the table's own format for a bound one, ./bound-rows.ts), handed to the topic's group commit (./flusher.ts), which sends the
 * rows of many appends and partitions as one insert (./topic-rows.ts). Transactional batches and
 * markers are not rows of the topic's table: they go to the side table, and a marker ends its
 * transaction before its append counts (./transaction-ends.ts).
 *
 * Appends of a partition are pipelined (Storage.appendsInFlight): the next one is encoded and queued
 * for an insert while the one before is still being inserted. The partition's InFlightAppends
 * (../in-flight-appends.ts, the broker keeps the same rule with the same class) settles them in order
 * and fails the later ones when one fails; this writer adds what ClickHouse needs: rows that may have
 * landed from a failed append on are deleted before the partition is used again
 * (./partition-states.ts), and an end the rows do not show is written down before an append counts.
 */
import { earlierAppendRejected } from '../in-flight-appends.js';
import type { AppendOptions, PartitionLeadership, StoredBatch, TopicPartition } from '../storage.js';
import type { Backend } from './backend.js';
import { writeBoundRows } from './bound-rows.js';
import type { BoundTopics } from './bound-topics.js';
import { FlushError } from './flush-error.js';
import type { PartitionStates } from './partition-states.js';
import { writeBatchRows } from './records.js';
import { RowBinaryWriter } from './rowbinary.js';
import type { TopicCatalog } from './topic-catalog.js';
import type { TopicRows } from './topic-rows.js';
import { fencesOf, noteRecordSize, type PartitionState, setFences, type TopicState } from './topic-state.js';
import { isSideBatch, type TransactionEnds } from './transaction-ends.js';

/** The rows of an append, and how to insert them. */
interface EncodedRows {
  chunk: Buffer;
  records: number;
  /** The last row is the log's end, so recovery finds it (else the end is written down). */
  endKnown: boolean;
  /**
   * The rows keep their leader epoch (kch's own table, a bound one with `_leader_epoch`): an append
   * the caller refuses can be taken back without touching a successor's rows at the same offsets.
   */
  epochKept: boolean;
  insert(chunk: Buffer, rows: number): Promise<void>;
}

export class PartitionWriter {
  /** Clean-ups after rejected appends under way (./partition-states.ts `cleanSuspects`). */
  private readonly cleanUps = new Set<Promise<void>>();

  constructor(
    private readonly backend: Backend,
    private readonly catalog: TopicCatalog,
    private readonly states: PartitionStates,
    private readonly bound: BoundTopics,
    private readonly rows: TopicRows,
    private readonly transactions: TransactionEnds,
  ) {}

  async append(tp: TopicPartition, batches: readonly StoredBatch[], options?: AppendOptions): Promise<void> {
    this.backend.checkOpen();
    const t = this.catalog.topicOf(tp.topic);
    // The lock covers checking, encoding and handing the rows to the flusher, not the insert.
    const { stored } = await t.locks.run(tp.partition, () =>
      this.appendLocked(tp, batches, options?.confirm),
    );
    return stored.catch((e: unknown) => {
      this.cleanUpSoon(t, tp);
      throw e;
    });
  }

  /**
   * Removes the rows a rejected append may have left now rather than at the partition's next use: a
   * broker whose append was refused by its `confirm` has lost the partition and may never use it
   * again, and SQL over the table sees the rows until they go. When this fails, the next use removes them
   * (./topic-catalog.ts `partition`); appends that follow wait for it on the partition's lock.
   */
  private cleanUpSoon(t: TopicState, tp: TopicPartition): void {
    const cleaning = t.locks
      .run(tp.partition, async () => {
        const p = await t.partitions.get(tp.partition);
        if (p && p.suspectFrom !== null) await this.states.cleanSuspects(t, tp.partition, p);
      })
      .catch(() => {});
    this.cleanUps.add(cleaning);
    void cleaning.then(() => this.cleanUps.delete(cleaning));
  }

  /**
   * Resolves once the appends handed in have settled and the clean-ups after rejected ones have
   * ended: the storage closes after this, so that a broker stopping because it lost its partitions
   * (whose appends are then refused) still removes their rows.
   */
  async settle(topics: Iterable<TopicState>): Promise<void> {
    for (const t of topics) {
      for (const state of t.partitions.values()) await state.then((p) => p.appends.settled()).catch(() => {});
    }
    await Promise.all(this.cleanUps);
  }

  private async appendLocked(
    tp: TopicPartition,
    batches: readonly StoredBatch[],
    confirmed: (() => Promise<void>) | undefined,
  ): Promise<{ stored: Promise<void> }> {
    const { t, p } = await this.catalog.partition(tp);
    // A batch of a replaced leader's epoch past the start of a later one is refused before anything
    // is taken in: none of it is inserted, and the appends in flight are not touched.
    const refused = fencesOf(t, tp.partition).refusal(tp, batches);
    if (refused) throw refused;
    const { appends } = p;
    if (batches.length === 0) return { stored: appends.afterSettled(() => undefined) };
    const rejections = appends.rejections;
    const earlierFailed = () => earlierAppendRejected(tp);
    // Whether the appends in flight before this one are stored: a marker ends its transaction only
    // after them. None in flight: every earlier one settled (a rejected one's batches are gone).
    const before = appends.size > 0 ? appends.settled() : Promise.resolve(true);
    const next = appends.follow(tp, batches, earlierFailed);
    // Transactional batches and markers go to the side table (./transaction-ends.ts), the rest are rows.
    const side = batches.some(isSideBatch) ? batches.filter(isSideBatch) : null;
    const plain = side ? batches.filter((b) => !isSideBatch(b)) : batches;
    let bytes = 0;
    let expected = 0;
    for (const b of plain) {
      bytes += b.bytes.length;
      expected += b.recordCount;
    }
    // About what the rows take (values as they are, ~100 bytes of other fields per row); grown if not.
    const size = Math.max(4096, bytes + expected * 112 + plain.length * 256);
    const rows =
      plain.length === 0
        ? null
        : t.bound
          ? await this.boundRows(t, tp.partition, plain, size)
          : await this.ownRows(t, tp.partition, plain, size);
    const records = rows?.records ?? 0;
    // An append it follows failed while this one was being encoded: it fails too.
    if (appends.rejections !== rejections) throw earlierFailed();
    const from = batches[0]!.baseOffset;
    // Batches whose records were all left out make no rows, but take their offsets all the same.
    const inserted = records === 0 ? Promise.resolve() : rows!.insert(rows!.chunk, records);
    const written = side ? this.writeSide(t, tp, p, side, inserted, before) : inserted;
    // The rows do not show where the log ends (records left out at its end): the end is written down
    // before the append counts as stored, or a restart would hand those offsets out again. A batch of
    // the side table shows its end there. Before the caller's confirmation, which must be the last step
    // before the append counts: a leader that confirmed and then paused in the checkpoint could
    // acknowledge after its lease ended. A refused append's checkpoint only makes the next leader
    // start past its offsets (a gap, never offsets handed out twice: checkpoints are read with max()).
    const endKnown = isSideBatch(batches[batches.length - 1]!) || rows!.endKnown;
    const checkpoint = endKnown ? undefined : () => this.states.checkpointEnd(t, tp.partition, p, next);
    // Not where rows keep no leader epoch (a bound table without `_leader_epoch`, of one broker's
    // database): taking them back could delete the rows a successor wrote at the same offsets; the
    // caller checks after the append instead (storage.ts).
    const caller = rows === null || rows.epochKept ? confirmed : undefined;
    const confirm = caller && checkpoint ? () => checkpoint().then(caller) : (caller ?? checkpoint);
    const stored = appends.add(
      next,
      written,
      {
        confirm,
        stored: () => {
          noteRecordSize(t, bytes, records, 0.2);
          // Its markers' transactions have ended: their batches are no longer pending.
          if (side) for (const m of side) if (m.isControl) p.side.end(m.producerId, m.baseOffset);
        },
        rejected: (error) => {
          // This insert failed or was not confirmed, or an earlier one of the partition was: rows from
          // `from` on may be in ClickHouse (this insert's, or a failed one's behind a network) and are
          // deleted (at once, see `cleanUpSoon`, and before the partition is used again); the broker
          // appends again from the end of what was stored.
          p.suspectFrom = p.suspectFrom === null ? from : Math.min(p.suspectFrom, from);
          p.side.dropFrom(from);
          if (error instanceof FlushError) p.suspectQueries.push(...error.queryIds);
          if (error === null) return earlierFailed();
          return error instanceof FlushError ? error.error : error;
        },
      },
      undefined,
    );
    return { stored };
  }

  /**
   * The side rows of an append's staged batches and markers, stored with its other rows (`inserted`);
   * then, once every append before it is stored (`before`), the transactions its markers end.
   */
  private async writeSide(
    t: TopicState,
    tp: TopicPartition,
    p: PartitionState,
    side: readonly StoredBatch[],
    inserted: Promise<void>,
    before: Promise<boolean>,
  ): Promise<void> {
    const stored = Promise.all([inserted, this.transactions.stage(t, tp.partition, p.side, side)]).then(
      () => undefined,
    );
    // Its rejection is thrown below, by whichever await meets it first.
    stored.catch(() => {});
    const markers = side.filter((b) => b.isControl);
    // Markers alone (as the broker appends them): what they end is read while their rows are being
    // stored (nothing is written before). Staged batches of this append must be stored before.
    if (markers.length < side.length) await stored;
    // A marker ends batches of appends before it: they must be stored (else this one fails anyway).
    if (markers.length > 0 && !(await before)) {
      await stored;
      throw earlierAppendRejected(tp);
    }
    for (const m of markers) await this.transactions.end(t, tp.partition, p.side, m, stored);
    await stored;
  }

  /**
   * Opens the partition in `leadership` (Storage.openPartition): with the appends of this storage
   * held and settled (and a failed one's rows removed), its end is read again under the fences known
   * so far, and becomes the start of the new epoch. From then on the partition's reads are fenced
   * (./topic-state.ts `ownRowsOf`), and the rows the fences hide are deleted: a deposed leader's late
   * rows, which SQL over the table would see. A bound table fences likewise by its `_leader_epoch`;
   * one without it is not fenced, and refused a leadership where other brokers share the database.
   */
  async lead(tp: TopicPartition, leadership: PartitionLeadership): Promise<void> {
    this.backend.checkOpen();
    const t = this.catalog.topicOf(tp.topic);
    await t.locks.run(tp.partition, async () => {
      const before = fencesOf(t, tp.partition).before(tp, leadership);
      await this.bound.canLead(t);
      if (t.partitions.has(tp.partition)) {
        const { p } = await this.catalog.partition(tp);
        await p.appends.settled();
        if (p.suspectFrom !== null) await this.states.cleanSuspects(t, tp.partition, p);
        // Another broker may have appended since this state was recovered: it is recovered again.
        t.partitions.delete(tp.partition);
      }
      setFences(t, tp.partition, before);
      const { p } = await this.catalog.partition(tp);
      setFences(t, tp.partition, before.with([{ epoch: leadership.epoch, startOffset: p.nextOffset }]));
      await this.states.removeHidden(t, tp.partition);
    });
  }

  /** Rows of batches in kch's own table (RowBinary, ./records.ts). */
  private async ownRows(
    t: TopicState,
    partition: number,
    batches: readonly StoredBatch[],
    size: number,
  ): Promise<EncodedRows> {
    const w = new RowBinaryWriter(size);
    let records = 0;
    for (const b of batches) {
      // A batch whose records were all left out (holes) has no row; its offsets are used all the same.
      if (b.recordCount > 0) records += (await writeBatchRows(w, partition, b)).records;
    }
    const last = batches[batches.length - 1]!;
    return {
      chunk: w.view(),
      records,
      endKnown: last.recordCount === last.lastOffset - last.baseOffset + 1,
      epochKept: true,
      insert: (chunk, rows) => this.rows.intoOwn(t, chunk, rows),
    };
  }

  /** Rows of a bound topic's batches in its table's terms, for its sink. */
  private async boundRows(
    t: TopicState,
    partition: number,
    batches: readonly StoredBatch[],
    size: number,
  ): Promise<EncodedRows> {
    const s = await this.bound.schema(t);
    const w = this.backend.rowWriter(size);
    let records = 0;
    let lastRow = -1;
    for (const batch of batches) {
      const r = await writeBoundRows(w, s, partition, batch);
      records += r.rows;
      if (r.rows > 0) lastRow = r.lastOffset;
    }
    const from = batches[0]!.baseOffset;
    const end = batches[batches.length - 1]!.lastOffset;
    return {
      chunk: w.view(),
      records,
      endKnown: lastRow === end,
      epochKept: s.virtuals.has('_leader_epoch'),
      insert: (chunk, rows) => this.rows.intoBound(t, s, partition, chunk, rows, from, end),
    };
  }

  /**
   * Runs `f` with the topic's appends held: each partition's append chain waits for `f`, after the
   * appends already in it were handed in and their inserts settled. Partitions added meanwhile are
   * not held.
   */
  async holdAppends<T>(topic: string, f: () => Promise<T>): Promise<T> {
    const t = this.catalog.topicOf(topic);
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const acquired: Promise<void>[] = [];
    for (let p = 0; p < t.record.partitionCount; p++) {
      acquired.push(
        new Promise<void>((r) => {
          void t.locks.run(p, () => {
            r();
            return held;
          });
        }),
      );
    }
    try {
      await Promise.all(acquired);
      // The locks cover handing rows to the flusher, not the insert: wait for those in flight too.
      for (const state of t.partitions.values()) await state.then((p) => p.appends.settled()).catch(() => {});
      return await f();
    } finally {
      release();
    }
  }
}
