/**
 * The ClickHouse limit: the same rows the broker stores, inserted straight into embedded ClickHouse
 * from Node with the storage's own row writer (records.ts `writeBatchRows`, RowBinary) and
 * its own transport (chdb-transport.ts `insertBytes`, same columns and dedup settings as a group commit),
 * with no Kafka in between. Then the same rows read back the storage's way (RowBinary range SELECTs,
 * re-encoded into RecordBatches by records.ts), the limit of a cold replay. In a process of its own:
 *
 *   node --import tsx --conditions=source bench/limits/direct-insert.ts '<json options>'
 *
 * Measures, on one data directory:
 * - `insertOnly`: rows encoded beforehand, inserts back to back: chdb's own speed for this format;
 * - `limit` (per insert size): encode a group while the previous insert runs (one in flight, as the
 *   storage's flusher does): what a broker could reach at best; the best size is "the" limit; with
 *   this process's CPU (all threads, ClickHouse's included) and the rest of the machine's meanwhile;
 * - `sequential`: encode, then insert, one after the other, for the breakdown (encode ms, insert ms);
 * - `storageAppend`: ClickHouseStorage.append per partition (group commit, partition state) with no broker;
 * - `read`: range SELECTs of about 10 MiB, and the same re-encoded into RecordBatches;
 * - `insertLatency`: how long one insert of 1 ... 50,000 rows takes, with and without the dedup token.
 * Prints one JSON line.
 */
import { readFileSync } from 'node:fs';
import type { StoredBatch } from '@kch/storage';
import { clickhouseStorage } from '@kch/storage';
import { ChdbTransport } from '../../packages/storage/src/clickhouse/chdb-transport.js';
import { encodeRowGroup, groupRows, writeBatchRows } from '../../packages/storage/src/clickhouse/records.js';
import { RowBinaryWriter } from '../../packages/storage/src/clickhouse/rowbinary.js';
import {
  TOPIC_INSERT_COLUMNS,
  TOPIC_INSERT_TYPES,
  TOPIC_READ_COLUMNS,
  topicTableDdl,
} from '../../packages/storage/src/clickhouse/schema.js';
import { storedBatch } from '../lib/bare-insert.js';
import { machineBusySeconds } from '../lib/machine.js';
import { encodeBatches } from '../lib/values.js';

interface Options {
  dir: string;
  size: number;
  pool: string;
  count: number;
  partitions: number;
  /** Row bytes per insert to try for the limit. */
  insertSizes: number[];
  /** Also measure ClickHouseStorage.append and the read path. */
  storageAppend?: boolean;
  read?: boolean;
  /** Only the limit at the first insert size (e.g. binary values). */
  limitOnly?: boolean;
  /** Time single inserts of these many rows, `reps` times each. */
  latencyCurve?: { rows: number[]; reps: number };
}

const o = JSON.parse(process.argv[2] ?? '{}') as Options;
const MiB = 1024 * 1024;
const DB = 'bench';
const data = readFileSync(o.pool);
const pool: Buffer[] = [];
for (let at = 0; at + o.size <= data.length; at += o.size) pool.push(data.subarray(at, at + o.size));

const t = await ChdbTransport.open(o.dir);
await t.command(`CREATE DATABASE IF NOT EXISTS ${DB}`);
const versionRow = await t.selectBytes('SELECT version()');
const clickhouseVersion = versionRow.subarray(1, 1 + versionRow[0]!).toString('utf8');
let tables = 0;
async function newTable(): Promise<string> {
  const name = `direct_${++tables}`;
  await t.command(topicTableDdl(DB, name, null));
  return `${DB}.\`${name}\``;
}

const batches = encodeBatches(pool, o.count, o.partitions);
const records = o.count;
const valueBytes = records * o.size;
const batchBytes = batches.reduce((n, b) => n + b.bytes.length, 0);

const stored = storedBatch;

/** Encodes batches from `from` into rows until about `target` bytes; returns the rows and where it stopped. */
async function encodeGroup(
  from: number,
  target: number,
): Promise<{ bytes: Buffer; next: number; rows: number }> {
  const w = new RowBinaryWriter(Math.min(target * 2, 256 * MiB));
  let i = from;
  let rows = 0;
  while (i < batches.length && (i === from || w.pos < target)) {
    const b = batches[i++]!;
    rows += (await writeBatchRows(w, b.partition, stored(b))).records;
  }
  return { bytes: w.view(), next: i, rows };
}

