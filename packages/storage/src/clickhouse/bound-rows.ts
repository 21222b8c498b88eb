/**
 * Records to rows of a bound table and back (docs/topics-over-tables.md).
 *
 * Append: ClickHouse parses the values itself. A JSONEachRow value gets the columns kch fills spliced
 * in front of its members (`{"_partition":0,"_offset":5,...,` + the value after its `{`); a CSV/TSV
 * value gets them as leading fields, inserted with an explicit column list (virtual columns, then the
 * table's data columns). The insert runs with input_format_skip_unknown_fields (members without a
 * column are ignored, as Kafka engine users expect) and best_effort date parsing (./bound-insert.ts).
 *
 * Read: rows (offset, timestamp, key, headers, value, see bound-table.ts readSql) become uncompressed
 * RecordBatch v2 batches with producer id -1, offset deltas keeping any gaps between rows.
 */
import { decodeBatch, encodeRecordBatchSync, type RecordInput, TimestampType } from '@kch/protocol';
import { StorageError, type StoredBatch } from '../storage.js';
import type { BoundSchema, VirtualColumn } from './bound-table.js';
import { decodeUtf8 } from './json-value.js';
import { invalidBatch } from './records.js';
import { RowBinaryReader } from './rowbinary.js';
import { DATETIME64_MS_MAX, DATETIME64_MS_MIN } from './schema.js';
import { arrayLiteral, csvString, stripLineEnd } from './text-row.js';
import type { TsvWriter } from './tsv.js';
import { unwrapType } from './value-check.js';

// -------------------------------------------------------------------------------------- append

/** Timestamps DateTime64 holds (1900-01-01 .. 2299-12-31) and DateTime holds (1970 .. 2106), in ms. */
const DATETIME64_RANGE: readonly [number, number] = [DATETIME64_MS_MIN, DATETIME64_MS_MAX];
const DATETIME_RANGE: readonly [number, number] = [0, 4294967295000];

interface RecordFields {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  headers: readonly { key: string; value: Buffer | null }[];
  /** The value as text (checked UTF-8). */
  text: string;
  value: Buffer;
  /** The batch's partition leader epoch, which fences rows as kch's own batch_leader_epoch does. */
  leaderEpoch: number;
}

export interface BoundRowsWritten {
  rows: number;
  /** Offset of the first row written, -1 when none. */
  firstOffset: number;
  /** Offset of the last row written, -1 when none. */
  lastOffset: number;
}

/**
 * Writes one row per record of `batch` to `w` in the topic's format. Control batches (transaction
 * markers) have no row (the storage keeps them apart, ./side-batches.ts). Throws INVALID_REQUEST for a record whose value
 * cannot be a row at all (null, not UTF-8, NUL bytes), which Storage.recordCheck refuses first.
 */
export async function writeBoundRows(
  w: TsvWriter,
  s: BoundSchema,
  partition: number,
  batch: StoredBatch,
): Promise<BoundRowsWritten> {
  if (batch.recordCount === 0 || batch.isControl) return { rows: 0, firstOffset: -1, lastOffset: -1 };
  let decoded: Awaited<ReturnType<typeof decodeBatch>>;
  try {
    decoded = await decodeBatch(batch.bytes, { verifyCrc: false });
  } catch (e) {
    throw invalidBatch(batch, e);
  }
  const { header, records } = decoded;
  const logAppend = header.timestampType === TimestampType.LogAppendTime;
  const base = Number(header.baseTimestamp);
  let lastOffset = -1;
  for (const r of records) {
    const offset = batch.baseOffset + r.offsetDelta;
    const text = r.value === null ? null : decodeUtf8(r.value);
    if (r.value === null || text === null || text.includes('\0')) {
      throw new StorageError(
        'INVALID_REQUEST',
        `the record at offset ${offset} cannot be a row of ${s.binding.database}.${s.binding.table}: its value is ${r.value === null ? 'null' : 'not UTF-8 text'}`,
        false,
      );
    }
    const fields: RecordFields = {
      offset,
      timestamp: logAppend ? batch.maxTimestamp : base + r.timestampDelta,
      key: r.key,
      headers: r.headers,
      text,
      value: r.value,
      leaderEpoch: header.partitionLeaderEpoch,
    };
    if (s.binding.format === 'JSONEachRow') writeJsonRow(w, s, partition, fields);
    else if (s.binding.format === 'CSV') writeCsvRow(w, s, partition, fields);
    else writeTsvRow(w, s, partition, fields);
    lastOffset = offset;
  }
  const firstOffset = records.length > 0 ? batch.baseOffset + records[0]!.offsetDelta : -1;
  return { rows: records.length, firstOffset, lastOffset };
}

