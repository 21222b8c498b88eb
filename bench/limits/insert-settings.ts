/**
 * A/B of insert settings of topic tables: the same one-batch insert (the rows of one linger interval)
 * into tables that differ only in some MergeTree or insert settings, interleaved (one insert per
 * variant in turn, the order rotating), so load on a shared machine falls on every variant alike.
 *
 *   node --import tsx --conditions=source bench/limits/insert-settings.ts '{"dir":"/tmp/x","reps":200}'
 *
 * Options: dir (a new data directory), size (value bytes, 100), rows (per insert, 50: 5 ms at 10k/s),
 * reps (200), variants ({ name: { table?: MergeTree settings, query?: insert settings } }, default
 * below). Prints one JSON line: per variant, the files of one part and the insert's min, p50 and p90 ms.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { ChdbTransport } from '../../packages/storage/src/clickhouse/chdb-transport.js';
import { writeBatchRows } from '../../packages/storage/src/clickhouse/records.js';
import { RowBinaryWriter } from '../../packages/storage/src/clickhouse/rowbinary.js';
import { DEFAULT_TOPIC_TABLE_SETTINGS, topicTableDdl } from '../../packages/storage/src/clickhouse/schema.js';
import type { Settings } from '../../packages/storage/src/clickhouse/transport.js';
import { bareInserter, storedBatch } from '../lib/bare-insert.js';
import { round2 } from '../lib/stats.js';
import { encodeBatches } from '../lib/values.js';

interface Variant {
  table?: Settings;
  query?: Settings;
}

/** What kch could set without touching durability (none of them is an fsync or an asynchronous insert). */
const VARIANTS: Record<string, Variant> = {
  base: {},
  'no skip index on insert': { query: { materialize_skip_indexes_on_insert: 0 } },
  'no substream marks': { table: { write_marks_for_substreams_in_compact_parts: 0 } },
  'no sparse columns': { table: { ratio_of_defaults_for_sparse_serialization: 1 } },
  'no auto statistics': { table: { auto_statistics_types: '' } },
  'fewer files (both)': {
    query: { materialize_skip_indexes_on_insert: 0 },
    table: { write_marks_for_substreams_in_compact_parts: 0 },
  },
};

const o = JSON.parse(process.argv[2] ?? '{}') as {
  dir: string;
  size?: number;
  rows?: number;
  reps?: number;
  variants?: Record<string, Variant>;
};
const size = o.size ?? 100;
const rowCount = o.rows ?? 50;
const reps = o.reps ?? 200;
const variants = Object.entries(o.variants ?? VARIANTS);

const pool = Array.from({ length: rowCount }, () =>
  Buffer.from(randomBytes(size).toString('base64url').slice(0, size)),
);
const w = new RowBinaryWriter(1024 * 1024);
for (const b of encodeBatches(pool, rowCount, 1)) await writeBatchRows(w, 0, storedBatch(b));
const rows = Buffer.from(w.view());

const t = await ChdbTransport.open(o.dir);
await t.command('CREATE DATABASE IF NOT EXISTS ab');
const runs = [];
for (const [i, [name, v]] of variants.entries()) {
  const table = `t${i}`;
  await t.command(
    topicTableDdl('ab', table, null, undefined, { ...DEFAULT_TOPIC_TABLE_SETTINGS, ...v.table }),
  );
  const insert = bareInserter(t, `ab.\`${table}\``, v.query);
  // The files of one part as an insert makes it (merged parts may differ), from a warm-up insert.
  await insert([rows]);
  const part = await t.selectBytes(
    `SELECT path FROM system.parts WHERE database = 'ab' AND table = '${table}' AND active FORMAT TSV`,
  );
  const files = readdirSync(part.toString('utf8').trim()).sort();
  runs.push({ name, table, insert, files, ms: [] as number[] });
}
for (let rep = 0; rep < reps; rep++) {
  for (let k = 0; k < runs.length; k++) {
    const r = runs[(rep + k) % runs.length]!;
    const s0 = performance.now();
    await r.insert([rows]);
    r.ms.push(performance.now() - s0);
  }
}
const out = runs.map((r) => {
  const sorted = [...r.ms].sort((a, b) => a - b);
  return {
    variant: r.name,
    files: r.files.length,
    fileNames: r.files,
    minMs: round2(sorted[0]!),
    p50Ms: round2(sorted[sorted.length >> 1]!),
    p90Ms: round2(sorted[Math.floor(sorted.length * 0.9)]!),
  };
});
await t.close();
process.stdout.write(`${JSON.stringify({ size, rows: rowCount, reps, variants: out })}\n`);
