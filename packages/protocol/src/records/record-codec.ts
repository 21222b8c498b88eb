/**
 * The records inside a RecordBatch v2: decoding (after decompression) and encoding whole batches.
 *
 * Decoded keys, values and header values are views into the batch (or into the decompressed
 * buffer), never copies.
 */
import { compress, compressSync, decompress, decompressSync } from '../compression/codec.js';
import { CompressionType, type DecompressOptions } from '../compression/types.js';
import { KafkaCodecError } from '../errors.js';
import { Reader } from '../reader.js';
import { Writer } from '../writer.js';
import { crc32c } from './crc32c.js';
import {
  BatchOffsets,
  LOG_OVERHEAD,
  MIN_RECORD_SIZE,
  makeAttributes,
  NO_PARTITION_LEADER_EPOCH,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  NO_TIMESTAMP,
  RECORD_BATCH_HEADER_SIZE,
  RECORD_BATCH_MAGIC,
  type RecordBatchHeader,
  readWholeBatchHeader,
  TimestampType,
} from './record-batch.js';

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface KafkaRecord {
  /** Unused by Kafka so far; kept as read. */
  attributes: number;
  timestampDelta: number;
  offsetDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  /** Records without headers share one frozen empty array. */
  headers: readonly RecordHeader[];
}

export interface DecodedBatch {
  header: RecordBatchHeader;
  records: KafkaRecord[];
}

export interface DecodeRecordsOptions extends DecompressOptions {
  /** Check the batch's CRC first (default true). Off only for data already verified, e.g. read back from storage. */
  verifyCrc?: boolean;
}

const EMPTY_HEADERS: readonly RecordHeader[] = Object.freeze([]);
const EMPTY = Buffer.alloc(0);

/** A record's absolute offset. */
export function recordOffset(header: RecordBatchHeader, record: KafkaRecord): bigint {
  return header.baseOffset + BigInt(record.offsetDelta);
}

/** A record's timestamp: with LogAppendTime every record has the batch's maxTimestamp (the append time). */
export function recordTimestamp(header: RecordBatchHeader, record: KafkaRecord): bigint {
  if (header.timestampType === TimestampType.LogAppendTime) return header.maxTimestamp;
  return header.baseTimestamp + BigInt(record.timestampDelta);
}

