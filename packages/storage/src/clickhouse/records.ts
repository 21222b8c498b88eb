/**
 * Batches to rows and back.
 *
 * Append: each RecordBatch is decompressed and its records become RowBinary rows of the topic
 * table (columns {@link TOPIC_INSERT_COLUMNS}), keys, values and header keys and values copied from
 * the batch as they are (never escaped or decoded: binary values cost what text does).
 *
 * Read: RowBinary rows (columns {@link TOPIC_READ_COLUMNS}) are grouped by batch base offset and each
 * group is encoded as a RecordBatch v2 again: same base offset, lastOffsetDelta, timestamps,
 * attributes, producer fields, leader epoch, and per record the same attributes, deltas, key, value
 * and headers, byte for byte. The records are compressed again with the batch's recorded codec, and the
 * CRC is computed anew. An uncompressed batch therefore comes back identical to what was appended; a
 * compressed one is identical once decompressed (a compressor need not give the same bytes twice).
 */
import {
  CompressionType,
  compress,
  crc32c,
  decompress,
  encodeRecordBatchSync,
  KafkaCodecError,
  LOG_OVERHEAD,
  RECORD_BATCH_HEADER_SIZE,
  RECORD_BATCH_MAGIC,
  Reader,
  readBatchHeader,
} from '@kch/protocol';
import { StorageError, type StoredBatch } from '../storage.js';
import { RowBinaryWriter, readInt64 } from './rowbinary.js';

// -------------------------------------------------------------------------------------- append

export interface RowsWritten {
  records: number;
  /** Bytes of the records uncompressed (for read-size estimates). */
  recordBytes: number;
}

/** Bytes of a row's batch-level columns, batch_offset to base_sequence (see TOPIC_INSERT_COLUMNS). */
const BATCH_COLUMNS_SIZE = 48;

/**
 * Writes one RowBinary row per record of `batch` (columns {@link TOPIC_INSERT_COLUMNS}) to `w`.
 * Throws INVALID_REQUEST for a batch that is not a well-formed RecordBatch v2 with records.
 */
export async function writeBatchRows(
  w: RowBinaryWriter,
  partition: number,
  batch: StoredBatch,
): Promise<RowsWritten> {
  let body: Buffer;
  let header: ReturnType<typeof readBatchHeader>;
  try {
    header = readBatchHeader(batch.bytes);
    const size = LOG_OVERHEAD + header.batchLength;
    if (size > batch.bytes.length) {
      throw new KafkaCodecError('TRUNCATED', `batch of ${size} bytes has only ${batch.bytes.length}`);
    }
    const payload = batch.bytes.subarray(RECORD_BATCH_HEADER_SIZE, size);
    body =
      header.compression === CompressionType.None ? payload : await decompress(header.compression, payload);
  } catch (e) {
    throw invalidBatch(batch, e);
  }
  if (Number(header.baseOffset) !== batch.baseOffset) {
    throw new StorageError(
      'INVALID_REQUEST',
      `batch bytes carry base offset ${header.baseOffset}, but the batch is appended at ${batch.baseOffset}`,
    );
  }
  if (header.recordCount === 0) {
    throw new StorageError(
      'INVALID_REQUEST',
      `batch at offset ${batch.baseOffset} has no records; the ClickHouse storage keeps one row per record`,
    );
  }
  const baseOffset = batch.baseOffset;
  // The batch-level columns are the same on every row: written once, copied after each record.
  const suffix = new RowBinaryWriter(BATCH_COLUMNS_SIZE)
    .big64(header.baseOffset)
    .i32(header.lastOffsetDelta)
    .big64(header.baseTimestamp)
    .big64(header.maxTimestamp)
    .i16(header.attributes)
    .i32(header.partitionLeaderEpoch)
    .big64(header.producerId)
    .i16(header.producerEpoch)
    .i32(header.baseSequence)
    .view();
  const r = new Reader(body, 0, body.length);
  try {
    for (let i = 0; i < header.recordCount; i++) {
      const length = r.varint();
      if (length < 0 || length > r.remaining) throw corrupt(`record ${i} has length ${length}`);
      const end = r.offset + length;
      const attributes = r.int8();
      const timestampDelta = r.varlongNumber();
      const offsetDelta = r.varint();
      if (offsetDelta < 0 || offsetDelta > header.lastOffsetDelta) {
        throw corrupt(`record ${i} has offset delta ${offsetDelta} outside 0..${header.lastOffsetDelta}`);
      }
      w.i32(partition).i64(baseOffset + offsetDelta);
      bytesField(w, r, body, end);
      bytesField(w, r, body, end);
      const headerCount = r.varint();
      if (headerCount < 0 || headerCount * 2 > end - r.offset)
        throw corrupt(`record ${i} has ${headerCount} headers`);
      w.uvarint(headerCount);
      for (let h = 0; h < headerCount; h++) {
        const n = r.varint();
        if (n < 0 || n > end - r.offset) throw corrupt(`record ${i} header ${h} has key length ${n}`);
        w.string(body, r.offset, r.offset + n);
        r.offset += n;
        bytesField(w, r, body, end);
      }
      w.i8(attributes).i64(timestampDelta).raw(suffix);
      if (r.offset !== end)
        throw corrupt(`record ${i} has length ${length} but its fields take ${r.offset - end + length}`);
    }
    if (r.remaining !== 0) throw corrupt(`${r.remaining} bytes follow the last record`);
  } catch (e) {
    throw invalidBatch(batch, e);
  }
  return { records: header.recordCount, recordBytes: body.length };
}

