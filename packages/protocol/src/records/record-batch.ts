/**
 * RecordBatch v2 (magic 2): the batch header, splitting a `records` field into batches, and the
 * in-place edits a broker makes when it appends a batch (offsets, leader epoch, LogAppendTime).
 * Records themselves are decoded and encoded in ./record-codec.ts.
 *
 * A batch "view" is a Buffer that starts at the batch's first byte (baseOffset), usually a subarray
 * of a request, so nothing is copied.
 */
import type { CompressionType } from '../compression/types.js';
import { KafkaCodecError, truncated } from '../errors.js';
import { crc32c } from './crc32c.js';

export const TimestampType = {
  CreateTime: 0,
  LogAppendTime: 1,
} as const;
export type TimestampType = (typeof TimestampType)[keyof typeof TimestampType];

export const RECORD_BATCH_MAGIC = 2;
/** baseOffset + batchLength: the part of every log entry (batch or legacy message) before its length. */
export const LOG_OVERHEAD = 12;
export const RECORD_BATCH_HEADER_SIZE = 61;
/** The smallest legacy message (magic 0, null key and value), as Kafka's LegacyRecord.RECORD_OVERHEAD_V0. */
export const MIN_LEGACY_MESSAGE_SIZE = 14;

export const NO_TIMESTAMP = -1n;
export const NO_PRODUCER_ID = -1n;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;

/** Byte offsets of the header fields, from the start of the batch. */
export const BatchOffsets = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordCount: 57,
  records: 61,
} as const;

/** Bits of the batch attributes. */
export const BatchAttributes = {
  compressionMask: 0x07,
  timestampType: 0x08,
  transactional: 0x10,
  control: 0x20,
  deleteHorizon: 0x40,
} as const;

/** Every record takes at least 7 bytes: length, attributes, two deltas, key, value and header count. */
export const MIN_RECORD_SIZE = 7;

export interface RecordBatchHeader {
  baseOffset: bigint;
  /** Bytes after the batchLength field: the whole batch is {@link LOG_OVERHEAD} + batchLength bytes. */
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  /** The stored CRC-32C (unsigned), over attributes..end. */
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  compression: CompressionType;
  timestampType: TimestampType;
  isTransactional: boolean;
  isControl: boolean;
  hasDeleteHorizonMs: boolean;
}

function corrupt(message: string): KafkaCodecError {
  return new KafkaCodecError('CORRUPT_RECORD', message);
}

export function makeAttributes(flags: {
  compression?: number;
  timestampType?: TimestampType;
  isTransactional?: boolean;
  isControl?: boolean;
  hasDeleteHorizonMs?: boolean;
}): number {
  let a = (flags.compression ?? 0) & BatchAttributes.compressionMask;
  if (flags.timestampType === TimestampType.LogAppendTime) a |= BatchAttributes.timestampType;
  if (flags.isTransactional) a |= BatchAttributes.transactional;
  if (flags.isControl) a |= BatchAttributes.control;
  if (flags.hasDeleteHorizonMs) a |= BatchAttributes.deleteHorizon;
  return a;
}

/**
 * Parses the 61-byte header at `offset` without looking at the records: what the produce path needs
 * to validate a batch and assign its offsets. Checks the magic, the length's minimum, the compression
 * codec and the record count's sign; not that the whole batch is present (see {@link validateBatch}).
 */
export function readBatchHeader(buf: Uint8Array, offset = 0): RecordBatchHeader {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (!(offset >= 0) || b.length - offset < RECORD_BATCH_HEADER_SIZE) {
    throw truncated(RECORD_BATCH_HEADER_SIZE, offset, b.length);
  }
  const magic = b.readInt8(offset + BatchOffsets.magic);
  if (magic !== RECORD_BATCH_MAGIC) {
    throw corrupt(
      `record batch at offset ${offset} has magic ${magic}; only magic 2 is a RecordBatch (0 and 1 are legacy message sets)`,
    );
  }
  const batchLength = b.readInt32BE(offset + BatchOffsets.batchLength);
  if (batchLength < RECORD_BATCH_HEADER_SIZE - LOG_OVERHEAD) {
    throw corrupt(
      `record batch at offset ${offset} has batchLength ${batchLength}, less than its header's ${RECORD_BATCH_HEADER_SIZE - LOG_OVERHEAD}`,
    );
  }
  const attributes = b.readInt16BE(offset + BatchOffsets.attributes);
  const compression = attributes & BatchAttributes.compressionMask;
  if (compression > 4) {
    throw corrupt(`record batch at offset ${offset} has unknown compression type ${compression}`);
  }
  const recordCount = b.readInt32BE(offset + BatchOffsets.recordCount);
  if (recordCount < 0)
    throw corrupt(`record batch at offset ${offset} has a negative record count ${recordCount}`);
  return {
    baseOffset: b.readBigInt64BE(offset + BatchOffsets.baseOffset),
    batchLength,
    partitionLeaderEpoch: b.readInt32BE(offset + BatchOffsets.partitionLeaderEpoch),
    magic,
    crc: b.readUInt32BE(offset + BatchOffsets.crc),
    attributes,
    lastOffsetDelta: b.readInt32BE(offset + BatchOffsets.lastOffsetDelta),
    baseTimestamp: b.readBigInt64BE(offset + BatchOffsets.baseTimestamp),
    maxTimestamp: b.readBigInt64BE(offset + BatchOffsets.maxTimestamp),
    producerId: b.readBigInt64BE(offset + BatchOffsets.producerId),
    producerEpoch: b.readInt16BE(offset + BatchOffsets.producerEpoch),
    baseSequence: b.readInt32BE(offset + BatchOffsets.baseSequence),
    recordCount,
    compression: compression as CompressionType,
    timestampType:
      attributes & BatchAttributes.timestampType ? TimestampType.LogAppendTime : TimestampType.CreateTime,
    isTransactional: (attributes & BatchAttributes.transactional) !== 0,
    isControl: (attributes & BatchAttributes.control) !== 0,
    hasDeleteHorizonMs: (attributes & BatchAttributes.deleteHorizon) !== 0,
  };
}