function corrupt(message: string): KafkaCodecError {
  return new KafkaCodecError('CORRUPT_RECORD', message);
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * The header and records body of one batch (the view may extend past it; only its own bytes are
 * read), decompressed when needed. zstd needs this async form.
 */
export async function recordsBody(
  batch: Uint8Array,
  options?: DecodeRecordsOptions,
): Promise<[RecordBatchHeader, Buffer]> {
  const b = asBuffer(batch);
  const header = readWholeBatchHeader(b, options?.verifyCrc !== false);
  const payload = b.subarray(RECORD_BATCH_HEADER_SIZE, LOG_OVERHEAD + header.batchLength);
  if (header.compression === CompressionType.None || payload.length === 0) return [header, payload];
  return [header, await decompress(header.compression, payload, codecOptions(options))];
}

/** {@link recordsBody} without a promise, for every codec but zstd (which throws COMPRESSION). */
export function recordsBodySync(
  batch: Uint8Array,
  options?: DecodeRecordsOptions,
): [RecordBatchHeader, Buffer] {
  const b = asBuffer(batch);
  const header = readWholeBatchHeader(b, options?.verifyCrc !== false);
  const payload = b.subarray(RECORD_BATCH_HEADER_SIZE, LOG_OVERHEAD + header.batchLength);
  if (header.compression === CompressionType.None || payload.length === 0) return [header, payload];
  return [header, decompressSync(header.compression, payload, codecOptions(options))];
}

/** Decodes one batch into records whose keys, values and headers are views (no copies). */
export async function decodeBatch(batch: Uint8Array, options?: DecodeRecordsOptions): Promise<DecodedBatch> {
  const [header, body] = await recordsBody(batch, options);
  return { header, records: parseRecords(body, header) };
}

/** {@link decodeBatch} without a promise, for every codec but zstd (which throws COMPRESSION). */
export function decodeBatchSync(batch: Uint8Array, options?: DecodeRecordsOptions): DecodedBatch {
  const [header, body] = recordsBodySync(batch, options);
  return { header, records: parseRecords(body, header) };
}

export async function decodeRecords(
  batch: Uint8Array,
  options?: DecodeRecordsOptions,
): Promise<KafkaRecord[]> {
  return (await decodeBatch(batch, options)).records;
}

export function decodeRecordsSync(batch: Uint8Array, options?: DecodeRecordsOptions): KafkaRecord[] {
  return decodeBatchSync(batch, options).records;
}

function codecOptions(options: DecompressOptions | undefined): DecompressOptions {
  return { maxOutputBytes: options?.maxOutputBytes };
}

/** Skips a varint length and that many bytes; returns the length (-1 is null). Must stay inside the record. */
function skipVarBytes(r: Reader, recordEnd: number, what: string): number {
  const n = r.varint();
  if (n < 0) {
    if (n === -1) return -1;
    throw corrupt(`${what} has negative length ${n}`);
  }
  if (n > recordEnd - r.offset) throw corrupt(`${what} of ${n} bytes runs past the end of its record`);
  r.offset += n;
  return n;
}

/**
 * One record as the walker sees it: numbers and positions in the records body, no copies. The same
 * object is reused for every record of a walk, so a visitor must not keep it.
 */
export interface RecordView {
  index: number;
  attributes: number;
  timestampDelta: number;
  offsetDelta: number;
  /** Start of the key in the body, and its length (-1 for null). */
  keyOffset: number;
  keyLength: number;
  valueOffset: number;
  valueLength: number;
  headerCount: number;
  /** Where the headers start in the body. */
  headersOffset: number;
}

/**
 * Walks exactly `header.recordCount` records filling all of `body`, checking their structure as
 * Kafka's DefaultRecord.readFrom and the batch iterator's "records still remaining" check do, and
 * calls `visit` for each without allocating anything per record.
 */
export function walkRecords(
  body: Buffer,
  header: RecordBatchHeader,
  visit: (record: RecordView) => void,
): void {
  const count = header.recordCount;
  const where = `record batch at base offset ${header.baseOffset}`;
  if (count * MIN_RECORD_SIZE > body.length) {
    throw corrupt(
      `${where} announces ${count} records, but its ${body.length} bytes of records cannot hold that many`,
    );
  }
  const view: RecordView = {
    index: 0,
    attributes: 0,
    timestampDelta: 0,
    offsetDelta: 0,
    keyOffset: 0,
    keyLength: -1,
    valueOffset: 0,
    valueLength: -1,
    headerCount: 0,
    headersOffset: 0,
  };
  const r = new Reader(body, 0, body.length);
  let i = 0;
  try {
    for (; i < count; i++) {
      const length = r.varint();
      if (length < 0) throw corrupt(`negative record length ${length}`);
      if (length > r.remaining)
        throw corrupt(`record length ${length} runs past the end of the batch (${r.remaining} bytes remain)`);
      const end = r.offset + length;
      view.index = i;
      view.attributes = r.int8();
      view.timestampDelta = r.varlongNumber();
      view.offsetDelta = r.varint();
      view.keyLength = skipVarBytes(r, end, 'key');
      view.keyOffset = r.offset - Math.max(view.keyLength, 0);
      view.valueLength = skipVarBytes(r, end, 'value');
      view.valueOffset = r.offset - Math.max(view.valueLength, 0);
      const headerCount = r.varint();
      if (headerCount < 0) throw corrupt(`negative header count ${headerCount}`);
      // each header takes at least two bytes: key length and value length
      if (headerCount * 2 > end - r.offset)
        throw corrupt(`header count ${headerCount} runs past the end of its record`);
      view.headerCount = headerCount;
      view.headersOffset = r.offset;
      for (let h = 0; h < headerCount; h++) {
        const n = r.varint();
        if (n < 0) throw corrupt(`header ${h} has negative key length ${n}`);
        if (n > end - r.offset)
          throw corrupt(`header ${h} key of ${n} bytes runs past the end of its record`);
        r.offset += n;
        skipVarBytes(r, end, `header ${h} value`);
      }
      if (r.offset !== end) {
        throw corrupt(`record length is ${length} but its fields take ${r.offset - (end - length)} bytes`);
      }
      visit(view);
    }
  } catch (e) {
    if (!(e instanceof KafkaCodecError)) throw e;
    throw corrupt(`${where}, record ${i}: ${e.message}`);
  }
  if (r.remaining !== 0) {
    throw corrupt(
      `${where} has ${r.remaining} bytes left after its ${count} records (incorrect declared batch size)`,
    );
  }
}

/** Records as objects: keys, values and header values are views into `body`. */
function parseRecords(body: Buffer, header: RecordBatchHeader): KafkaRecord[] {
  const out = new Array<KafkaRecord>(header.recordCount);
  walkRecords(body, header, (v) => {
    out[v.index] = {
      attributes: v.attributes,
      timestampDelta: v.timestampDelta,
      offsetDelta: v.offsetDelta,
      key: v.keyLength < 0 ? null : body.subarray(v.keyOffset, v.keyOffset + v.keyLength),
      value: v.valueLength < 0 ? null : body.subarray(v.valueOffset, v.valueOffset + v.valueLength),
      headers: v.headerCount === 0 ? EMPTY_HEADERS : readHeaders(body, v.headersOffset, v.headerCount),
    };
  });
  return out;
}

/**
 * The headers of a record {@link walkRecords} visited in `body` (checked by the walk), read later:
 * values are views into `body`.
 */
export function recordHeaders(
  body: Buffer,
  record: Pick<RecordView, 'headersOffset' | 'headerCount'>,
): RecordHeader[] {
  return readHeaders(body, record.headersOffset, record.headerCount);
}

/** Headers already checked by the walker. */
function readHeaders(body: Buffer, offset: number, count: number): RecordHeader[] {
  const r = new Reader(body, offset, body.length);
  const hs = new Array<RecordHeader>(count);
  for (let h = 0; h < count; h++) {
    const n = r.varint();
    const at = r.offset;
    r.offset = at + n;
    const vn = r.varint();
    let value: Buffer | null = null;
    if (vn >= 0) {
      value = body.subarray(r.offset, r.offset + vn);
      r.offset += vn;
    }
    hs[h] = { key: body.toString('utf8', at, at + n), value };
  }
  return hs;
}

// ---------------------------------------------------------------------------------------------- encode

export interface RecordInput {
  key?: Uint8Array | null;
  value?: Uint8Array | null;
  headers?: readonly { key: string; value?: Uint8Array | null }[];
  /** Absolute timestamp in ms; takes precedence over timestampDelta. */
  timestamp?: bigint | number;
  /** Timestamp relative to the batch's baseTimestamp (default 0). */
  timestampDelta?: number;
  /** Offset relative to baseOffset (default: the record's index). */
  offsetDelta?: number;
  attributes?: number;
}

export interface RecordBatchInit {
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
  compression?: CompressionType;
  /** Codec level (gzip, zstd); default Kafka's. */
  compressionLevel?: number;
  timestampType?: TimestampType;
  isTransactional?: boolean;
  isControl?: boolean;
  hasDeleteHorizonMs?: boolean;
  /** Default: the first record's `timestamp`, else {@link NO_TIMESTAMP}. */
  baseTimestamp?: bigint;
  /** Default: the largest record timestamp, or {@link NO_TIMESTAMP} for an empty batch. */
  maxTimestamp?: bigint;
  /** Default: the last record's offsetDelta (0 for an empty batch). */
  lastOffsetDelta?: number;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  records: readonly RecordInput[];
}

function varintSize(v: number): number {
  let u = v >= 0 ? v * 2 : -v * 2 - 1;
  let n = 1;
  while (u >= 0x80) {
    u = Math.floor(u / 128);
    n++;
  }
  return n;
}

function bytesSize(b: Uint8Array | null | undefined): number {
  return b == null ? 1 : varintSize(b.length) + b.length;
}

function toDelta(ts: bigint | number, base: bigint): number {
  const d = BigInt(ts) - base;
  if (d > BigInt(Number.MAX_SAFE_INTEGER) || d < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`record timestamp ${ts} is too far from the batch's baseTimestamp ${base}`);
  }
  return Number(d);
}