/** A varint-length byte string of a record (-1: null) as a Nullable(String). */
function bytesField(w: RowBinaryWriter, r: Reader, body: Buffer, end: number): void {
  const n = r.varint();
  if (n === -1) {
    w.nullFlag(true);
    return;
  }
  if (n < 0 || n > end - r.offset) throw corrupt(`a field has length ${n}, outside its record`);
  w.nullFlag(false).string(body, r.offset, r.offset + n);
  r.offset += n;
}

function corrupt(message: string): KafkaCodecError {
  return new KafkaCodecError('CORRUPT_RECORD', message);
}

/** The error of a stored batch that cannot be read as a RecordBatch v2 (a StorageError passes as it is). */
export function invalidBatch(batch: StoredBatch, e: unknown): StorageError {
  if (e instanceof StorageError) return e;
  const detail = e instanceof Error ? e.message : String(e);
  return new StorageError(
    'INVALID_REQUEST',
    `the batch at offset ${batch.baseOffset} is not a well-formed RecordBatch v2: ${detail}`,
    false,
    { cause: e },
  );
}

// ---------------------------------------------------------------------------------------- read

/** Bytes before the first variable-length column of a row (see TOPIC_READ_COLUMNS). */
const FIXED = 65;
const AT_BATCH_OFFSET = 8;
const AT_LAST_DELTA = 16;
const AT_BATCH_TIMESTAMP = 20;
const AT_MAX_TIMESTAMP = 28;
const AT_BATCH_ATTRIBUTES = 36;
const AT_LEADER_EPOCH = 38;
const AT_PRODUCER_ID = 42;
const AT_PRODUCER_EPOCH = 50;
const AT_BASE_SEQUENCE = 52;
const AT_ATTRIBUTES = 56;
const AT_TIMESTAMP_DELTA = 57;

/** The rows of one batch in a RowBinary response. */
export interface RowGroup {
  /** Byte range of the rows in the response. */
  start: number;
  end: number;
  rows: number;
  /** Index of the group's first row in the response. */
  firstRow: number;
  /** Encoded size of each record of the response (without its length prefix), by row. */
  sizes: Int32Array;
  baseOffset: number;
  /** baseOffset + lastOffsetDelta: the batch may have had more records than rows still here. */
  lastOffset: number;
  /** Size of the encoded records, uncompressed. */
  bodySize: number;
}

function uvarintSize(u: number): number {
  let n = 1;
  while (u >= 0x80) {
    u = Math.floor(u / 128);
    n++;
  }
  return n;
}

function varintSize(v: number): number {
  return uvarintSize(v >= 0 ? v * 2 : -v * 2 - 1);
}

/**
 * A walk over RowBinary rows that knows each record's encoded size. `pos` is at the start of a row
 * before {@link row} and at the next row after it.
 */
class RowCursor {
  pos = 0;
  /** Filled by {@link row}. */
  recordSize = 0;
  offset = 0;
  batchOffset = 0;
  rowStart = 0;

  constructor(readonly buf: Buffer) {}

  private uvarint(): number {
    const b = this.buf;
    let value = 0;
    for (let shift = 0; shift < 63; shift += 7) {
      if (this.pos >= b.length) throw truncatedRows();
      const c = b[this.pos++]!;
      value += (c & 0x7f) * 2 ** shift;
      if ((c & 0x80) === 0) return value;
    }
    throw truncatedRows();
  }

