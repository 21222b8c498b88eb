/**
 * `_kch_txn_batches`, the side table of transactions (./schema.ts, migration 5): its rows written,
 * read and removed. One row per batch, keyed by (topic_id, partition, base_offset, leader_epoch):
 * staged transactional batches and markers with their bytes exactly as appended, and the `committed`
 * or `aborted` rows (no bytes, a newer version) that replace a staged one when its transaction ends.
 * What the rows mean is ./transaction-ends.ts's; this room only moves them.
 *
 * Rows of appends go through one group commit for the whole storage (./flusher.ts), so the
 * transactional batches of many partitions and topics arriving together make one insert. A retried
 * insert that did land stores the same rows again, same key and version, which FINAL reads as one.
 */
import { RECORD_BATCH_HEADER_SIZE } from '@kch/protocol';
import { batchLeaderEpoch } from '../leader-fences.js';
import type { LeaderEpochStart, StoredBatch } from '../storage.js';
import { storedBatchOf } from '../stored-batch.js';
import type { Backend } from './backend.js';
import type { SinkPacing } from './bound-topics.js';
import type { FlushReports } from './flush-reports.js';
import { Flusher } from './flusher.js';
import { type InsertContext, insertWithRetry } from './insert-retry.js';
import { TXN_BATCH_ROW_COLUMNS, TXN_BATCH_ROW_TYPES, TXN_BATCHES_TABLE } from './schema.js';
import type { PendingBatch } from './side-index.js';
import {
  countRows,
  deleteRows,
  sideBatchesBetween,
  sideRows,
  sideRowsFrom,
  stagedBatches,
} from './statements.js';
import type { TsvWriter } from './tsv.js';

/** A side row's kind, as its Enum8 stores it. */
export const STAGED = 1;
export const MARKER = 2;
export const COMMITTED = 3;
export const ABORTED = 4;
const KIND_NAMES = ['', 'staged', 'marker', 'committed', 'aborted'];

/** A side row as recovery reads it (./statements.ts `sideRowsFrom`). */
export interface SideRow {
  baseOffset: number;
  lastOffset: number;
  producerId: number;
  producerEpoch: number;
  leaderEpoch: number;
  kind: number;
  version: number;
  /** A marker's bytes; the header (61 bytes) of another batch. */
  head: Buffer;
}

/** Where in a RecordBatch header its fields are (Kafka's RecordBatch v2, big-endian). */
const AT_MAX_TIMESTAMP = 35;
const AT_BASE_SEQUENCE = 53;

/**
 * A staged batch as the side index keeps it, from the batch or from its side row. `header`: the
 * batch's first 61 bytes, or none for an ended row (no bytes), whose sequence and timestamp are then
 * unknown (-1): its records are in the topic's table, which has them.
 */
export function pendingOf(
  b: Pick<StoredBatch, 'baseOffset' | 'lastOffset' | 'producerId' | 'producerEpoch'>,
  leaderEpoch: number,
  header: Buffer,
  version: number,
): PendingBatch {
  const known = header.length >= RECORD_BATCH_HEADER_SIZE;
  return {
    baseOffset: b.baseOffset,
    lastOffset: b.lastOffset,
    producerId: b.producerId,
    producerEpoch: b.producerEpoch,
    leaderEpoch,
    baseSequence: known ? header.readInt32BE(AT_BASE_SEQUENCE) : -1,
    maxTimestamp: known ? Number(header.readBigInt64BE(AT_MAX_TIMESTAMP)) : -1,
    version,
    isTransactional: true,
    isControl: false,
  };
}

export class SideBatches {
  private readonly flusher: Flusher;

  constructor(
    private readonly backend: Backend,
    inserts: InsertContext,
    pacing: SinkPacing,
    reports: FlushReports,
  ) {
    this.flusher = new Flusher(
      (chunks) =>
        insertWithRetry(
          inserts,
          backend.table(TXN_BATCHES_TABLE),
          TXN_BATCH_ROW_COLUMNS,
          chunks,
          inserts.token(),
          { records: 'transactions', types: TXN_BATCH_ROW_TYPES },
        ),
      pacing.lingerMs,
      pacing.maxFlushBytes,
      (o) => reports.report('transactions', undefined, o),
      pacing.insertsInFlight,
    );
  }

