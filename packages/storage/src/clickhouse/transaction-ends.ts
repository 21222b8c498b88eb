/**
 * Transactions in the ClickHouse storage (Storage.append; docs/clickhouse-schema.md,
 * "Transactions"): what a staged batch and a marker become, and how a transaction ends.
 *
 * - A transactional batch is staged: a row of `_kch_txn_batches` (./side-batches.ts) with its bytes,
 *   and no row of the topic's table, so SQL over the topic (and every materialized view on it) does
 *   not see it. Kafka reads find it there (./side-reads.ts).
 * - A marker (COMMIT or ABORT) is a row of the side table too, never one of the topic's table. Once it
 *   is stored, a COMMIT inserts its producer's staged batches of the partition into the topic's table
 *   as records (one insert for all of them, with the group commit of the moment), then replaces their
 *   side rows with `committed` rows; an ABORT replaces them with `aborted` rows, which no read returns.
 * - Each step can be cut short (a failed insert, a crash). A COMMIT is therefore finished idempotently:
 *   only batches still staged are copied, and of those only the ones the topic's table does not hold
 *   yet (by offset; asked only where a commit may have copied them before: batches recovered, or
 *   whose commit was tried already, see SideIndex.copying); recovery (`recover`) finishes every
 *   marker whose batches are still staged. Kafka's coordinator never turns back a transaction whose
 *   commit began, so records a COMMIT copied before its append failed are records of a transaction
 *   that will commit.
 */

import { batchLeaderEpoch } from '../leader-fences.js';
import type { StoredBatch } from '../storage.js';
import { storedBatchOf } from '../stored-batch.js';
import { markerType } from '../transaction-batches.js';
import type { Backend } from './backend.js';
import { writeBoundRows } from './bound-rows.js';
import type { BoundTopics } from './bound-topics.js';
import type { ByteWriter } from './byte-writer.js';
import type { MetadataStore } from './metadata-store.js';
import { writeBatchRows } from './records.js';
import { RowBinaryWriter } from './rowbinary.js';
import { ABORTED, COMMITTED, MARKER, pendingOf, type SideBatches, STAGED } from './side-batches.js';
import { type PendingBatch, SideIndex } from './side-index.js';
import { offsetsPresent } from './statements.js';
import type { TopicRows } from './topic-rows.js';
import { fencesOf, type TopicState } from './topic-state.js';
import { TsvWriter } from './tsv.js';

/** The rows one staged batch made, in a commit's rows buffer. */
interface CopiedBatch {
  baseOffset: number;
  lastOffset: number;
  /** Offset of its first record (a batch may lack records the broker left out). */
  firstOffset: number;
  rows: number;
  /** Byte range of its rows in the buffer. */
  start: number;
  end: number;
}

/** Whether a batch is kept in the side table rather than the topic's: staged data, or a marker. */
export function isSideBatch(b: StoredBatch): boolean {
  return b.isTransactional || b.isControl;
}

export class TransactionEnds {
  constructor(
    private readonly backend: Backend,
    private readonly side: SideBatches,
    private readonly rows: TopicRows,
    private readonly bound: BoundTopics,
    private readonly metadata: MetadataStore,
  ) {}

  /**
   * Writes the side rows of an append's staged batches and markers (`batches`, in offset order) and
   * notes them in the partition's index; resolves when they are stored.
   */
  stage(t: TopicState, partition: number, index: SideIndex, batches: readonly StoredBatch[]): Promise<void> {
    let bytes = 0;
    for (const b of batches) bytes += b.bytes.length;
    const w = this.backend.rowWriter(bytes * 2 + batches.length * 128);
    const version = this.metadata.nextVersion();
    for (const b of batches) {
      this.side.writeBatch(w, t.record.topicId, partition, b, version);
      if (b.isControl) index.addMarker(b.baseOffset);
      else index.addPending(pendingOf(b, batchLeaderEpoch(b), b.bytes, version), true);
    }
    return this.side.insert(w.view(), batches.length);
  }

  /**
   * Ends what `marker` ends: its producer's pending batches before it. `stored` resolves once the
   * marker's row is stored: what it ends may be read before, nothing is written before.
   */
  async end(
    t: TopicState,
    partition: number,
    index: SideIndex,
    marker: StoredBatch,
    stored: Promise<void>,
  ): Promise<void> {
    const type = markerType(marker);
    // Another control batch (none that kch appends) ends nothing.
    if (!type) return;
    const pending = index.endedBy(marker.producerId, marker.baseOffset);
    if (pending.length > 0) await this.finish(t, partition, pending, type, stored, index.copying(pending));
  }

  /**
   * The partition's side rows from `from` on (its DeleteRecords start), as its index, after finishing
   * every transaction whose marker is stored and whose batches are still staged (a broker stopped
   * between the marker and the rows that end them); with the first offset of the records those
   * commits put in the topic's table (-1 when none), which the log start must not pass.
   */
  async recover(
    t: TopicState,
    partition: number,
    from: number,
  ): Promise<{ index: SideIndex; firstCommitted: number }> {
    const what = `recover the transactions of ${t.record.name}-${partition}`;
    const list = await this.side.list(what, this.rowsOf(t, partition), from);
    const index = new SideIndex();
    const staged = new Set<number>();
    const unfinished: { type: 'commit' | 'abort'; batches: PendingBatch[] }[] = [];
    for (const row of list) {
      if (row.kind !== MARKER) {
        // Ended rows count as pending until a marker follows: a deposed leader may have ended them
        // with a marker the fences hide, and the log then shows no marker for them.
        index.addPending(pendingOf(row, row.leaderEpoch, row.head, row.version));
        if (row.kind === STAGED) staged.add(row.baseOffset);
        continue;
      }
      index.addMarker(row.baseOffset);
      const ended = index.endedBy(row.producerId, row.baseOffset);
      index.end(row.producerId, row.baseOffset);
      const open = ended.filter((b) => staged.has(b.baseOffset));
      if (open.length === 0) continue;
      const type = markerType(storedBatchOf(row.head));
      if (type) unfinished.push({ type, batches: type === 'commit' ? ended : open });
    }
    let firstCommitted = -1;
    for (const u of unfinished) {
      await this.finish(t, partition, u.batches, u.type, Promise.resolve(), true);
      const first = u.batches[0]!.baseOffset;
      if (u.type === 'commit' && (firstCommitted < 0 || first < firstCommitted)) firstCommitted = first;
    }
    return { index, firstCommitted };
  }

