/**
 * Topics bound to a user's table (`kch.table`, ./bound-table.ts) as the storage runs them: the
 * table's columns as last read (refreshed for record checks, read again after a failed insert), the
 * check of a new binding, and the group commits into bound tables (./bound-insert.ts), one per table,
 * format and column list, shared by the topics bound to it.
 */
import { StorageError } from '../storage.js';
import type { Backend } from './backend.js';
import { recordCheckFor } from './bound-check.js';
import { BoundSink } from './bound-insert.js';
import {
  type Binding,
  type BoundSchema,
  columnsSql,
  describeTable,
  LEADER_EPOCH,
  OFFSET,
  partitionFilter,
  type TableInfo,
  tableColumn,
  tableSql,
} from './bound-table.js';
import type { FlushReports } from './flush-reports.js';
import type { InsertContext } from './insert-retry.js';
import { type PartitionRows, partitionRows } from './statements.js';
import { fencesOf, ownRowsOf, type TopicState } from './topic-state.js';

/** How group commits into bound tables are paced (the storage's options). */
export interface SinkPacing {
  readonly lingerMs: number;
  readonly maxFlushBytes: number;
  readonly insertsInFlight: number;
}

/**
 * The rows of a partition in a bound table (only the topic's, when the table holds several), under
 * the partition's fences when the table keeps `_leader_epoch` (without it, nothing can be hidden:
 * such a table is refused a leadership where several brokers share the database, see `canLead`).
 */
export function boundPartitionRows(t: TopicState, s: BoundSchema, partition: number): PartitionRows {
  const epoch = s.virtuals.has('_leader_epoch') ? LEADER_EPOCH : null;
  return partitionRows(partitionFilter(s, partition), OFFSET, epoch, fencesOf(t, partition).starts);
}

/**
 * Why the table `s` cannot keep apart a deposed leader's writes where several brokers share the
 * database (it has no `_leader_epoch`), in words for the user; null when it can.
 */
export function leaderEpochProblem(s: BoundSchema): string | null {
  if (s.virtuals.has('_leader_epoch')) return null;
  const where = `${s.binding.database}.${s.binding.table}`;
  return (
    `table ${where} has no _leader_epoch column, which several brokers sharing this database need to keep a deposed leader's writes apart: ` +
    `add it (ALTER TABLE ${s.binding.quoted} ADD COLUMN _leader_epoch Int32 DEFAULT 0), or bind the topic on a database of one broker`
  );
}

export class BoundTopics {
  /** Group commits into tables topics are bound to, by table, format and column list. */
  private readonly sinks = new Map<string, BoundSink>();

  constructor(
    private readonly backend: Backend,
    private readonly inserts: InsertContext,
    private readonly pacing: SinkPacing,
    private readonly reports: FlushReports,
    /** Whether other brokers may share the database (the storage's cluster store says so). */
    private readonly manyBrokers: () => boolean = () => false,
  ) {}

  /** What ClickHouse says about a table. Null when it does not exist. */
  private async tableInfo(b: Binding, what: string): Promise<TableInfo | null> {
    const c = await this.backend.select(what, columnsSql(b));
    const columns = [];
    while (!c.done) columns.push(tableColumn(c.string(), c.string(), c.string()));
    const e = await this.backend.select(what, tableSql(b));
    if (e.done) return null;
    return { columns, engine: e.string(), createQuery: e.string() };
  }

  /**
   * Checks that a new binding can hold the topic: the table exists with what kch needs (with other
   * brokers sharing the database, `_leader_epoch` too), and is not another of `topics`' unless rows
   * say which topic they belong to (`_topic`).
   */
  async bind(b: Binding, topic: string, topics: Iterable<TopicState>): Promise<BoundSchema> {
    const schema = describeTable(
      b,
      topic,
      await this.tableInfo(b, `read the columns of ${b.database}.${b.table}`),
    );
    const problem = this.manyBrokers() ? leaderEpochProblem(schema) : null;
    if (problem) throw new StorageError('INVALID_REQUEST', `cannot bind topic ${topic}: ${problem}`, false);
    if (!schema.virtuals.has('_topic')) {
      for (const other of topics) {
        if (other.bound?.binding.quoted !== b.quoted || other.record.name === topic) continue;
        throw new StorageError(
          'INVALID_REQUEST',
          `table ${b.database}.${b.table} already holds topic ${other.record.name}, and has no _topic column to tell the topics' rows apart: ` +
            'add `_topic LowCardinality(String)` to share it (first in ORDER BY, for fast fetches), or bind another table',
          false,
        );
      }
    }
    return schema;
  }

