/**
 * Legacy message sets, magic 0 and 1 (Kafka before 0.11), as old Produce versions send them and old
 * Fetch versions expect them:
 *
 *   offset int64, messageSize int32, crc uint32 (CRC-32 over magic..end), magic int8, attributes int8,
 *   timestamp int64 (magic 1 only), key bytes (int32 length, -1 null), value bytes (same).
 *
 * A compressed message is a wrapper whose value is a compressed message set of inner messages. With
 * magic 1 the inner offsets are relative (0..n-1) and the wrapper carries the absolute offset of the
 * last one; with magic 0 inner offsets are absolute. A broker decodes these with
 * {@link decodeMessageSet} and turns them into a RecordBatch v2 with {@link convertLegacyToRecordBatch}.
 */
import { compressSync, decompressSync } from '../compression/codec.js';
import { CompressionType, compressionName, type DecompressOptions } from '../compression/types.js';
import { KafkaCodecError } from '../errors.js';
import { crc32 } from './crc32.js';
import {
  iterateBatches,
  LOG_OVERHEAD,
  NO_TIMESTAMP,
  RECORD_BATCH_MAGIC,
  TimestampType,
} from './record-batch.js';
import { encodeRecordBatch, encodeRecordBatchSync, type RecordBatchInit } from './record-codec.js';

export type LegacyMagic = 0 | 1;

export interface LegacyMessage {
  /** Absolute offset (inner messages of a compressed wrapper are resolved to absolute offsets). */
  offset: bigint;
  magic: LegacyMagic;
  /** The message's own attributes (for an inner message, compression is 0). */
  attributes: number;
  /** For an inner message of a magic 1 wrapper: the wrapper's type, as Kafka reads it. */
  timestampType: TimestampType;
  /** {@link NO_TIMESTAMP} for magic 0; the wrapper's timestamp for inner messages under LogAppendTime. */
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
}

export interface DecodeMessageSetOptions extends DecompressOptions {
  /** Check every message's CRC, inner ones included (default true). */
  verifyCrc?: boolean;
}

export interface DecodedMessageSet {
  messages: LegacyMessage[];
  /** The codec of the (last) compressed wrapper, None if there was none: what Kafka keeps on conversion. */
  compression: CompressionType;
  /** A trailing incomplete message (allowed at the end of a Fetch response), or null. */
  partial: Buffer | null;
}

const ATTR_COMPRESSION = 0x07;
const ATTR_TIMESTAMP_TYPE = 0x08;
/** crc + magic + attributes + key length + value length. */
const MESSAGE_OVERHEAD_V0 = 14;
/** ... + timestamp. */
const MESSAGE_OVERHEAD_V1 = 22;
const CRC_AT = LOG_OVERHEAD;
const MAGIC_AT = LOG_OVERHEAD + 4;

function corrupt(message: string): KafkaCodecError {
  return new KafkaCodecError('CORRUPT_RECORD', message);
}

interface ShallowMessage extends LegacyMessage {
  compression: number;
}