/** The batch's size in bytes from its length field (the view may be longer; later bytes are not its own). */
function batchSize(b: Uint8Array): number {
  if (b.length < LOG_OVERHEAD) throw truncated(LOG_OVERHEAD, 0, b.length);
  const len = (b[8]! << 24) | (b[9]! << 16) | (b[10]! << 8) | b[11]! | 0;
  if (len < RECORD_BATCH_HEADER_SIZE - LOG_OVERHEAD) {
    throw corrupt(`record batch has batchLength ${len}, less than its header's`);
  }
  const size = LOG_OVERHEAD + len;
  if (size > b.length) throw truncated(size, 0, b.length);
  return size;
}

/** CRC-32C of the batch as it is now (attributes..end), to compare with the stored one. */
export function computeBatchCrc(batch: Uint8Array): number {
  return crc32c(batch, BatchOffsets.attributes, batchSize(batch));
}

/** Whether the stored CRC matches the batch's bytes. Throws only if the batch is not all there. */
export function verifyBatchCrc(batch: Uint8Array): boolean {
  const computed = computeBatchCrc(batch);
  return computed === asBuffer(batch).readUInt32BE(BatchOffsets.crc);
}

/** Recomputes and stores the CRC (after an edit inside the checksummed range). */
export function writeBatchCrc(batch: Uint8Array): void {
  const crc = computeBatchCrc(batch);
  asBuffer(batch).writeUInt32BE(crc, BatchOffsets.crc);
}

/**
 * The header of a batch that is all there, with its CRC checked unless `verifyCrc` is false. The
 * common first step of decoding and validating.
 */
export function readWholeBatchHeader(batch: Uint8Array, verifyCrc = true): RecordBatchHeader {
  const header = readBatchHeader(batch, 0);
  const size = LOG_OVERHEAD + header.batchLength;
  if (size > batch.length) throw truncated(size, 0, batch.length);
  if (verifyCrc) {
    const computed = crc32c(batch, BatchOffsets.attributes, size);
    if (computed !== header.crc) {
      throw corrupt(
        `record batch at base offset ${header.baseOffset} fails its CRC check: stored 0x${header.crc.toString(16)}, computed 0x${computed.toString(16)}`,
      );
    }
  }
  return header;
}

/**
 * Full structural check of one batch for the produce path, without decoding records: header, the
 * whole batch present, CRC, and a record count the bytes could hold. Returns the header.
 */