interface Body {
  bytes: Buffer;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  lastOffsetDelta: number;
}

/** Encodes the records (uncompressed) and works out the header fields that depend on them. */
function encodeBody(init: RecordBatchInit): Body {
  const records = init.records;
  let baseTimestamp = init.baseTimestamp;
  if (baseTimestamp === undefined) {
    const first = records[0]?.timestamp;
    baseTimestamp = first === undefined ? NO_TIMESTAMP : BigInt(first);
  }
  const w = new Writer(256);
  let maxDelta = Number.NEGATIVE_INFINITY;
  let lastOffsetDelta = 0;
  for (let i = 0; i < records.length; i++) {
    const rec = records[i]!;
    const tsDelta =
      rec.timestamp !== undefined ? toDelta(rec.timestamp, baseTimestamp) : (rec.timestampDelta ?? 0);
    const offsetDelta = rec.offsetDelta ?? i;
    if (tsDelta > maxDelta) maxDelta = tsDelta;
    lastOffsetDelta = offsetDelta;
    const headers = rec.headers ?? [];
    // header keys are encoded once, both to size the record and to write it
    const keys = headers.length ? headers.map((h) => Buffer.from(h.key, 'utf8')) : [];
    let size =
      1 +
      varintSize(tsDelta) +
      varintSize(offsetDelta) +
      bytesSize(rec.key) +
      bytesSize(rec.value) +
      varintSize(headers.length);
    for (let h = 0; h < headers.length; h++) size += bytesSize(keys[h]) + bytesSize(headers[h]!.value);
    w.varint(size)
      .int8(rec.attributes ?? 0)
      .varlongNumber(tsDelta)
      .varint(offsetDelta);
    writeVarBytes(w, rec.key);
    writeVarBytes(w, rec.value);
    w.varint(headers.length);
    for (let h = 0; h < headers.length; h++) {
      writeVarBytes(w, keys[h]);
      writeVarBytes(w, headers[h]!.value);
    }
  }
  const maxTimestamp =
    init.maxTimestamp ?? (records.length === 0 ? NO_TIMESTAMP : baseTimestamp + BigInt(maxDelta));
  return {
    bytes: records.length === 0 ? EMPTY : w.toBuffer(),
    baseTimestamp,
    maxTimestamp,
    lastOffsetDelta: init.lastOffsetDelta ?? lastOffsetDelta,
  };
}