/** Parses one message (the entry view holds exactly it): everything but decompression. */
function readMessage(e: Buffer, where: string, verifyCrc: boolean): ShallowMessage {
  const size = e.readInt32BE(8);
  const magic = e.readInt8(MAGIC_AT);
  if (magic !== 0 && magic !== 1) throw corrupt(`${where} has magic ${magic}, not a legacy message (0 or 1)`);
  const min = magic === 0 ? MESSAGE_OVERHEAD_V0 : MESSAGE_OVERHEAD_V1;
  if (size < min)
    throw corrupt(`${where} has size ${size}, less than the ${min} bytes of a magic ${magic} message`);
  if (verifyCrc) {
    const stored = e.readUInt32BE(CRC_AT);
    const computed = crc32(e, MAGIC_AT, e.length);
    if (stored !== computed) {
      throw corrupt(
        `${where} fails its CRC check: stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`,
      );
    }
  }
  const attributes = e.readInt8(MAGIC_AT + 1);
  let pos = MAGIC_AT + 2;
  let timestamp = NO_TIMESTAMP;
  let timestampType: TimestampType = TimestampType.CreateTime;
  if (magic === 1) {
    timestamp = e.readBigInt64BE(pos);
    pos += 8;
    if (attributes & ATTR_TIMESTAMP_TYPE) timestampType = TimestampType.LogAppendTime;
  }
  const readBytes = (what: string): Buffer | null => {
    if (e.length - pos < 4) throw corrupt(`${where}: ${what} length runs past the end of the message`);
    const n = e.readInt32BE(pos);
    pos += 4;
    if (n === -1) return null;
    if (n < 0) throw corrupt(`${where}: ${what} has negative length ${n}`);
    if (n > e.length - pos) throw corrupt(`${where}: ${what} of ${n} bytes runs past the end of the message`);
    const v = e.subarray(pos, pos + n);
    pos += n;
    return v;
  };
  const key = readBytes('key');
  const value = readBytes('value');
  if (pos !== e.length) throw corrupt(`${where} has ${e.length - pos} bytes after its value`);
  return {
    offset: e.readBigInt64BE(0),
    magic,
    attributes,
    timestampType,
    timestamp,
    key,
    value,
    compression: attributes & ATTR_COMPRESSION,
  };
}

function publicMessage(m: ShallowMessage): LegacyMessage {
  return {
    offset: m.offset,
    magic: m.magic,
    attributes: m.attributes,
    timestampType: m.timestampType,
    timestamp: m.timestamp,
    key: m.key,
    value: m.value,
  };
}

/** The inner messages of a compressed wrapper, with offsets and timestamps resolved as Kafka does. */
function unwrap(
  wrapper: ShallowMessage,
  where: string,
  options: DecodeMessageSetOptions | undefined,
): LegacyMessage[] {
  const codec = wrapper.compression;
  if (codec === CompressionType.Zstd || codec > CompressionType.Zstd) {
    throw corrupt(
      `${where} uses compression ${compressionName(codec)}, which magic ${wrapper.magic} cannot carry`,
    );
  }
  if (wrapper.value === null) throw corrupt(`${where} is a compressed message with a null value`);
  const inner = decompressSync(codec, wrapper.value, {
    maxOutputBytes: options?.maxOutputBytes,
    // magic 0 messages carry Kafka's old, wrong LZ4 frame header checksum
    legacyLz4HeaderChecksum: wrapper.magic === 0,
  });
  const verifyCrc = options?.verifyCrc !== false;
  const messages: ShallowMessage[] = [];
  for (const entry of iterateBatches(inner)) {
    const at = `${where}, inner message at position ${entry.position}`;
    if (entry.partial) throw corrupt(`${at} is truncated`);
    const m = readMessage(entry.buf, at, verifyCrc);
    if (m.magic !== wrapper.magic)
      throw corrupt(`${at} has magic ${m.magic}, not its wrapper's ${wrapper.magic}`);
    if (m.compression !== 0) throw corrupt(`${at} is compressed inside a compressed message`);
    messages.push(m);
  }
  if (messages.length === 0) throw corrupt(`${where} is a compressed message with no inner messages`);
  if (wrapper.magic === 0) return messages.map(publicMessage);

  // Magic 1: inner offsets are relative to the wrapper's, which is the absolute offset of the last.
  // A wrapper offset of 0 comes from some librdkafka versions' produce requests: read as relative.
  let base = 0n;
  if (wrapper.offset !== 0n) {
    const lastInner = messages[messages.length - 1]!.offset;
    if (wrapper.offset < lastInner) {
      throw corrupt(
        `${where} has wrapper offset ${wrapper.offset}, less than its last inner offset ${lastInner}`,
      );
    }
    base = wrapper.offset - lastInner;
  }
  const logAppend = wrapper.timestampType === TimestampType.LogAppendTime;
  return messages.map((m) => ({
    offset: base + m.offset,
    magic: m.magic,
    attributes: m.attributes,
    timestampType: wrapper.timestampType,
    timestamp: logAppend ? wrapper.timestamp : m.timestamp,
    key: m.key,
    value: m.value,
  }));
}