  /**
   * The bound table's schema, read again when older than `maxAgeMs` or after a failed insert. While
   * ClickHouse does not answer, the last one read serves.
   */
  async schema(t: TopicState, maxAgeMs = Number.POSITIVE_INFINITY): Promise<BoundSchema> {
    const b = t.bound!;
    if (b.schema && !b.stale && Date.now() - b.loadedAt < maxAgeMs) return b.schema;
    b.loading ??= (async () => {
      try {
        const what = `read the columns of ${b.binding.database}.${b.binding.table}`;
        const schema = describeTable(b.binding, t.record.name, await this.tableInfo(b.binding, what));
        b.schema = schema;
        b.check = recordCheckFor(schema);
        b.loadedAt = Date.now();
        b.stale = false;
        return schema;
      } catch (e) {
        if (b.schema && e instanceof StorageError && e.kind === 'UNAVAILABLE') return b.schema;
        if (e instanceof StorageError && e.kind === 'INVALID_REQUEST') {
          // The table was fine when bound: it changed since (dropped, or _offset removed). Producers
          // retry until it is back.
          throw new StorageError(
            'UNAVAILABLE',
            `topic ${t.record.name} cannot use its table: ${e.message}`,
            true,
            { cause: e },
          );
        }
        throw e;
      } finally {
        b.loading = null;
      }
    })();
    return b.loading;
  }

  /**
   * The rows of a partition in the topic's table, own or bound, under the partition's fences (a bound
   * table without `_leader_epoch`: not fenced), for SQL written for both.
   */
  async partitionRows(t: TopicState, partition: number): Promise<PartitionRows> {
    if (!t.bound) return ownRowsOf(t, partition);
    return boundPartitionRows(t, await this.schema(t), partition);
  }

  /**
   * Refuses a leadership of a bound topic's partition when other brokers share the database and its
   * table keeps no `_leader_epoch`: its rows could not be fenced, and a deposed leader's clean-up could
   * delete the new leader's acknowledged records. A table bound before many brokers shared the
   * database (or altered since) comes here; a new binding is refused at `bind`.
   */
  async canLead(t: TopicState): Promise<void> {
    if (!t.bound || !this.manyBrokers()) return;
    const problem = leaderEpochProblem(await this.schema(t));
    if (problem)
      throw new StorageError('INTERNAL', `topic ${t.record.name} cannot be led: ${problem}`, false);
  }

  /** The group commit of a bound table's rows in a format and column list, shared by its topics. */
  sinkFor(s: BoundSchema): BoundSink {
    const columns = s.binding.format === 'JSONEachRow' ? [] : s.insertColumns;
    const key = JSON.stringify([s.binding.quoted, s.binding.format, columns, s.deduplicates]);
    let sink = this.sinks.get(key);
    if (!sink) {
      const { lingerMs, maxFlushBytes, insertsInFlight } = this.pacing;
      sink = new BoundSink(
        this.inserts,
        s.binding.quoted,
        s.binding.format,
        columns,
        s.deduplicates,
        lingerMs,
        maxFlushBytes,
        // Reported under the topic that opened the sink (a table may hold several).
        (o) => this.reports.report('records', s.topic, o),
        insertsInFlight,
      );
      this.sinks.set(key, sink);
    }
    return sink;
  }

  /** Resolves when the inserts into `table` (quoted), or into every bound table, have ended. */
  async drain(table?: string): Promise<void> {
    const sinks = [...this.sinks.values()].filter((k) => table === undefined || k.table === table);
    await Promise.all(sinks.map((k) => k.flusher.drain()));
  }
}