  /** The side rows of a partition under `fences` (SQL), as every statement here takes them. */
  rowsOf(topicId: string, partition: number, fences: readonly LeaderEpochStart[]): string {
    return sideRows(topicId, partition, fences);
  }

  /** Adds the row of a staged batch or a marker to `w`: its bytes as they are. */
  writeBatch(w: TsvWriter, topicId: string, partition: number, b: StoredBatch, version: number): void {
    this.head(w, topicId, partition, b.baseOffset, b.lastOffset, b.producerId, b.producerEpoch);
    w.int(batchLeaderEpoch(b))
      .tab()
      .text(KIND_NAMES[b.isControl ? MARKER : STAGED]!)
      .tab()
      .string(b.bytes, 0, b.bytes.length)
      .tab()
      .int(version)
      .newline();
  }

  /** Adds the row that ends a staged batch to `w`: committed or aborted, no bytes, a newer version. */
  writeEnd(w: TsvWriter, topicId: string, partition: number, b: PendingBatch, kind: number, version: number) {
    this.head(w, topicId, partition, b.baseOffset, b.lastOffset, b.producerId, b.producerEpoch);
    w.int(b.leaderEpoch)
      .tab()
      .text(KIND_NAMES[kind]!)
      .tab()
      .tab()
      .int(Math.max(version, b.version + 1))
      .newline();
  }

  private head(
    w: TsvWriter,
    topicId: string,
    partition: number,
    base: number,
    last: number,
    producerId: number,
    producerEpoch: number,
  ): void {
    w.text(topicId).tab().int(partition).tab().int(base).tab().int(last).tab();
    w.int(producerId).tab().int(producerEpoch).tab();
  }

  /** Inserts rows with the next group commit of the side table. */
  insert(chunk: Buffer, rows: number): Promise<void> {
    return this.flusher.add(chunk, rows);
  }

  /** Resolves when the side inserts under way have ended. */
  drain(): Promise<void> {
    return this.flusher.drain();
  }

  /**
   * The staged batches and markers of `rows` that reach into [from, to), in offset order, at most
   * `limit` of them; bytes exactly as appended.
   */
  async between(what: string, rows: string, from: number, to: number, limit: number): Promise<StoredBatch[]> {
    return this.batches(what, sideBatchesBetween(this.backend.database, rows, from, to, limit));
  }

  /** Of a producer's batches at `offsets`, those still staged, with their bytes, in offset order. */
  async staged(
    what: string,
    rows: string,
    producerId: number,
    offsets: readonly number[],
  ): Promise<StoredBatch[]> {
    if (offsets.length === 0) return [];
    return this.batches(what, stagedBatches(this.backend.database, rows, producerId, offsets));
  }

  /** The batches a query of (base_offset, bytes) rows returns. */
  private async batches(what: string, sql: string): Promise<StoredBatch[]> {
    const r = await this.backend.select(what, sql);
    const out: StoredBatch[] = [];
    while (!r.done) {
      r.i64();
      out.push(storedBatchOf(r.bytes()));
    }
    return out;
  }

  /** Every side row of `rows` ending at or after `from`, in offset order (recovery). */
  async list(what: string, rows: string, from: number): Promise<SideRow[]> {
    const r = await this.backend.select(what, sideRowsFrom(this.backend.database, rows, from));
    const out: SideRow[] = [];
    while (!r.done) {
      out.push({
        baseOffset: r.i64(),
        lastOffset: r.i64(),
        producerId: r.i64(),
        producerEpoch: r.i16(),
        leaderEpoch: r.i32(),
        kind: r.i8(),
        version: r.u64(),
        head: r.bytes(),
      });
    }
    return out;
  }

  /**
   * Removes the side rows `where` selects, when there are any (`unseen`: even when a read finds
   * none, see ./partition-states.ts). A lightweight DELETE: only off the hot path (failed appends,
   * DeleteRecords, deleted topics).
   */
  async remove(what: string, where: string, unseen: boolean): Promise<void> {
    const table = this.backend.table(TXN_BATCHES_TABLE);
    if (!unseen) {
      const r = await this.backend.select(`look for ${what}`, countRows(table, where));
      if (r.u64() === 0) return;
    }
    await this.backend.command(`remove ${what}`, deleteRows(table, where));
  }
}
