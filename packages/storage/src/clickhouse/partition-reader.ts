/**
 * Reads of a partition: batches for Fetch (kch's own rows grouped back into the batches they came in,
 * ./records.ts; a bound table's rows made into batches, ./bound-rows.ts), offsets by timestamp, and
 * the producers' last batches that openPartition recovers.
 *
 * Offsets are dense, so a read asks for an offset range of about `maxBytes` worth of records (sized
 * by the topic's bytes-per-record estimate) in one query. The staged batches and markers of
 * transactions have no row there: they come from the side table in their places (./side-reads.ts),
 * and the rows are read in the stretches between them. Offsets with no row nor side batch (TTL,
 * DeleteRecords, records left out of a batch, aborted transactions) come back as empty batches at the
 * log's end, as the ones Kafka keeps after compaction, so consumers move past them.
 */
import { addSequence, PRODUCER_BATCHES_KEPT } from '../producer-batches.js';
import type { PartitionSnapshot, ProducerBatchInfo, StoredBatch, TopicPartition } from '../storage.js';
import type { Backend } from './backend.js';
import { batchesFromRows, parseBoundRows } from './bound-rows.js';
import { readSql, timestampExpr } from './bound-table.js';
import { type BoundTopics, boundPartitionRows } from './bound-topics.js';
import { ReadOut } from './read-out.js';
import { encodeRowGroup, groupRows } from './records.js';
import { readInt64 } from './rowbinary.js';
import { DATETIME64_MS_MAX, DATETIME64_MS_MIN } from './schema.js';
import type { SideBatches } from './side-batches.js';
import { SideCursor } from './side-reads.js';
import {
  boundMaxTimestamp,
  boundOffsetForTimestamp,
  firstRowOffset,
  ownMaxTimestamp,
  ownOffsetForTimestamp,
  ownRecordsBetween,
  type PartitionRows,
  producerBatches,
  recordRows,
  rowsBetween,
} from './statements.js';
import type { TopicCatalog } from './topic-catalog.js';
import { fencesOf, ownRowsOf, type PartitionState, type TopicState } from './topic-state.js';

type OffsetAndTimestamp = { offset: number; timestamp: number } | null;

/** What a read asks for: batches of the partition from `from` to `end` (the log's end), about `maxBytes`. */
interface ReadRange {
  partition: number;
  from: number;
  end: number;
  maxBytes: number;
  /** For messages: `read orders-0`. */
  what: string;
}

/**
 * The last {@link PRODUCER_BATCHES_KEPT} of each producer's batches, oldest first (a batch both in the
 * table and pending, a commit cut short, once).
 */
function lastOfEachProducer(batches: ProducerBatchInfo[]): ProducerBatchInfo[] {
  batches.sort((a, b) => a.baseOffset - b.baseOffset);
  const byProducer = new Map<number, ProducerBatchInfo[]>();
  for (const b of batches) {
    let list = byProducer.get(b.producerId);
    if (!list) {
      list = [];
      byProducer.set(b.producerId, list);
    }
    if (list[list.length - 1]?.baseOffset === b.baseOffset) continue;
    list.push(b);
    if (list.length > PRODUCER_BATCHES_KEPT) list.shift();
  }
  return [...byProducer.values()].flat().sort((a, b) => a.baseOffset - b.baseOffset);
}

export class PartitionReader {
  constructor(
    private readonly backend: Backend,
    private readonly catalog: TopicCatalog,
    private readonly bound: BoundTopics,
    private readonly side: SideBatches,
  ) {}

  async openPartition(tp: TopicPartition): Promise<PartitionSnapshot> {
    const { t, p } = await this.catalog.partition(tp);
    const open = p.side.openTransactions();
    // Absent when none (PartitionSnapshot): the snapshot of a topic without transactions is as before.
    const openTransactions = open.length > 0 ? { openTransactions: open } : {};
    // A user's table has no batch columns: producer state is not recovered (docs/topics-over-tables.md).
    if (t.bound)
      return {
        logStartOffset: p.logStartOffset,
        nextOffset: p.nextOffset,
        producerBatches: [],
        ...openTransactions,
      };
    const r = await this.backend.select(
      `recover the producers of ${tp.topic}-${tp.partition}`,
      producerBatches(t.table, ownRowsOf(t, tp.partition), p.nextOffset),
      t,
    );
    const batches: ProducerBatchInfo[] = [];
    while (!r.done) {
      const producerId = r.i64();
      const producerEpoch = r.i16();
      const baseSequence = r.i32();
      const baseOffset = r.i64();
      const lastDelta = r.i32();
      const maxTimestamp = r.i64();
      batches.push({
        producerId,
        producerEpoch,
        baseSequence,
        lastSequence: addSequence(baseSequence, lastDelta),
        baseOffset,
        lastOffset: baseOffset + lastDelta,
        maxTimestamp,
      });
    }
    // Staged batches count for idempotence too (sequences go on across a transaction's batches).
    batches.push(...p.side.producerBatches());
    return {
      logStartOffset: p.logStartOffset,
      nextOffset: p.nextOffset,
      producerBatches: lastOfEachProducer(batches),
      ...openTransactions,
    };
  }

  async read(tp: TopicPartition, fromOffset: number, maxBytes: number): Promise<StoredBatch[]> {
    const { t, p } = await this.catalog.partition(tp);
    const range: ReadRange = {
      partition: tp.partition,
      from: Math.max(fromOffset, p.logStartOffset),
      end: p.nextOffset,
      maxBytes,
      what: `read ${tp.topic}-${tp.partition}`,
    };
    const side = new SideCursor(
      this.side,
      p.side,
      () => this.side.rowsOf(t.record.topicId, tp.partition, fencesOf(t, tp.partition).starts),
      range.end,
      maxBytes,
      range.what,
    );
    return t.bound ? this.readBound(t, range, side) : this.readOwn(t, range, side);
  }

