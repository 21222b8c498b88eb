/**
 * Group commit into a table a topic is bound to (./bound-table.ts): one {@link BoundSink} per table,
 * input format and column list, shared by every topic bound to that table. Appends arriving within
 * the linger window go as one insert (./flusher.ts), deduplicated by its token.
 *
 * Failures:
 * - Transient (network, overload): retried with the same token only where that cannot store rows
 *   twice: an embedded engine (a failed insert stored nothing) or a table that deduplicates tokens
 *   (Replicated/Shared engines; a plain MergeTree needs non_replicated_deduplication_window, which kch
 *   does not set on a user's table). Otherwise the appends fail retriably, and the storage removes
 *   whatever may have landed before the offsets are used again.
 * - Refused (ClickHouse could not parse a value the record check passed): the appends of the group
 *   are inserted one by one, after removing any rows the grouped insert may have left, so that only
 *   the offending append fails, with a non-retriable error naming the table and the offsets.
 */
import { StorageError } from '../storage.js';
import { FlushError } from './flush-error.js';
import { Flusher, type FlushObservation } from './flusher.js';
import { type InsertContext, insertWithRetry } from './insert-retry.js';
import { ident, int } from './sql.js';
import { countRows, deleteRows } from './statements.js';
import {
  type BackendFailure,
  backendFailure,
  describeFailure,
  type Settings,
  UNKNOWN_TABLE,
} from './transport.js';

/** How ClickHouse reads bound rows: unknown JSON members ignored, dates as people write them. */
export const BOUND_INSERT_SETTINGS: Settings = {
  input_format_skip_unknown_fields: 1,
  date_time_input_format: 'best_effort',
  input_format_null_as_default: 1,
  input_format_csv_empty_as_default: 1,
  input_format_tsv_empty_as_default: 1,
};

/** What a chunk of rows (one append) holds, to clean up after it and to name it in errors. */
export interface ChunkTarget {
  topic: string;
  partition: number;
  from: number;
  to: number;
  /**
   * SQL selecting the partition's rows this leader may delete (`_partition = p [AND _topic = t]`, and
   * with a leadership `_leader_epoch` of its epoch or older: never a successor's rows).
   */
  filter: string;
}

/** A refusal by ClickHouse (not transient): the statement or its data is wrong. */
class Refused extends Error {
  constructor(
    readonly failure: BackendFailure,
    readonly original: unknown,
  ) {
    super(failure.message);
  }
}

/**
 * A failure that is not transient is the rows' fault, except a table dropped behind kch's back:
 * that one stays retriable, until the table is back.
 */
function refuse(f: BackendFailure, e: unknown): void {
  if (!f.transient && f.code !== undefined && f.code !== UNKNOWN_TABLE) throw new Refused(f, e);
}

export class BoundSink {
  readonly flusher: Flusher;
  private readonly targets = new Map<Buffer, ChunkTarget & { error?: StorageError }>();

  constructor(
    private readonly ctx: InsertContext,
    /** Quoted `db`.`table`. */
    readonly table: string,
    readonly format: string,
    /** The insert's column list (empty: matched by name, JSONEachRow). */
    readonly columns: readonly string[],
    readonly deduplicates: boolean,
    lingerMs: number,
    maxFlushBytes: number,
    observe: (o: FlushObservation) => void,
    maxInFlight: number,
  ) {
    this.flusher = new Flusher((chunks) => this.flush(chunks), lingerMs, maxFlushBytes, observe, maxInFlight);
  }

  /** Resolves once the rows are stored; rejects with a FlushError otherwise. */
  async add(chunk: Buffer, rows: number, target: ChunkTarget): Promise<void> {
    const entry: ChunkTarget & { error?: StorageError } = { ...target };
    this.targets.set(chunk, entry);
    try {
      await this.flusher.add(chunk, rows);
    } finally {
      this.targets.delete(chunk);
    }
    if (entry.error) throw new FlushError(entry.error, []);
  }

  private async flush(chunks: Buffer[]): Promise<void> {
    const token = this.ctx.token();
    try {
      await this.insert(chunks, token);
      return;
    } catch (e) {
      if (!(e instanceof Refused)) throw e;
      if (chunks.length === 1) throw new FlushError(this.refusal(chunks[0]!, e), []);
    }
    // Which append did ClickHouse refuse? Each alone, after removing what the group may have left.
    await this.removeLanded(chunks);
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]!;
      try {
        await this.insert([c], `${token}-${i}`);
      } catch (e) {
        const target = this.targets.get(c);
        if (target) target.error = e instanceof Refused ? this.refusal(c, e) : (e as FlushError).error;
      }
    }
  }

  /** One insert; transient failures retried where safe. Throws Refused or FlushError. */
  private insert(chunks: Buffer[], token: string): Promise<void> {
    return insertWithRetry(this.ctx, this.table, this.columns, chunks, token, {
      records: `table ${this.table}`,
      format: this.format,
      settings: BOUND_INSERT_SETTINGS,
      mayRetry: this.deduplicates || !this.ctx.transport().remote,
      onFailure: refuse,
    });
  }

  private refusal(chunk: Buffer, e: Refused): StorageError {
    const target = this.targets.get(chunk);
    const what = target
      ? `the records of ${target.topic}-${target.partition} at offsets ${target.from} to ${target.to}`
      : 'records';
    return new StorageError(
      'INVALID_REQUEST',
      `ClickHouse table ${this.table} refused ${what}: ${describeFailure(e.failure)}. ` +
        'kch checked them against the table first; the table may have changed since, or ClickHouse reads a value differently. They were not stored.',
      false,
      { cause: e.original },
    );
  }

  /** Deletes rows of `chunks` that a failed insert may have stored (parts of it can land). */
  private async removeLanded(chunks: Buffer[]): Promise<void> {
    const where = chunks
      .map((c) => this.targets.get(c))
      .filter((x) => x !== undefined)
      .map(
        (x) =>
          `(${x.filter} AND ${ident('_offset')} >= ${int(x.from)} AND ${ident('_offset')} <= ${int(x.to)})`,
      )
      .join(' OR ');
    if (!where) return;
    const t = this.ctx.transport();
    try {
      // As ./partition-states.ts: on a replicated table a read may not see the insert yet.
      const landed = async () => {
        const count = await t.selectBytes(countRows(this.table, where));
        return count.length >= 8 && count.readBigUInt64LE(0) > 0n;
      };
      if (this.ctx.dialect().insertsMayLandLate || (await landed()))
        await t.command(deleteRows(this.table, where));
    } catch (e) {
      const error = new StorageError(
        'UNAVAILABLE',
        `ClickHouse refused an insert into ${this.table} and kch could not check what it left (${describeFailure(backendFailure(e))}); the client may retry.`,
        true,
        { cause: e },
      );
      throw new FlushError(error, []);
    }
  }
}
