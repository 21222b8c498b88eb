/**
 * Where rows of a topic's records go: the group commit into the topic's own table (./flusher.ts, one
 * per topic, made on first use), or the sink of the table the topic is bound to (./bound-topics.ts).
 * Appends (./partition-writer.ts) and commits of transactions (./transaction-ends.ts) both insert
 * through here, so a commit's rows share inserts with the appends of the moment.
 */
import type { ChunkTarget } from './bound-insert.js';
import type { BoundSchema } from './bound-table.js';
import { type BoundTopics, boundPartitionRows, type SinkPacing } from './bound-topics.js';
import type { FlushReports } from './flush-reports.js';
import { Flusher } from './flusher.js';
import { type InsertContext, insertWithRetry } from './insert-retry.js';
import { TOPIC_INSERT_COLUMNS, TOPIC_INSERT_TYPES } from './schema.js';
import { rowsOfEpochOrOlder } from './statements.js';
import { fencesOf, noteTableFailure, type TopicState } from './topic-state.js';

export class TopicRows {
  constructor(
    private readonly bound: BoundTopics,
    private readonly inserts: InsertContext,
    private readonly pacing: SinkPacing,
    private readonly reports: FlushReports,
  ) {}

  /** Inserts rows (RowBinary, ./records.ts) into the topic's own table with the next group commit. */
  intoOwn(t: TopicState, chunk: Buffer, rows: number): Promise<void> {
    return this.flusherOf(t).add(chunk, rows);
  }

  /**
   * Inserts rows of a bound topic's records (offsets `from` to `to` of `partition`, ./bound-rows.ts)
   * into its table with the next group commit of that table. A failure marks the table's columns to
   * be read again.
   */
  intoBound(
    t: TopicState,
    s: BoundSchema,
    partition: number,
    chunk: Buffer,
    rows: number,
    from: number,
    to: number,
  ): Promise<void> {
    const target: ChunkTarget = {
      topic: t.record.name,
      partition,
      from,
      to,
      // What a refused grouped insert may have left, this leader's epoch or older only.
      filter: rowsOfEpochOrOlder(
        boundPartitionRows(t, s, partition),
        fencesOf(t, partition).latest?.epoch ?? null,
      ),
    };
    return this.bound
      .sinkFor(s)
      .add(chunk, rows, target)
      .catch((e: unknown) => {
        t.bound!.stale = true;
        throw e;
      });
  }

  /** The group commit into the topic's own table, made on its first use. */
  private flusherOf(t: TopicState): Flusher {
    t.flusher ??= new Flusher(
      (chunks) => this.insertOwnRows(t, chunks),
      this.pacing.lingerMs,
      this.pacing.maxFlushBytes,
      (o) => this.reports.report('records', t.record.name, o),
      this.pacing.insertsInFlight,
    );
    return t.flusher;
  }

  /** One group-commit insert into a topic's own table. */
  private insertOwnRows(t: TopicState, chunks: Buffer[]): Promise<void> {
    return insertWithRetry(this.inserts, t.table, TOPIC_INSERT_COLUMNS, chunks, this.inserts.token(), {
      records: `topic ${t.record.name}`,
      format: 'RowBinary',
      types: TOPIC_INSERT_TYPES,
      onFailure: (f) => noteTableFailure(t, f),
    });
  }
}
