/**
 * The storage's insert of a group commit (packages/storage insert-retry.ts `insertWithRetry`: RowBinary,
 * the topic table's columns, a dedup token), called with no storage around it, for the scripts that
 * measure an insert alone (bench/limits/floor-insert.ts, bench/limits/insert-settings.ts).
 */
import type { ChdbTransport } from '../../packages/storage/src/clickhouse/chdb-transport.js';
import { SINGLE_SERVER } from '../../packages/storage/src/clickhouse/cluster-ddl.js';
import { insertWithRetry } from '../../packages/storage/src/clickhouse/insert-retry.js';
import { TOPIC_INSERT_COLUMNS, TOPIC_INSERT_TYPES } from '../../packages/storage/src/clickhouse/schema.js';
import type { Settings } from '../../packages/storage/src/clickhouse/transport.js';

/** Inserts chunks of topic rows into `table` as the storage does (no retries); `settings` go with it. */
export function bareInserter(t: ChdbTransport, table: string, settings: Settings = {}) {
  let seq = 0;
  const ctx = {
    transport: () => t,
    insertRetries: 0,
    retryBackoffMs: 0,
    closing: () => false,
    location: 'bench',
    token: () => `bare-${process.pid}-${++seq}`,
    dialect: () => SINGLE_SERVER,
  };
  return (chunks: Buffer[]): Promise<void> =>
    insertWithRetry(ctx, table, TOPIC_INSERT_COLUMNS, chunks, ctx.token(), {
      records: table,
      format: 'RowBinary',
      types: TOPIC_INSERT_TYPES,
      settings,
    });
}