/** ISO 8601 in UTC with ms, which best_effort parses for DateTime and DateTime64 of any time zone. */
function isoTimestamp(s: BoundSchema, column: VirtualColumn, ms: number): string {
  const t = unwrapType(s.byName.get(column)!.type);
  const [lo, hi] = t.kind === 'datetime' && t.fractional ? DATETIME64_RANGE : DATETIME_RANGE;
  return new Date(Math.min(hi, Math.max(lo, ms))).toISOString();
}

/** What kch puts in a virtual column: a number, text, bytes, NULL, or an array of text. */
type VirtualValue = number | string | Buffer | null | readonly (string | Buffer | null)[];

function virtualValue(s: BoundSchema, v: VirtualColumn, partition: number, f: RecordFields): VirtualValue {
  switch (v) {
    case '_topic':
      return s.topic;
    case '_partition':
      return partition;
    case '_offset':
      return f.offset;
    case '_timestamp':
    case '_timestamp_ms':
      return isoTimestamp(s, v, f.timestamp);
    case '_key':
      return f.key;
    case '_headers.name':
      return f.headers.map((h) => h.key);
    case '_headers.value':
      // NULL only where the array's elements are Nullable; '' otherwise.
      return f.headers.map((h) => h.value ?? (s.nullHeaderValues ? null : ''));
    case '_raw_message':
      return f.value;
    case '_leader_epoch':
      return f.leaderEpoch;
  }
}

const text = (x: string | Buffer): string => (typeof x === 'string' ? x : x.toString('utf8'));

function jsonValue(x: VirtualValue): string {
  if (x === null) return 'null';
  if (typeof x === 'number') return String(x);
  if (typeof x === 'string' || Buffer.isBuffer(x)) return JSON.stringify(text(x));
  return `[${x.map((i) => (i === null ? 'null' : JSON.stringify(text(i)))).join(',')}]`;
}

function csvValue(x: VirtualValue): string {
  if (x === null) return '\\N';
  if (typeof x === 'number') return String(x);
  if (typeof x === 'string' || Buffer.isBuffer(x)) return csvString(text(x));
  return csvString(arrayLiteral(x.map((i) => (i === null ? null : text(i)))));
}

/** TabSeparated escapes bytes, so keys, header values and raw values stay byte-exact. */
function writeTsvValue(w: TsvWriter, x: VirtualValue): void {
  if (x === null) w.null();
  else if (typeof x === 'number') w.int(x);
  else if (typeof x === 'string' || Buffer.isBuffer(x)) {
    const b = typeof x === 'string' ? Buffer.from(x) : x;
    w.string(b, 0, b.length);
  } else {
    w.byte(0x5b); // [
    x.forEach((i, n) => {
      if (n > 0) w.byte(0x2c);
      if (i === null) w.raw(NULL);
      else {
        const b = typeof i === 'string' ? Buffer.from(i) : i;
        w.quoted(b, 0, b.length);
      }
    });
    w.byte(0x5d); // ]
  }
}

const NULL = Buffer.from('NULL');

function writeJsonRow(w: TsvWriter, s: BoundSchema, partition: number, f: RecordFields): void {
  let head = '{';
  for (const v of s.virtuals) head += `${JSON.stringify(v)}:${jsonValue(virtualValue(s, v, partition, f))},`;
  // The value is one JSON object (recordCheck): its members follow ours.
  const rest = f.text.slice(f.text.indexOf('{') + 1);
  const row = /^\s*\}/.test(rest) ? head.slice(0, -1) + rest : head + rest;
  w.raw(Buffer.from(row)).newline();
}

function writeCsvRow(w: TsvWriter, s: BoundSchema, partition: number, f: RecordFields): void {
  const fields: string[] = [];
  for (const v of s.virtuals) fields.push(csvValue(virtualValue(s, v, partition, f)));
  if (s.dataColumns.length > 0) fields.push(stripLineEnd(f.text));
  w.raw(Buffer.from(fields.join(','))).newline();
}