/**
 * Decodes a legacy message set into its messages, decompressing wrappers. Keys and values are views
 * into the input or the decompressed buffers. Malformed input throws CORRUPT_RECORD (or COMPRESSION
 * when a wrapper's value does not decompress).
 */
export function decodeMessageSet(buf: Uint8Array, options?: DecodeMessageSetOptions): DecodedMessageSet {
  const verifyCrc = options?.verifyCrc !== false;
  const messages: LegacyMessage[] = [];
  let compression: CompressionType = CompressionType.None;
  for (const entry of iterateBatches(buf)) {
    if (entry.partial) return { messages, compression, partial: entry.buf };
    const where = `message at position ${entry.position}`;
    if (entry.magic === RECORD_BATCH_MAGIC)
      throw corrupt(`${where} is a RecordBatch (magic 2), not a legacy message`);
    const m = readMessage(entry.buf, where, verifyCrc);
    if (m.compression === 0) {
      messages.push(publicMessage(m));
      continue;
    }
    for (const inner of unwrap(m, where, options)) messages.push(inner);
    compression = m.compression as CompressionType;
  }
  return { messages, compression, partial: null };
}

// ---------------------------------------------------------------------------------------------- encode

export interface LegacyMessageInput {
  /** Absolute offset; default the message set's baseOffset + index. */
  offset?: bigint;
  /** Magic 1 only; default {@link NO_TIMESTAMP}. */
  timestamp?: bigint;
  key?: Uint8Array | null;
  value?: Uint8Array | null;
}

export interface MessageSetInit {
  magic: LegacyMagic;
  compression?: CompressionType;
  /** Magic 1 only. With LogAppendTime, `logAppendTime` is the wrapper's timestamp. */
  timestampType?: TimestampType;
  logAppendTime?: bigint;
  baseOffset?: bigint;
  messages: readonly LegacyMessageInput[];
}

function encodeMessage(
  magic: LegacyMagic,
  offset: bigint,
  attributes: number,
  timestamp: bigint,
  key: Uint8Array | null | undefined,
  value: Uint8Array | null | undefined,
): Buffer {
  const size =
    (magic === 0 ? MESSAGE_OVERHEAD_V0 : MESSAGE_OVERHEAD_V1) + (key?.length ?? 0) + (value?.length ?? 0);
  const out = Buffer.allocUnsafe(LOG_OVERHEAD + size);
  out.writeBigInt64BE(offset, 0);
  out.writeInt32BE(size, 8);
  out.writeInt8(magic, MAGIC_AT);
  out.writeInt8(attributes, MAGIC_AT + 1);
  let pos = MAGIC_AT + 2;
  if (magic === 1) {
    out.writeBigInt64BE(timestamp, pos);
    pos += 8;
  }
  for (const field of [key, value]) {
    if (field == null) {
      out.writeInt32BE(-1, pos);
      pos += 4;
    } else {
      out.writeInt32BE(field.length, pos);
      out.set(field, pos + 4);
      pos += 4 + field.length;
    }
  }
  out.writeUInt32BE(crc32(out, MAGIC_AT, out.length), CRC_AT);
  return out;
}

/**
 * Encodes a legacy message set, compressed into one wrapper if asked (as Kafka writes them for old
 * Fetch versions: magic 1 inner offsets relative, magic 0 absolute, wrapper offset = last offset).
 */
