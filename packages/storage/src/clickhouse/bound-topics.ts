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
  OFFSET,
  partitionFilter,
  type TableInfo,
  tableColumn,
  tableSql,
} from './bound-table.js';
import type { FlushReports } from './flush-reports.js';
import type { InsertContext } from './insert-retry.js';
import type { PartitionRows } from './statements.js';
import { ownRowsOf, type TopicState } from './topic-state.js';

/** How group commits into bound tables are paced (the storage's options). */
export interface SinkPacing {
  readonly lingerMs: number;
  readonly maxFlushBytes: number;
  readonly insertsInFlight: number;
}

/** The rows of a partition in a bound table (only the topic's, when the table holds several). */
export function boundPartitionRows(s: BoundSchema, partition: number): PartitionRows {
  return { where: partitionFilter(s, partition), offset: OFFSET };
}

export class BoundTopics {
  /** Group commits into tables topics are bound to, by table, format and column list. */
  private readonly sinks = new Map<string, BoundSink>();

  constructor(
    private readonly backend: Backend,
    private readonly inserts: InsertContext,
    private readonly pacing: SinkPacing,
    private readonly reports: FlushReports,
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
   * Checks that a new binding can hold the topic: the table exists with what kch needs, and is not
   * another of `topics`' unless rows say which topic they belong to (`_topic`).
   */
  async bind(b: Binding, topic: string, topics: Iterable<TopicState>): Promise<BoundSchema> {
    const schema = describeTable(
      b,
      topic,
      await this.tableInfo(b, `read the columns of ${b.database}.${b.table}`),
    );
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
   * The rows of a partition in the topic's table, own (under the partition's fences) or bound (not
   * fenced: no leader epoch is stored there), for SQL written for both.
   */
  async partitionRows(t: TopicState, partition: number): Promise<PartitionRows> {
    if (!t.bound) return ownRowsOf(t, partition);
    return boundPartitionRows(await this.schema(t), partition);
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