  private async readOwn(t: TopicState, range: ReadRange, side: SideCursor): Promise<StoredBatch[]> {
    const { partition, end, what } = range;
    const out = new ReadOut(range.maxBytes);
    let forceRows = 0;
    const own = ownRowsOf(t, partition);
    const rowsIn = (from: number, to: number) =>
      this.backend.run(what, () => this.backend.t.selectBytes(recordRows(t.table, own, from, to)), t);
    await side.around(out, range.from, end, async (cursor, upTo) => {
      const rows = Math.max(forceRows, Math.min(1_000_000, Math.ceil(out.left / t.bytesPerRecord) + 8));
      forceRows = 0;
      const rangeEnd = Math.min(cursor + rows, upTo);
      let buf = await rowsIn(cursor, rangeEnd);
      if (buf.length === 0) {
        // A gap (records removed by TTL or DeleteRecords, an aborted transaction): go on from the
        // next record still there, or the side batch after the gap.
        const r = await this.backend.select(what, firstRowOffset(t.table, own, rangeEnd, upTo), t);
        if (!r.done) return r.i64();
        if (upTo < end) return upTo;
        // No record up to the end (batches whose records were all left out): an empty batch moves
        // consumers past those offsets.
        out.addEmpty(cursor, end - 1);
        return null;
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
        if (g.lastOffset >= rangeEnd && rangeEnd < upTo) {
          // The batch goes on past the rows read: read it again whole, from its start.
          next = g.baseOffset;
          if (i === 0) forceRows = g.lastOffset - g.baseOffset + 1;
          break;
        }
        if (!out.add(await encodeRowGroup(buf, g))) return null;
      }
      const last = out.lastOffset ?? cursor - 1;
      // Offsets after the last record up to the end hold none (see the gap case above).
      if (next === end && last < end - 1) out.addEmpty(last + 1, end - 1);
      return out.full ? null : next;
    });
    return out.done(t);
  }

  private async readBound(t: TopicState, range: ReadRange, side: SideCursor): Promise<StoredBatch[]> {
    const { partition, end, what } = range;
    const s = await this.bound.schema(t);
    const { where } = boundPartitionRows(t, s, partition);
    const out = new ReadOut(range.maxBytes);
    await side.around(out, range.from, end, async (cursor, upTo) => {
      const limit = Math.min(100_000, Math.ceil(out.left / t.bytesPerRecord) + 8);
      const buf = await this.backend.run(
        what,
        () => this.backend.t.selectBytes(readSql(s, where, cursor, upTo, limit)),
        t,
      );
      const rows = parseBoundRows(buf);
      const { batches, rows: used } = batchesFromRows(rows, out.left, out.empty);
      for (const b of batches) out.add(b);
      if (used < rows.length) return null;
      const after = rows.length > 0 ? rows[rows.length - 1]!.offset + 1 : cursor;
      if (rows.length === limit) return after;
      // No row up to the next side batch: go on there. Or none up to the end: those offsets are
      // holes, and an empty batch moves consumers past them.
      if (upTo < end) return upTo;
      if (after < end) out.addEmpty(after, end - 1);
      return null;
    });
    return out.done(t);
  }

  async offsetForTimestamp(tp: TopicPartition, timestamp: number): Promise<OffsetAndTimestamp> {
    const { t, p } = await this.catalog.partition(tp);
    if (timestamp > DATETIME64_MS_MAX) return null;
    const ms = Math.max(DATETIME64_MS_MIN, Math.floor(timestamp));
    const what = `look up ${tp.topic}-${tp.partition} by timestamp`;
    if (!t.bound)
      return this.offsetAndTimestamp(t, what, ownOffsetForTimestamp(t.table, this.ownLive(t, tp, p), ms));
    const { rows, live, time } = await this.boundLive(t, tp, p);
    return this.offsetAndTimestamp(t, what, boundOffsetForTimestamp(t.table, rows, live, time, ms));
  }

  async maxTimestamp(tp: TopicPartition): Promise<OffsetAndTimestamp> {
    const { t, p } = await this.catalog.partition(tp);
    const what = `find the max timestamp of ${tp.topic}-${tp.partition}`;
    if (!t.bound) return this.offsetAndTimestamp(t, what, ownMaxTimestamp(t.table, this.ownLive(t, tp, p)));
    const { rows, live, time } = await this.boundLive(t, tp, p);
    return this.offsetAndTimestamp(t, what, boundMaxTimestamp(t.table, rows, live, time));
  }

  /** A bound partition's rows, those between log start and end, and its record time in ms. */
  private async boundLive(
    t: TopicState,
    tp: TopicPartition,
    p: PartitionState,
  ): Promise<{ rows: PartitionRows; live: string; time: string }> {
    const s = await this.bound.schema(t);
    const rows = boundPartitionRows(t, s, tp.partition);
    return { rows, live: rowsBetween(rows, p.logStartOffset, p.nextOffset), time: timestampExpr(s) };
  }

  /** Records of kch's own table between log start and end, under the partition's fences, control records excluded. */
  private ownLive(t: TopicState, tp: TopicPartition, p: PartitionState): string {
    return ownRecordsBetween(ownRowsOf(t, tp.partition), p.logStartOffset, p.nextOffset);
  }

  private async offsetAndTimestamp(t: TopicState, what: string, sql: string): Promise<OffsetAndTimestamp> {
    const r = await this.backend.select(what, sql, t);
    if (r.done) return null;
    return { offset: r.i64(), timestamp: r.i64() };
  }
}