function writeVarBytes(w: Writer, b: Uint8Array | null | undefined): void {
  if (b == null) {
    w.varint(-1);
    return;
  }
  w.varint(b.length);
  w.raw(b);
}

/** Writes the header in front of the (possibly compressed) records and fills in length and CRC. */
function assemble(init: RecordBatchInit, body: Body, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(RECORD_BATCH_HEADER_SIZE + payload.length);
  out.writeBigInt64BE(init.baseOffset ?? 0n, BatchOffsets.baseOffset);
  out.writeInt32BE(out.length - LOG_OVERHEAD, BatchOffsets.batchLength);
  out.writeInt32BE(init.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH, BatchOffsets.partitionLeaderEpoch);
  out.writeInt8(RECORD_BATCH_MAGIC, BatchOffsets.magic);
  out.writeInt16BE(
    makeAttributes({
      compression: init.compression ?? CompressionType.None,
      timestampType: init.timestampType,
      isTransactional: init.isTransactional,
      isControl: init.isControl,
      hasDeleteHorizonMs: init.hasDeleteHorizonMs,
    }),
    BatchOffsets.attributes,
  );
  out.writeInt32BE(body.lastOffsetDelta, BatchOffsets.lastOffsetDelta);
  out.writeBigInt64BE(body.baseTimestamp, BatchOffsets.baseTimestamp);
  out.writeBigInt64BE(body.maxTimestamp, BatchOffsets.maxTimestamp);
  out.writeBigInt64BE(init.producerId ?? NO_PRODUCER_ID, BatchOffsets.producerId);
  out.writeInt16BE(init.producerEpoch ?? NO_PRODUCER_EPOCH, BatchOffsets.producerEpoch);
  out.writeInt32BE(init.baseSequence ?? NO_SEQUENCE, BatchOffsets.baseSequence);
  out.writeInt32BE(init.records.length, BatchOffsets.recordCount);
  payload.copy(out, RECORD_BATCH_HEADER_SIZE);
  out.writeUInt32BE(crc32c(out, BatchOffsets.attributes, out.length), BatchOffsets.crc);
  return out;
}

/** Encodes a RecordBatch v2 with correct lengths and CRC, compressing the records if asked. */
export async function encodeRecordBatch(init: RecordBatchInit): Promise<Buffer> {
  const body = encodeBody(init);
  const type = init.compression ?? CompressionType.None;
  const payload =
    type === CompressionType.None
      ? body.bytes
      : await compress(type, body.bytes, { level: init.compressionLevel });
  return assemble(init, body, payload);
}

/**
 * `batch` encoded again with `records` (some of its own) under its header: the same offsets, offset
 * deltas, timestamps, producer fields and codec (none when nothing is left). Records taken out leave
 * holes, as after Kafka's compaction.
 */
export function encodeBatchWithRecords(
  batch: DecodedBatch,
  records: readonly KafkaRecord[],
): Promise<Buffer> {
  const { header } = batch;
  return encodeRecordBatch({
    baseOffset: header.baseOffset,
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    compression: records.length > 0 ? header.compression : CompressionType.None,
    timestampType: header.timestampType,
    isTransactional: header.isTransactional,
    isControl: header.isControl,
    hasDeleteHorizonMs: header.hasDeleteHorizonMs,
    baseTimestamp: header.baseTimestamp,
    maxTimestamp: header.maxTimestamp,
    lastOffsetDelta: header.lastOffsetDelta,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    records,
  });
}

/** {@link encodeRecordBatch} without a promise, for every codec but zstd (which throws COMPRESSION). */
export function encodeRecordBatchSync(init: RecordBatchInit): Buffer {
  const body = encodeBody(init);
  const type = init.compression ?? CompressionType.None;
  const payload =
    type === CompressionType.None
      ? body.bytes
      : compressSync(type, body.bytes, { level: init.compressionLevel });
  return assemble(init, body, payload);
}