function writeTsvRow(w: TsvWriter, s: BoundSchema, partition: number, f: RecordFields): void {
  let first = true;
  for (const v of s.virtuals) {
    if (!first) w.tab();
    first = false;
    writeTsvValue(w, virtualValue(s, v, partition, f));
  }
  if (s.dataColumns.length > 0) {
    if (!first) w.tab();
    w.raw(Buffer.from(stripLineEnd(f.text)));
  }
  w.newline();
}

// ---------------------------------------------------------------------------------------- read

/** One row of a bound table read back (bound-table.ts readSql). */
export interface BoundRow {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
  value: Buffer;
}

export function parseBoundRows(buf: Buffer): BoundRow[] {
  const r = new RowBinaryReader(buf);
  const rows: BoundRow[] = [];
  while (!r.done) {
    const offset = r.i64();
    const timestamp = r.i64();
    const key = r.isNull() ? null : r.bytes();
    const headers: BoundRow['headers'] = [];
    for (let n = r.uvarint(); n > 0; n--) {
      const k = r.string();
      headers.push({ key: k, value: r.isNull() ? null : r.bytes() });
    }
    rows.push({ offset, timestamp, key, headers, value: r.bytes() });
  }
  return rows;
}

/** Records per batch built from rows, and bytes (about): Kafka clients take batches of any size. */
const MAX_BATCH_RECORDS = 1000;
const MAX_BATCH_BYTES = 1 << 20;
const BATCH_OVERHEAD = 61;

/** Approximate encoded size of a record. */
function recordSize(r: BoundRow): number {
  let n = 24 + (r.key?.length ?? 0) + r.value.length;
  for (const h of r.headers) n += 8 + h.key.length + (h.value?.length ?? 0);
  return n;
}

/**
 * Batches holding `rows` in order, while they fit in `budget` bytes (about); with `first`, the first
 * batch holds at least one record whatever its size, as a Fetch response must. Returns the batches
 * and how many rows they hold.
 */
export function batchesFromRows(
  rows: readonly BoundRow[],
  budget: number,
  first: boolean,
): { batches: StoredBatch[]; rows: number } {
  const batches: StoredBatch[] = [];
  let used = 0;
  let i = 0;
  while (i < rows.length && used < budget) {
    const start = i;
    const cap = Math.min(MAX_BATCH_BYTES, budget - used);
    let size = BATCH_OVERHEAD;
    while (i < rows.length && i - start < MAX_BATCH_RECORDS) {
      const next = recordSize(rows[i]!);
      if (size + next > cap && !(first && batches.length === 0 && i === start)) break;
      size += next;
      i++;
    }
    if (i === start) break;
    const batch = batchOf(rows.slice(start, i));
    batches.push(batch);
    used += batch.bytes.length;
  }
  if (first && batches.length === 0 && rows.length > 0)
    return { batches: [batchOf(rows.slice(0, 1))], rows: 1 };
  return { batches, rows: i };
}

function batchOf(rows: readonly BoundRow[]): StoredBatch {
  const first = rows[0]!;
  const baseOffset = first.offset;
  const records: RecordInput[] = rows.map((r) => ({
    offsetDelta: r.offset - baseOffset,
    timestamp: r.timestamp,
    key: r.key,
    value: r.value,
    headers: r.headers,
  }));
  const maxTimestamp = rows.reduce((m, r) => Math.max(m, r.timestamp), -1);
  const lastOffset = rows[rows.length - 1]!.offset;
  const bytes = encodeRecordBatchSync({
    baseOffset: BigInt(baseOffset),
    baseTimestamp: BigInt(first.timestamp),
    maxTimestamp: BigInt(maxTimestamp),
    lastOffsetDelta: lastOffset - baseOffset,
    records,
  });
  return {
    baseOffset,
    lastOffset,
    recordCount: rows.length,
    baseTimestamp: first.timestamp,
    maxTimestamp,
    producerId: -1,
    producerEpoch: -1,
    baseSequence: -1,
    isTransactional: false,
    isControl: false,
    bytes,
  };
}
