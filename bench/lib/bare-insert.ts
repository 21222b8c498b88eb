/**
 * The storage's insert of a group commit (packages/storage insert-retry.ts `insertWithRetry`: RowBinary,
 * the topic table's columns, a dedup token), called with no storage around it, for the scripts that
 * measure an insert alone (bench/limits/floor-insert.ts, bench/limits/insert-settings.ts).
 */
import type { StoredBatch } from '@kch/storage';
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

/** A RecordBatch as the storage gets it from a Produce request (no producer id, not transactional). */
export function storedBatch(b: { baseOffset: number; count: number; bytes: Buffer }): StoredBatch {
  return {
    baseOffset: b.baseOffset,
    lastOffset: b.baseOffset + b.count - 1,
    recordCount: b.count,
    baseTimestamp: 0,
    maxTimestamp: 0,
    producerId: -1,
    producerEpoch: -1,
    baseSequence: -1,
    isTransactional: false,
    isControl: false,
    bytes: b.bytes,
  };
}