export function validateBatch(batch: Uint8Array): RecordBatchHeader {
  const header = readWholeBatchHeader(batch);
  const recordBytes = header.batchLength + LOG_OVERHEAD - RECORD_BATCH_HEADER_SIZE;
  if (header.compression === 0 && header.recordCount * MIN_RECORD_SIZE > recordBytes) {
    throw corrupt(
      `record batch at base offset ${header.baseOffset} announces ${header.recordCount} records in ${recordBytes} bytes`,
    );
  }
  return header;
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Throws unless `batch` starts with a whole v2 header, so in-place edits never touch other formats. */
function editable(batch: Uint8Array): Buffer {
  const b = asBuffer(batch);
  if (b.length < RECORD_BATCH_HEADER_SIZE) throw truncated(RECORD_BATCH_HEADER_SIZE, 0, b.length);
  if (b[BatchOffsets.magic] !== RECORD_BATCH_MAGIC) {
    throw corrupt(`cannot edit a log entry with magic ${b.readInt8(BatchOffsets.magic)} as a record batch`);
  }
  return b;
}

/** Sets baseOffset. Outside the CRC, so nothing else changes. */
export function setBaseOffset(batch: Uint8Array, baseOffset: bigint): void {
  editable(batch).writeBigInt64BE(baseOffset, BatchOffsets.baseOffset);
}

/** Sets partitionLeaderEpoch. Outside the CRC, so nothing else changes. */
export function setPartitionLeaderEpoch(batch: Uint8Array, epoch: number): void {
  editable(batch).writeInt32BE(epoch, BatchOffsets.partitionLeaderEpoch);
}

/**
 * Sets the timestamp type and maxTimestamp, as Kafka's DefaultRecordBatch.setMaxTimestamp: both are
 * inside the CRC, so the CRC is recomputed, unless nothing changes. For LogAppendTime the broker sets
 * maxTimestamp to its append time and leaves the records alone: readers then use maxTimestamp as the
 * timestamp of every record.
 */
export function setMaxTimestamp(batch: Uint8Array, timestampType: TimestampType, maxTimestamp: bigint): void {
  const b = editable(batch);
  const attributes = b.readInt16BE(BatchOffsets.attributes);
  const next =
    timestampType === TimestampType.LogAppendTime
      ? attributes | BatchAttributes.timestampType
      : attributes & ~BatchAttributes.timestampType;
  if (next === attributes && b.readBigInt64BE(BatchOffsets.maxTimestamp) === maxTimestamp) return;
  batchSize(b); // the CRC covers the whole batch: check it is here before changing anything
  b.writeInt16BE(next, BatchOffsets.attributes);
  b.writeBigInt64BE(maxTimestamp, BatchOffsets.maxTimestamp);
  writeBatchCrc(b);
}

export interface AssignOffsets {
  baseOffset: bigint;
  partitionLeaderEpoch?: number;
  /** When the topic uses LogAppendTime: the broker's append time (ms). */
  logAppendTime?: bigint;
}

/**
 * What a broker does to an accepted batch before storing it: the offsets (and leader epoch), plus
 * LogAppendTime when configured. Touches the CRC only for LogAppendTime. Returns the batch's last
 * offset, baseOffset + lastOffsetDelta.
 */
export function assignOffsets(batch: Uint8Array, assign: AssignOffsets): bigint {
  const b = editable(batch);
  b.writeBigInt64BE(assign.baseOffset, BatchOffsets.baseOffset);
  if (assign.partitionLeaderEpoch !== undefined) {
    b.writeInt32BE(assign.partitionLeaderEpoch, BatchOffsets.partitionLeaderEpoch);
  }
  if (assign.logAppendTime !== undefined)
    setMaxTimestamp(b, TimestampType.LogAppendTime, assign.logAppendTime);
  return assign.baseOffset + BigInt(b.readInt32BE(BatchOffsets.lastOffsetDelta));
}

/** One log entry of a `records` field. */
export interface LogEntryView {
  /** The entry's bytes (a view, not a copy). For a partial entry: everything that was left. */
  buf: Buffer;
  /** Position of the entry in the `records` field. */
  position: number;
  /** 2 for a RecordBatch, 0 or 1 for a legacy message; -1 if a partial entry ends before its magic. */
  magic: number;
  /**
   * The last entry, cut short. Fetch responses may end with one (the broker fills up to the byte
   * limit); readers ignore it. A produce request with one is malformed.
   */
  partial: boolean;
}

/**
 * Splits a `records` field into its log entries (record batches, or legacy messages, which share the
 * offset/length/magic layout) without copying. A trailing incomplete entry is reported, not thrown;
 * a length or magic that cannot be right throws CORRUPT_RECORD, as Kafka's ByteBufferLogInputStream.
 */
export function* iterateBatches(records: Uint8Array): Generator<LogEntryView, void, undefined> {
  const b = asBuffer(records);
  let pos = 0;
  while (pos < b.length) {
    const remaining = b.length - pos;
    if (remaining < LOG_OVERHEAD) {
      yield { buf: b.subarray(pos), position: pos, magic: -1, partial: true };
      return;
    }
    const len = b.readInt32BE(pos + 8);
    if (len < MIN_LEGACY_MESSAGE_SIZE) {
      throw corrupt(
        `log entry at position ${pos} has size ${len}, less than the minimum ${MIN_LEGACY_MESSAGE_SIZE}`,
      );
    }
    let magic = -1;
    if (remaining > BatchOffsets.magic) {
      magic = b.readInt8(pos + BatchOffsets.magic);
      if (magic < 0 || magic > RECORD_BATCH_MAGIC)
        throw corrupt(`log entry at position ${pos} has unknown magic ${magic}`);
    }
    if (magic === RECORD_BATCH_MAGIC && len < RECORD_BATCH_HEADER_SIZE - LOG_OVERHEAD) {
      throw corrupt(`record batch at position ${pos} has batchLength ${len}, less than its header's`);
    }
    if (remaining < LOG_OVERHEAD + len) {
      yield { buf: b.subarray(pos), position: pos, magic, partial: true };
      return;
    }
    yield { buf: b.subarray(pos, pos + LOG_OVERHEAD + len), position: pos, magic, partial: false };
    pos += LOG_OVERHEAD + len;
  }
}

export interface BatchSplit {
  /** The complete entries, each a view of exactly its bytes. */
  batches: Buffer[];
  /** A trailing incomplete entry, or null. */
  partial: Buffer | null;
}

/** {@link iterateBatches} collected into an array. */
export function splitBatches(records: Uint8Array): BatchSplit {
  const batches: Buffer[] = [];
  for (const entry of iterateBatches(records)) {
    if (entry.partial) return { batches, partial: entry.buf };
    batches.push(entry.buf);
  }
  return { batches, partial: null };
}
