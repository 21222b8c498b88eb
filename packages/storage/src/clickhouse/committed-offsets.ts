/**
 * Committed offsets of consumer groups, in `_kch_group_offsets`: commits go through a group commit of
 * their own (many groups commit every few seconds), deletions are newer rows marked deleted.
 */
import type { CommittedOffset, TopicPartition } from '../storage.js';
import type { Backend } from './backend.js';
import type { FlushReports } from './flush-reports.js';
import { Flusher } from './flusher.js';
import type { MetadataStore } from './metadata-store.js';
import type { RowBinaryReader } from './rowbinary.js';
import { GROUP_OFFSET_ROW_COLUMNS, GROUP_OFFSETS_TABLE } from './schema.js';
import { int, str } from './sql.js';
import { deleteOffsetsWhere, groupOffsets, offsetGroups } from './statements.js';
import { TsvWriter } from './tsv.js';

export class CommittedOffsets {
  private flusher: Flusher | null = null;

  constructor(
    private readonly backend: Backend,
    private readonly metadata: MetadataStore,
    private readonly reports: FlushReports,
  ) {}

  /** Starts the group commit of offsets, paced as the records' are. */
  open(lingerMs: number, maxFlushBytes: number): void {
    const b = this.backend;
    this.flusher = new Flusher(
      (chunks) =>
        b.run('store committed offsets', () =>
          b.t.insertBytes(b.table(GROUP_OFFSETS_TABLE), GROUP_OFFSET_ROW_COLUMNS, chunks),
        ),
      lingerMs,
      maxFlushBytes,
      (o) => this.reports.report('offsets', undefined, o),
    );
  }

  /** Resolves when the commits handed in so far are stored (or failed). */
  async drain(): Promise<void> {
    await this.flusher?.drain();
  }

  async commit(group: string, offsets: readonly CommittedOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    const w = new TsvWriter(256 * offsets.length);
    const g = Buffer.from(group);
    for (const o of offsets) {
      w.string(g, 0, g.length).tab().text(o.topic).tab();
      w.int(o.partition).tab().int(o.offset).tab().int(o.leaderEpoch).tab();
      if (o.metadata === null) w.null();
      else w.text(o.metadata);
      w.tab().int(o.commitTimestamp).tab().int(0).tab().int(this.metadata.nextVersion()).newline();
    }
    await this.flusher!.add(w.view(), offsets.length);
  }

  async fetch(group: string): Promise<CommittedOffset[]> {
    const r = await this.backend.select(
      `fetch the offsets of group ${group}`,
      groupOffsets(this.backend.database, group),
    );
    const out: CommittedOffset[] = [];
    while (!r.done) out.push(readCommittedOffset(r));
    return out;
  }

  async groups(): Promise<string[]> {
    const r = await this.backend.select('list groups', offsetGroups(this.backend.database));
    const out: string[] = [];
    while (!r.done) out.push(r.string());
    return out;
  }

  /** Deletes a group's offsets: all of them, or those of `partitions`. */
  async deleteGroup(group: string, partitions?: readonly TopicPartition[]): Promise<void> {
    if (partitions && partitions.length === 0) return;
    await this.flusher!.drain();
    const only = partitions
      ? ` AND (topic, partition) IN (${partitions.map((tp) => `(${str(tp.topic)}, ${int(tp.partition)})`).join(', ')})`
      : '';
    await this.deleteWhere(`delete the offsets of group ${group}`, `group_id = ${str(group)}${only}`);
  }

  /** Deletes every group's offsets of a topic (the topic is being deleted). */
  deleteTopic(topic: string): Promise<void> {
    return this.deleteWhere(`delete the committed offsets of topic ${topic}`, `topic = ${str(topic)}`);
  }

  private deleteWhere(what: string, where: string): Promise<void> {
    const sql = deleteOffsetsWhere(this.backend.database, this.metadata.nextVersion(), where);
    return this.backend.command(what, sql);
  }
}

/**
 * A committed offset in RowBinary: topic, partition Int32, offset Int64, leader_epoch Int32, metadata
 * Nullable(String), commit_timestamp Int64 (a `_kch_group_offsets` row, or a pending one of a
 * transaction in `_kch_transactions`).
 */
export function readCommittedOffset(r: RowBinaryReader): CommittedOffset {
  return {
    topic: r.string(),
    partition: r.i32(),
    offset: r.i64(),
    leaderEpoch: r.i32(),
    metadata: r.nullableString(),
    commitTimestamp: r.i64(),
  };
}