  /** Size a Nullable(String) takes as a record's varint-length bytes; advances past it. */
  private nullableBytesSize(): number {
    if (this.pos >= this.buf.length) throw truncatedRows();
    if (this.buf[this.pos++] !== 0) return 1;
    const n = this.uvarint();
    this.pos += n;
    return varintSize(n) + n;
  }

  /** Reads one row and works out its record's encoded size (without the record's length prefix). */
  row(): void {
    const b = this.buf;
    const at = this.pos;
    if (at + FIXED > b.length) throw truncatedRows();
    this.rowStart = at;
    this.offset = readInt64(b, at);
    this.batchOffset = readInt64(b, at + AT_BATCH_OFFSET);
    const timestampDelta = readInt64(b, at + AT_TIMESTAMP_DELTA);
    this.pos = at + FIXED;
    let size = 1 + varintSize(timestampDelta) + varintSize(this.offset - this.batchOffset);
    size += this.nullableBytesSize();
    size += this.nullableBytesSize();
    const headers = this.uvarint();
    size += varintSize(headers);
    for (let h = 0; h < headers; h++) {
      const n = this.uvarint();
      this.pos += n;
      size += varintSize(n) + n + this.nullableBytesSize();
    }
    if (this.pos > b.length) throw truncatedRows();
    this.recordSize = size;
  }
}

function truncatedRows(): StorageError {
  return new StorageError('UNAVAILABLE', 'ClickHouse returned a truncated RowBinary response for a read');
}

/** Groups the rows of a response by batch, in order. */
export function groupRows(buf: Buffer): RowGroup[] {
  const groups: RowGroup[] = [];
  const c = new RowCursor(buf);
  let current: RowGroup | null = null;
  // Rows take at least FIXED + 3 bytes: a bound for the sizes array.
  const sizes = new Int32Array(Math.ceil(buf.length / (FIXED + 3)));
  let row = 0;
  while (c.pos < buf.length) {
    c.row();
    sizes[row] = c.recordSize;
    if (current === null || c.batchOffset !== current.baseOffset) {
      if (current) current.end = c.rowStart;
      current = {
        start: c.rowStart,
        end: buf.length,
        rows: 0,
        firstRow: row,
        sizes,
        baseOffset: c.batchOffset,
        lastOffset: c.batchOffset + buf.readInt32LE(c.rowStart + AT_LAST_DELTA),
        bodySize: 0,
      };
      groups.push(current);
    }
    current.rows++;
    current.bodySize += uvarintSize(c.recordSize * 2) + c.recordSize;
    row++;
  }
  return groups;
}

/** Writes a zig-zag varint at `p`; returns the position after it. */
function putVarint(out: Buffer, p: number, v: number): number {
  let u = v >= 0 ? v * 2 : -v * 2 - 1;
  while (u >= 0x80) {
    out[p++] = (u % 128) | 0x80;
    u = Math.floor(u / 128);
  }
  out[p++] = u;
  return p;
}

function putInt64(out: Buffer, v: number, at: number): void {
  const hi = Math.floor(v / 4294967296);
  out.writeInt32BE(hi, at);
  out.writeUInt32BE(v - hi * 4294967296, at + 4);
}

/** Copies a RowBinary Nullable(String) at `src.pos` as a record's varint-length bytes. */
function copyNullable(c: RowCursor, out: Buffer, p: number): number {
  const b = c.buf;
  if (b[c.pos++] !== 0) {
    out[p++] = 0x01; // varint -1
    return p;
  }
  return copyString(c, out, p);
}

function copyString(c: RowCursor, out: Buffer, p: number): number {
  const b = c.buf;
  let n = 0;
  for (let shift = 0; ; shift += 7) {
    const x = b[c.pos++]!;
    n += (x & 0x7f) * 2 ** shift;
    if ((x & 0x80) === 0) break;
  }
  p = putVarint(out, p, n);
  const from = c.pos;
  if (n < 48) {
    for (let i = 0; i < n; i++) out[p + i] = b[from + i]!;
  } else {
    b.copy(out, p, from, from + n);
  }
  c.pos = from + n;
  return p + n;
}