let seq = 0;
function insert(table: string, rows: Buffer): Promise<void> {
  const token = `direct-${process.pid}-${++seq}`;
  return t.insertBytes(table, TOPIC_INSERT_COLUMNS, [rows], {
    format: 'RowBinary',
    types: TOPIC_INSERT_TYPES,
    queryId: `kch-${token}-0`,
    settings: { insert_deduplicate: 1, insert_deduplication_token: token },
  });
}

const figure = (seconds: number, extra: Record<string, unknown> = {}) => ({
  seconds,
  recordsPerSec: records / seconds,
  valueMiBPerSec: valueBytes / MiB / seconds,
  batchMiBPerSec: batchBytes / MiB / seconds,
  ...extra,
});

const cpu = () => {
  const r = process.resourceUsage();
  return (r.userCPUTime + r.systemCPUTime) / 1e6;
};

const out: Record<string, unknown> = {
  clickhouseVersion,
  records,
  valueBytes,
  batchBytes,
  batches: batches.length,
  partitions: o.partitions,
};

// The limit: encode the next group while the previous insert runs.
const limits: Record<string, unknown>[] = [];
for (const target of o.limitOnly ? o.insertSizes.slice(0, 1) : o.insertSizes) {
  const table = await newTable();
  let inflight: Promise<void> | null = null;
  let inserts = 0;
  let rowBytes = 0;
  const m0 = machineBusySeconds();
  const c0 = cpu();
  const t0 = performance.now();
  for (let i = 0; i < batches.length; ) {
    const g = await encodeGroup(i, target);
    i = g.next;
    rowBytes += g.bytes.length;
    if (inflight) await inflight;
    inflight = insert(table, g.bytes);
    inserts++;
  }
  await inflight;
  const s = (performance.now() - t0) / 1000;
  const cpuSeconds = cpu() - c0;
  limits.push(
    figure(s, {
      insertTargetBytes: target,
      inserts,
      rowBytes,
      cpuSeconds,
      // What the rest of the machine took meanwhile: the limit moves with it, its CPU per record hardly.
      otherCores: Math.max(0, machineBusySeconds() - m0 - cpuSeconds) / s,
      rowBytesPerValue: rowBytes / valueBytes,
    }),
  );
}
out.limits = limits;
const best = [...limits].sort((a, b) => (b.recordsPerSec as number) - (a.recordsPerSec as number))[0]!;
out.limit = best;

if (!o.limitOnly) {
  const target = best.insertTargetBytes as number;
  // Breakdown: encode, then insert, one after the other.
  {
    const table = await newTable();
    let encodeMs = 0;
    let insertMs = 0;
    const t0 = performance.now();
    for (let i = 0; i < batches.length; ) {
      const e0 = performance.now();
      const g = await encodeGroup(i, target);
      i = g.next;
      const e1 = performance.now();
      await insert(table, g.bytes);
      const e2 = performance.now();
      encodeMs += e1 - e0;
      insertMs += e2 - e1;
    }
    const s = (performance.now() - t0) / 1000;
    out.sequential = figure(s, {
      encodeMs,
      insertMs,
      encodeRecordsPerSec: records / (encodeMs / 1000),
    });
  }
  // chdb alone: the rows are encoded beforehand.
  {
    const table = await newTable();
    const groups: Buffer[] = [];
    for (let i = 0; i < batches.length; ) {
      const g = await encodeGroup(i, target);
      i = g.next;
      groups.push(Buffer.from(g.bytes));
    }
    const c0 = cpu();
    const t0 = performance.now();
    for (const g of groups) await insert(table, g);
    const s = (performance.now() - t0) / 1000;
    out.insertOnly = figure(s, { inserts: groups.length, cpuSeconds: cpu() - c0 });
  }
}

