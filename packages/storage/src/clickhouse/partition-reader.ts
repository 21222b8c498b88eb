/**
 * Reads of a partition: batches for Fetch (kch's own rows grouped back into the batches they came in,
 * ./records.ts; a bound table's rows made into batches, ./bound-rows.ts), offsets by timestamp, and
 * the producers' last batches that openPartition recovers.
 *
 * Offsets are dense, so a read asks for an offset range of about `maxBytes` worth of records (sized
 * by the topic's bytes-per-record estimate) in one query. Offsets with no row (TTL, DeleteRecords,
 * records left out of a batch) come back as empty batches, as the ones Kafka keeps after compaction,
 * so consumers move past them.
 */
import { addSequence } from '../producer-batches.js';
import type { PartitionSnapshot, ProducerBatchInfo, StoredBatch, TopicPartition } from '../storage.js';
import type { Backend } from './backend.js';
import { batchesFromRows, parseBoundRows } from './bound-rows.js';
import { readSql, timestampExpr } from './bound-table.js';
import { type BoundTopics, boundPartitionRows } from './bound-topics.js';
import { EMPTY_BATCH_BYTES, emptyBatch, encodeRowGroup, groupRows } from './records.js';
import { readInt64 } from './rowbinary.js';
import { DATETIME64_MS_MAX, DATETIME64_MS_MIN } from './schema.js';
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
import { noteRecordSize, ownRowsOf, type PartitionState, type TopicState } from './topic-state.js';

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

function recordsIn(batches: readonly StoredBatch[]): number {
  let n = 0;
  for (const b of batches) n += b.recordCount;
  return n;
}

export class PartitionReader {
  constructor(
    private readonly backend: Backend,
    private readonly catalog: TopicCatalog,
    private readonly bound: BoundTopics,
  ) {}

  async openPartition(tp: TopicPartition): Promise<PartitionSnapshot> {
    const { t, p } = await this.catalog.partition(tp);
    // A user's table has no batch columns: producer state is not recovered (docs/topics-over-tables.md).
    if (t.bound) return { logStartOffset: p.logStartOffset, nextOffset: p.nextOffset, producerBatches: [] };
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
    batches.sort((a, b) => a.baseOffset - b.baseOffset);
    return { logStartOffset: p.logStartOffset, nextOffset: p.nextOffset, producerBatches: batches };
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
    return t.bound ? this.readBound(t, range) : this.readOwn(t, range);
  }

  private async readOwn(t: TopicState, range: ReadRange): Promise<StoredBatch[]> {
    const { partition, end, maxBytes, what } = range;
    let cursor = range.from;
    const out: StoredBatch[] = [];
    let total = 0;
    let forceRows = 0;
    const own = ownRowsOf(t, partition);
    const rowsIn = (from: number, to: number) =>
      this.backend.run(what, () => this.backend.t.selectBytes(recordRows(t.table, own, from, to)), t);
    while (cursor < end) {
      const rows = Math.max(
        forceRows,
        Math.min(1_000_000, Math.ceil(Math.max(0, maxBytes - total) / t.bytesPerRecord) + 8),
      );
      forceRows = 0;
      const rangeEnd = Math.min(cursor + rows, end);
      let buf = await rowsIn(cursor, rangeEnd);
      if (buf.length === 0) {
        // A gap (records removed by TTL or DeleteRecords): go on from the next record still there.
        const r = await this.backend.select(what, firstRowOffset(t.table, own, rangeEnd, end), t);
        if (r.done) {
          // No record up to the end (batches whose records were all left out): an empty batch moves
          // consumers past those offsets.
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
    noteRecordSize(t, total, recordsIn(out), 0.5);
    return out;
  }

  private async readBound(t: TopicState, range: ReadRange): Promise<StoredBatch[]> {
    const { partition, end, maxBytes, what } = range;
    const s = await this.bound.schema(t);
    const { where } = boundPartitionRows(t, s, partition);
    let cursor = range.from;
    const out: StoredBatch[] = [];
    let total = 0;
    while (cursor < end) {
      const limit = Math.min(100_000, Math.ceil(Math.max(0, maxBytes - total) / t.bytesPerRecord) + 8);
      const from = cursor;
      const buf = await this.backend.run(
        what,
        () => this.backend.t.selectBytes(readSql(s, where, from, end, limit)),
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
    noteRecordSize(t, total, recordsIn(out), 0.5);
    return out;
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