/** Encodes the records of `g` into `out` from position `p`. */
function writeRecords(buf: Buffer, g: RowGroup, out: Buffer, p: number): number {
  const c = new RowCursor(buf);
  c.pos = g.start;
  for (let row = g.firstRow; c.pos < g.end; row++) {
    const at = c.pos;
    p = putVarint(out, p, g.sizes[row]!);
    const bodyStart = p;
    out[p++] = buf[at + AT_ATTRIBUTES]!;
    p = putVarint(out, p, readInt64(buf, at + AT_TIMESTAMP_DELTA));
    p = putVarint(out, p, readInt64(buf, at) - g.baseOffset);
    c.pos = at + FIXED;
    p = copyNullable(c, out, p);
    p = copyNullable(c, out, p);
    let headers = 0;
    for (let shift = 0; ; shift += 7) {
      const x = buf[c.pos++]!;
      headers += (x & 0x7f) * 2 ** shift;
      if ((x & 0x80) === 0) break;
    }
    p = putVarint(out, p, headers);
    for (let h = 0; h < headers; h++) {
      p = copyString(c, out, p);
      p = copyNullable(c, out, p);
    }
    if (p - bodyStart !== g.sizes[row]) throw truncatedRows();
  }
  return p;
}

/** The RecordBatch v2 of one row group, compressed again with its recorded codec. */
export async function encodeRowGroup(buf: Buffer, g: RowGroup): Promise<StoredBatch> {
  const at = g.start;
  const attributes = buf.readInt16LE(at + AT_BATCH_ATTRIBUTES);
  const codec = attributes & 0x07;
  let out: Buffer;
  if (codec === CompressionType.None) {
    out = Buffer.allocUnsafe(RECORD_BATCH_HEADER_SIZE + g.bodySize);
    const end = writeRecords(buf, g, out, RECORD_BATCH_HEADER_SIZE);
    if (end !== out.length) throw truncatedRows();
  } else {
    const body = Buffer.allocUnsafe(g.bodySize);
    if (writeRecords(buf, g, body, 0) !== body.length) throw truncatedRows();
    const payload = await compress(codec, body);
    out = Buffer.allocUnsafe(RECORD_BATCH_HEADER_SIZE + payload.length);
    payload.copy(out, RECORD_BATCH_HEADER_SIZE);
  }
  const lastOffsetDelta = buf.readInt32LE(at + AT_LAST_DELTA);
  const baseTimestamp = readInt64(buf, at + AT_BATCH_TIMESTAMP);
  const maxTimestamp = readInt64(buf, at + AT_MAX_TIMESTAMP);
  const producerId = readInt64(buf, at + AT_PRODUCER_ID);
  const producerEpoch = buf.readInt16LE(at + AT_PRODUCER_EPOCH);
  const baseSequence = buf.readInt32LE(at + AT_BASE_SEQUENCE);
  putInt64(out, g.baseOffset, 0);
  out.writeInt32BE(out.length - LOG_OVERHEAD, 8);
  out.writeInt32BE(buf.readInt32LE(at + AT_LEADER_EPOCH), 12);
  out.writeInt8(RECORD_BATCH_MAGIC, 16);
  out.writeInt16BE(attributes, 21);
  out.writeInt32BE(lastOffsetDelta, 23);
  putInt64(out, baseTimestamp, 27);
  putInt64(out, maxTimestamp, 35);
  putInt64(out, producerId, 43);
  out.writeInt16BE(producerEpoch, 51);
  out.writeInt32BE(baseSequence, 53);
  out.writeInt32BE(g.rows, 57);
  out.writeUInt32BE(crc32c(out, 21, out.length), 17);
  return {
    baseOffset: g.baseOffset,
    lastOffset: g.baseOffset + lastOffsetDelta,
    recordCount: g.rows,
    baseTimestamp,
    maxTimestamp,
    producerId,
    producerEpoch,
    baseSequence,
    isTransactional: (attributes & 0x10) !== 0,
    isControl: (attributes & 0x20) !== 0,
    bytes: out,
  };
}

/** Size of a RecordBatch v2 without records. */
export const EMPTY_BATCH_BYTES = RECORD_BATCH_HEADER_SIZE;

/**
 * A batch with no records covering `baseOffset..lastOffset`: what a read returns for offsets at the end
 * of a log that hold no record (batches whose records were all left out). Kafka clients move their
 * position past a batch's last offset, as after compaction emptied it.
 */
export function emptyBatch(baseOffset: number, lastOffset: number): StoredBatch {
  return {
    baseOffset,
    lastOffset,
    recordCount: 0,
    baseTimestamp: -1,
    maxTimestamp: -1,
    producerId: -1,
    producerEpoch: -1,
    baseSequence: -1,
    isTransactional: false,
    isControl: false,
    bytes: encodeRecordBatchSync({
      baseOffset: BigInt(baseOffset),
      lastOffsetDelta: lastOffset - baseOffset,
      baseTimestamp: -1n,
      maxTimestamp: -1n,
      records: [],
    }),
  };
}