if (o.storageAppend) {
  // The storage layer on the same directory (a second connection to it), no broker.
  const storage = clickhouseStorage({ chdb: o.dir, database: 'bench_storage' });
  await storage.open();
  await storage.createTopic({
    name: 'appends',
    topicId: 'appends',
    partitionCount: o.partitions,
    configs: {},
    createdAt: Date.now(),
  });
  const byPartition: StoredBatch[][] = Array.from({ length: o.partitions }, () => []);
  for (const b of batches) byPartition[b.partition]!.push(stored(b));
  for (let p = 0; p < o.partitions; p++) await storage.openPartition({ topic: 'appends', partition: p });
  const c0 = cpu();
  const t0 = performance.now();
  // Each partition appends as soon as its previous append is stored, as a broker's partition log does.
  await Promise.all(
    byPartition.map(async (list, partition) => {
      for (const b of list) await storage.append({ topic: 'appends', partition }, [b]);
    }),
  );
  const s = (performance.now() - t0) / 1000;
  out.storageAppend = figure(s, { cpuSeconds: cpu() - c0 });
  await storage.close();
}

if (o.read) {
  // Read back the first limit table the storage's way: ~10 MiB range SELECTs per partition, each
  // response grouped by batch and re-encoded.
  const table = `${DB}.\`direct_1\``;
  const perRead = Math.max(1000, Math.floor((10 * MiB) / (o.size + 10)));
  const columns = TOPIC_READ_COLUMNS.map((c) => `\`${c}\``).join(', ');
  const perPartition = Math.ceil(records / o.partitions) + 10_000;
  let selectMs = 0;
  let encodeMs = 0;
  let rows = 0;
  let bytes = 0;
  const t0 = performance.now();
  for (let p = 0; p < o.partitions; p++) {
    for (let from = 0; from < perPartition; from += perRead) {
      const s0 = performance.now();
      const buf = await t.selectBytes(
        `SELECT ${columns} FROM ${table} WHERE partition = ${p} AND offset >= ${from} AND offset < ${from + perRead} ORDER BY offset`,
      );
      const s1 = performance.now();
      if (buf.length === 0) break;
      for (const g of groupRows(buf)) {
        const b = await encodeRowGroup(buf, g);
        rows += b.recordCount;
        bytes += b.bytes.length;
      }
      selectMs += s1 - s0;
      encodeMs += performance.now() - s1;
    }
  }
  const s = (performance.now() - t0) / 1000;
  out.read = {
    seconds: s,
    rows,
    bytes,
    recordsPerSec: rows / s,
    selectMs,
    reencodeMs: encodeMs,
    selectOnlyRecordsPerSec: rows / (selectMs / 1000),
  };
}

if (o.latencyCurve) {
  // How long one insert takes by its size: the floor of acks=all latency, since an acknowledgement
  // waits for the insert that carries the record. With the storage's dedup settings and without.
  const table = await newTable();
  const curve: Record<string, unknown>[] = [];
  const roundTrip: number[] = [];
  for (let i = 0; i < o.latencyCurve.reps; i++) {
    const s0 = performance.now();
    await t.selectBytes('SELECT 1');
    roundTrip.push(performance.now() - s0);
  }
  for (const rows of o.latencyCurve.rows) {
    // Exactly `rows` records, in batches as the producer would make them.
    const w = new RowBinaryWriter(1024 * 1024);
    let n = 0;
    for (const b of encodeBatches(pool, rows, 1)) n += (await writeBatchRows(w, 0, stored(b))).records;
    const payload = Buffer.from(w.view());
    for (const dedup of [true, false]) {
      const ms: number[] = [];
      for (let i = 0; i < o.latencyCurve.reps; i++) {
        const s0 = performance.now();
        if (dedup) await insert(table, payload);
        else
          await t.insertBytes(table, TOPIC_INSERT_COLUMNS, [payload], {
            format: 'RowBinary',
            types: TOPIC_INSERT_TYPES,
          });
        ms.push(performance.now() - s0);
      }
      ms.sort((a, b) => a - b);
      curve.push({
        rows: n,
        dedup,
        medianMs: ms[ms.length >> 1],
        minMs: ms[0],
        maxMs: ms[ms.length - 1],
      });
    }
  }
  roundTrip.sort((a, b) => a - b);
  out.insertLatency = { selectOneMedianMs: roundTrip[roundTrip.length >> 1], curve };
}

await t.close();
process.stdout.write(`${JSON.stringify(out)}\n`);