  /**
   * Commits (copies, then `committed` rows) or aborts (`aborted` rows) a producer's `pending` batches,
   * writing nothing before `stored` (the marker's row) resolves. `maybeCopied`: an earlier commit may
   * have copied some of them (see `copy`).
   */
  private async finish(
    t: TopicState,
    partition: number,
    pending: readonly PendingBatch[],
    type: 'commit' | 'abort',
    stored: Promise<void>,
    maybeCopied: boolean,
  ): Promise<void> {
    const ended = type === 'commit' ? await this.copy(t, partition, pending, stored, maybeCopied) : pending;
    await stored;
    if (ended.length === 0) return;
    const w = new TsvWriter(ended.length * 96);
    const version = this.metadata.nextVersion();
    const kind = type === 'commit' ? COMMITTED : ABORTED;
    for (const b of ended) this.side.writeEnd(w, t.record.topicId, partition, b, kind, version);
    await this.side.insert(w.view(), ended.length);
  }

  /**
   * Inserts the records of those of `pending` still staged into the topic's table, but not those the
   * table holds already (a commit cut short: the table is only asked when `maybeCopied`), once
   * `stored` resolves; returns the ones that were still staged.
   */
  private async copy(
    t: TopicState,
    partition: number,
    pending: readonly PendingBatch[],
    stored: Promise<void>,
    maybeCopied: boolean,
  ): Promise<PendingBatch[]> {
    const what = `commit a transaction in ${t.record.name}-${partition}`;
    const producerId = pending[0]!.producerId;
    const offsets = pending.map((b) => b.baseOffset);
    const batches = await this.side.staged(what, this.rowsOf(t, partition), producerId, offsets);
    if (batches.length === 0) return [];
    const schema = t.bound ? await this.bound.schema(t) : null;
    let size = 0;
    for (const b of batches) size += b.bytes.length + b.recordCount * 112;
    // A bound table's rows in its own format, kch's own table's in RowBinary (as appends write them).
    const tsv = schema ? this.backend.rowWriter(Math.max(4096, size)) : null;
    const binary = schema ? null : new RowBinaryWriter(Math.max(4096, size));
    const w: ByteWriter = tsv ?? binary!;
    const copied: CopiedBatch[] = [];
    for (const b of batches) {
      const start = w.pos;
      let rows = 0;
      let firstOffset = b.baseOffset;
      if (schema) {
        const r = await writeBoundRows(tsv!, schema, partition, b);
        rows = r.rows;
        firstOffset = r.firstOffset;
      } else if (b.recordCount > 0) rows = (await writeBatchRows(binary!, partition, b)).records;
      if (rows > 0)
        copied.push({
          baseOffset: b.baseOffset,
          lastOffset: b.lastOffset,
          firstOffset,
          rows,
          start,
          end: w.pos,
        });
    }
    const present = maybeCopied
      ? await this.present(t, partition, copied, schema !== null)
      : new Set<number>();
    const missing = copied.filter((c) => !present.has(schema ? c.firstOffset : c.baseOffset));
    await stored;
    if (missing.length > 0) {
      if (schema) {
        // Each batch its own chunk: a refused insert is then cleaned up by its exact offsets.
        await Promise.all(
          missing.map((c) =>
            this.rows.intoBound(
              t,
              schema,
              partition,
              w.buf.subarray(c.start, c.end),
              c.rows,
              c.baseOffset,
              c.lastOffset,
            ),
          ),
        );
      } else {
        let rows = 0;
        for (const c of missing) rows += c.rows;
        const chunk =
          missing.length === copied.length
            ? w.view()
            : Buffer.concat(missing.map((c) => w.buf.subarray(c.start, c.end)));
        await this.rows.intoOwn(t, chunk, rows);
      }
    }
    const still = new Set(batches.map((b) => b.baseOffset));
    return pending.filter((b) => still.has(b.baseOffset));
  }

  /**
   * Which of `copied` the topic's table holds already: by batch offset in kch's own table, by the
   * offset of the first record in a bound one (a batch's rows go in one insert, all or none).
   */
  private async present(
    t: TopicState,
    partition: number,
    copied: readonly CopiedBatch[],
    bound: boolean,
  ): Promise<Set<number>> {
    const found = new Set<number>();
    if (copied.length === 0) return found;
    const rows = await this.bound.partitionRows(t, partition);
    const column = bound ? rows.offset : 'batch_offset';
    const offsets = copied.map((c) => (bound ? c.firstOffset : c.baseOffset));
    const from = copied[0]!.baseOffset;
    const to = copied[copied.length - 1]!.lastOffset;
    const r = await this.backend.select(
      `look for records of a transaction in ${t.record.name}-${partition}`,
      offsetsPresent(t.table, rows, column, from, to, offsets),
      t,
    );
    while (!r.done) found.add(r.i64());
    return found;
  }

  private rowsOf(t: TopicState, partition: number): string {
    return this.side.rowsOf(t.record.topicId, partition, fencesOf(t, partition).starts);
  }
}