export function encodeMessageSet(init: MessageSetInit): Buffer {
  const { magic } = init;
  const compression = init.compression ?? CompressionType.None;
  if (compression === CompressionType.Zstd) {
    throw new KafkaCodecError(
      'UNSUPPORTED_FIELD',
      `zstd compression needs magic 2; magic ${magic} cannot carry it`,
    );
  }
  const base = init.baseOffset ?? 0n;
  const logAppend = magic === 1 && init.timestampType === TimestampType.LogAppendTime;
  const typeBit = logAppend ? ATTR_TIMESTAMP_TYPE : 0;
  const offsets = init.messages.map((m, i) => m.offset ?? base + BigInt(i));
  const timestamps = init.messages.map((m) => (magic === 1 ? (m.timestamp ?? NO_TIMESTAMP) : NO_TIMESTAMP));
  if (compression === CompressionType.None) {
    return Buffer.concat(
      init.messages.map((m, i) => encodeMessage(magic, offsets[i]!, typeBit, timestamps[i]!, m.key, m.value)),
    );
  }
  if (init.messages.length === 0) throw new RangeError('a compressed message set needs at least one message');
  const first = offsets[0]!;
  const inner = Buffer.concat(
    init.messages.map((m, i) =>
      encodeMessage(
        magic,
        magic === 1 ? offsets[i]! - first : offsets[i]!,
        0,
        timestamps[i]!,
        m.key,
        m.value,
      ),
    ),
  );
  const value = compressSync(compression, inner, { legacyLz4HeaderChecksum: magic === 0 });
  let wrapperTimestamp = NO_TIMESTAMP;
  if (magic === 1) {
    if (logAppend) wrapperTimestamp = init.logAppendTime ?? NO_TIMESTAMP;
    else for (const t of timestamps) if (t > wrapperTimestamp) wrapperTimestamp = t;
  }
  return encodeMessage(
    magic,
    offsets[offsets.length - 1]!,
    compression | typeBit,
    wrapperTimestamp,
    null,
    value,
  );
}

// ------------------------------------------------------------------------------------------ conversion

export interface ConvertOptions {
  /** Codec of the new batch; default: the codec the message set used (Kafka's compression.type=producer). */
  compression?: CompressionType;
  compressionLevel?: number;
  partitionLeaderEpoch?: number;
  /**
   * Keep the messages' offsets (as deltas from the first). Default false: offsets 0..n-1, as the
   * produce path wants, since the broker assigns the real ones afterwards.
   */
  preserveOffsets?: boolean;
}

function batchInit(
  set: DecodedMessageSet | readonly LegacyMessage[],
  options: ConvertOptions | undefined,
): RecordBatchInit {
  const messages = 'messages' in set ? set.messages : set;
  const sourceCompression = 'messages' in set ? set.compression : CompressionType.None;
  if (messages.length === 0) throw new RangeError('there are no messages to convert');
  const first = messages[0]!;
  const timestampType = first.timestampType;
  return {
    baseOffset: options?.preserveOffsets ? first.offset : 0n,
    partitionLeaderEpoch: options?.partitionLeaderEpoch,
    compression: options?.compression ?? sourceCompression,
    compressionLevel: options?.compressionLevel,
    timestampType,
    baseTimestamp: first.timestamp,
    // magic 0 has no timestamps: the batch gets NO_TIMESTAMP, as Kafka's up-conversion does
    records: messages.map((m, i) => ({
      key: m.key,
      value: m.value,
      timestamp: m.timestamp,
      offsetDelta: options?.preserveOffsets ? Number(m.offset - first.offset) : i,
    })),
  };
}

/**
 * Converts decoded legacy messages into one RecordBatch v2 (no producer id, CreateTime or the
 * messages' LogAppendTime), what Kafka does for Produce v0-v2 on a v2 log. Async for zstd targets.
 */
export async function convertLegacyToRecordBatch(
  set: DecodedMessageSet | readonly LegacyMessage[],
  options?: ConvertOptions,
): Promise<Buffer> {
  return encodeRecordBatch(batchInit(set, options));
}

/** {@link convertLegacyToRecordBatch} for every target codec but zstd. */
export function convertLegacyToRecordBatchSync(
  set: DecodedMessageSet | readonly LegacyMessage[],
  options?: ConvertOptions,
): Buffer {
  return encodeRecordBatchSync(batchInit(set, options));
}
