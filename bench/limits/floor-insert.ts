/**
 * The floor of acks=all latency at a fixed rate: the same rows inserted at the same rate through the
 * storage's own insert path, with no Kafka in between. In a process of its own (chdb binds one data
 * directory per process):
 *
 *   node --import tsx --conditions=source bench/limits/floor-insert.ts '<json options>'
 *
 * Every `tickMs` (librdkafka's linger.ms of the bench's producer, 5 ms) the records due at `rate` are
 * made into one RecordBatch (the client's work, not timed), then timed: written as rows
 * (records.ts `writeBatchRows`, as a Produce request is) and handed to the storage's group commit
 * (flusher.ts `Flusher`, with the storage's lingerMs, maxFlushBytes and insertsInFlight) whose insert
 * is the storage's own (insert-retry.ts `insertWithRetry`: RowBinary, the topic table's columns, a
 * dedup token) into a table made by `topicTableDdl`. So the rows of one linger interval make one
 * insert when none is running, and gather behind one in flight as they do in the broker.
 * Prints one JSON line: per tick, from its rows being handed over to their insert's end (`latencyMs`),
 * and per insert its duration and how long its oldest rows waited (`insertMs`, `queuedMs`).
 */
import { encodeRecordBatchSync } from '@kch/protocol';
import type { StoredBatch } from '@kch/storage';
import { ChdbTransport } from '../../packages/storage/src/clickhouse/chdb-transport.js';
import { Flusher } from '../../packages/storage/src/clickhouse/flusher.js';
import { clickhouseStorageOptionsSchema } from '../../packages/storage/src/clickhouse/options.js';
import { writeBatchRows } from '../../packages/storage/src/clickhouse/records.js';
import { RowBinaryWriter } from '../../packages/storage/src/clickhouse/rowbinary.js';
import { topicTableDdl } from '../../packages/storage/src/clickhouse/schema.js';
import { bareInserter, storedBatch } from '../lib/bare-insert.js';
import { percentiles } from '../lib/stats.js';
import { readPool } from '../lib/values.js';

interface Options {
  dir: string;
  size: number;
  pool: string;
  rate: number;
  seconds: number;
  partitions: number;
  tickMs: number;
}

const o = JSON.parse(process.argv[2] ?? '{}') as Options;
// The pacing a broker's storage would have, KCH_BENCH_CHDB_OPTIONS included (as bench/broker-child.ts).
const config = clickhouseStorageOptionsSchema.parse({
  chdb: o.dir,
  ...(JSON.parse(process.env.KCH_BENCH_CHDB_OPTIONS ?? '{}') as Record<string, unknown>),
});
const pool = readPool(o.pool, o.size);
const DB = 'bench';
const t = await ChdbTransport.open(o.dir);
await t.command(`CREATE DATABASE IF NOT EXISTS ${DB}`);
await t.command(topicTableDdl(DB, 'floor', null, config.deduplicationWindow, config.topicTableSettings));
const table = `${DB}.\`floor\``;

const insertMs: number[] = [];
const queuedMs: number[] = [];
let inserts = 0;
let insertedRows = 0;
const flusher = new Flusher(
  bareInserter(t, table),
  config.lingerMs,
  config.maxFlushBytes,
  (f) => {
    inserts++;
    insertedRows += f.rows;
    insertMs.push(f.durationMs);
    queuedMs.push(f.queuedMs);
  },
  config.insertsInFlight,
);

// One warm-up insert before the clock starts, as the broker's topic exists and was written to once
// (kafkajs) or its first Produce request opened the partition.
const next = new Array<number>(o.partitions).fill(0);
function batchOf(partition: number, count: number, first: number): StoredBatch {
  const records = new Array(count);
  const ts = BigInt(Date.now());
  for (let k = 0; k < count; k++)
    records[k] = { key: null, value: pool[(first + k) % pool.length]!, timestamp: ts };
  const baseOffset = next[partition]!;
  next[partition] = baseOffset + count;
  return storedBatch({
    baseOffset,
    count,
    bytes: encodeRecordBatchSync({ baseOffset: BigInt(baseOffset), records }),
  });
}
async function hand(partition: number, b: StoredBatch): Promise<void> {
  const w = new RowBinaryWriter(Math.max(4096, b.bytes.length * 2));
  const { records } = await writeBatchRows(w, partition, b);
  return flusher.add(Buffer.from(w.view()), records);
}
await hand(0, batchOf(0, 1, 0));
inserts = 0;
insertedRows = 0;
insertMs.length = 0;
queuedMs.length = 0;

const total = Math.round(o.rate * o.seconds);
const latencyMs: number[] = [];
const lateMs: number[] = [];
const pending: Promise<void>[] = [];
let sent = 0;
let tick = 0;
// process.cpuUsage() counts every thread of the process, the embedded ClickHouse's included.
const cpu0 = process.cpuUsage();
const t0 = performance.now();
while (sent < total) {
  const due = t0 + tick * o.tickMs;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const now = performance.now();
  lateMs.push(Math.max(0, now - due));
  const count = Math.min(total, Math.floor(((now - t0) / 1000) * o.rate)) - sent;
  tick++;
  if (count <= 0) continue;
  // A producer with null keys sticks to one partition for a while (librdkafka's sticky partitioner):
  // one partition's batch per linger interval, the next partition the next time.
  const partition = tick % o.partitions;
  const b = batchOf(partition, count, sent);
  sent += count;
  const s0 = performance.now();
  pending.push(hand(partition, b).then(() => void latencyMs.push(performance.now() - s0)));
}
await Promise.all(pending);
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
await t.close();
process.stdout.write(
  `${JSON.stringify({
    records: sent,
    seconds,
    ticks: latencyMs.length,
    inserts,
    rowsPerInsert: inserts ? insertedRows / inserts : 0,
    pacing: { lingerMs: config.lingerMs, insertsInFlight: config.insertsInFlight },
    latencyMs: percentiles(latencyMs),
    insertMs: percentiles(insertMs),
    queuedMs: percentiles(queuedMs),
    timerLateMs: percentiles(lateMs),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  })}\n`,
);
