/**
 * What a leader checks in a produced `records` field before it assigns offsets, as Kafka's
 * LogValidator does: the format for the request version, one batch per partition, size, CRC, codec,
 * and each record (offsets in order, timestamps within the topic's bounds, keys on compacted topics).
 * Old produce versions (magic 0 and 1 message sets) are converted to a RecordBatch v2.
 *
 * The walk over the records also hands each record to a {@link RecordScreen} (the topic's record
 * checks, ./record-checks.ts), so a batch is decompressed and walked once however many steps look at it.
 */
import {
  CompressionType,
  convertLegacyToRecordBatch,
  decodeMessageSet,
  ErrorCode,
  iterateBatches,
  KafkaCodecError,
  KafkaProtocolError,
  type RecordBatchHeader,
  type RecordView,
  recordsBody,
  TimestampType,
  validateBatch,
  walkRecords,
} from '@kch/protocol';
import { type IncomingBatch, incomingBatch } from '../log/partition-log.js';

export interface ValidationRules {
  produceVersion: number;
  /** max.message.bytes of the topic. */
  maxBatchBytes: number;
  /** cleanup.policy includes compact: every record needs a key. */
  compacted: boolean;
  /** message.timestamp.type is LogAppendTime: record timestamps are replaced, not checked. */
  logAppendTime: boolean;
  /** message.timestamp.before.max.ms / after.max.ms. */
  timestampBeforeMaxMs: number;
  timestampAfterMaxMs: number;
  now: number;
}

export interface RecordError {
  batchIndex: number;
  batchIndexErrorMessage: string | null;
}

/** A rejected partition append with the records at fault, for the Produce response. */
export class RecordValidationError extends KafkaProtocolError {
  constructor(
    code: number,
    message: string,
    readonly recordErrors: RecordError[] = [],
  ) {
    super(code, message);
  }
}

/**
 * The error of a batch with failed records, as Kafka words it: how many failed and the first reason,
 * with every failed record's index and message for the Produce response.
 */
export function recordsRejected(
  code: number,
  errors: RecordError[],
  recordCount: number,
): RecordValidationError {
  return new RecordValidationError(
    code,
    `${errors.length} of ${recordCount} records were rejected; the first: ${errors[0]!.batchIndexErrorMessage}`,
    errors,
  );
}

/** What sees each record besides validation, during its walk: the topic's record checks. */
export interface RecordScreen {
  /** Called before the walk with the batch's decompressed records; resolves when the screen is ready. */
  start(header: RecordBatchHeader, body: Buffer): Promise<void>;
  /** Called for each record during the walk; the view is reused, valid during the call only. */
  visit(record: RecordView): void;
  /**
   * Called after a walk that found every record valid: the batch to append (`batch`, or one without
   * the records the screen took out), or a rejection. Failures of `start` are thrown here, so that
   * the records' own faults are reported first.
   */
  finish(batch: IncomingBatch): IncomingBatch | Promise<IncomingBatch>;
}

/** Produce v7 is the first that may carry zstd (KIP-110). */
const FIRST_ZSTD_PRODUCE_VERSION = 7;

/** Validates the records of one partition of a Produce, screening them with `screen` if given. */
export async function validateProducedRecords(
  records: Buffer,
  rules: ValidationRules,
  screen?: RecordScreen,
): Promise<IncomingBatch[]> {
  try {
    return await validate(records, rules, screen);
  } catch (e) {
    if (e instanceof KafkaProtocolError) throw e;
    if (e instanceof KafkaCodecError) {
      throw new KafkaProtocolError(ErrorCode.CORRUPT_MESSAGE, `the records are corrupt: ${e.message}`);
    }
    throw e;
  }
}

async function validate(
  records: Buffer,
  rules: ValidationRules,
  screen: RecordScreen | undefined,
): Promise<IncomingBatch[]> {
  const entries = [...iterateBatches(records)];
  if (entries.length === 0)
    throw new RecordValidationError(
      ErrorCode.INVALID_RECORD,
      'the request has no records for this partition',
    );
  if (entries.some((e) => e.partial)) {
    throw new KafkaProtocolError(ErrorCode.CORRUPT_MESSAGE, 'the records end with an incomplete batch');
  }
  const magic = entries[0]!.magic;
  if (rules.produceVersion >= 3) {
    if (entries.length !== 1 || magic !== 2) {
      throw new RecordValidationError(
        ErrorCode.INVALID_RECORD,
        'Produce v3 and later must carry exactly one record batch (magic 2) per partition',
      );
    }
    return [await validateV2(entries[0]!.buf, rules, screen)];
  }
  if (entries.some((e) => e.magic === 2)) {
    throw new RecordValidationError(
      ErrorCode.INVALID_RECORD,
      `Produce v${rules.produceVersion} cannot carry record batches of magic 2`,
    );
  }
  // Produce v0-v2: a legacy message set, converted to one batch as Kafka up-converts for a v2 log.
  checkSize(records.length, rules);
  const set = decodeMessageSet(records);
  if (set.messages.length === 0)
    throw new RecordValidationError(ErrorCode.INVALID_RECORD, 'the message set holds no messages');
  const batch = await convertLegacyToRecordBatch(set);
  return [await validateV2(batch, rules, screen)];
}

function checkSize(size: number, rules: ValidationRules): void {
  if (size > rules.maxBatchBytes) {
    throw new KafkaProtocolError(
      ErrorCode.MESSAGE_TOO_LARGE,
      `the record batch is ${size} bytes, larger than the topic's max.message.bytes (${rules.maxBatchBytes})`,
    );
  }
}

async function validateV2(
  batch: Buffer,
  rules: ValidationRules,
  screen: RecordScreen | undefined,
): Promise<IncomingBatch> {
  checkSize(batch.length, rules);
  const header = validateBatch(batch);
  if (header.isControl) {
    throw new RecordValidationError(ErrorCode.INVALID_RECORD, 'clients may not produce control batches');
  }
  // The Produce handler checked the batch against its transaction; it must name its producer.
  if (header.isTransactional && (header.producerId < 0n || header.baseSequence < 0)) {
    throw new RecordValidationError(
      ErrorCode.INVALID_RECORD,
      'a transactional batch needs a producer id and a base sequence (initTransactions gives them)',
    );
  }
  if (header.compression === CompressionType.Zstd && rules.produceVersion < FIRST_ZSTD_PRODUCE_VERSION) {
    throw new KafkaProtocolError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, 'zstd needs Produce v7 or later');
  }
  if (header.compression > CompressionType.Zstd) {
    throw new KafkaProtocolError(
      ErrorCode.CORRUPT_MESSAGE,
      `unknown compression codec ${header.compression}`,
    );
  }
  const [, body] = await recordsBody(batch, { verifyCrc: false });
  if (screen) await screen.start(header, body);
  checkRecords(header, body, rules, screen);
  const incoming = incomingBatch(batch, header);
  return screen ? screen.finish(incoming) : incoming;
}

/**
 * Each record's offset, key and timestamp, as Kafka's LogValidator checks them, without decoding
 * records into objects; `screen` sees each record in the same walk.
 */
function checkRecords(
  header: RecordBatchHeader,
  body: Buffer,
  rules: ValidationRules,
  screen: RecordScreen | undefined,
): void {
  if (header.lastOffsetDelta !== header.recordCount - 1) {
    throw new KafkaProtocolError(
      ErrorCode.CORRUPT_MESSAGE,
      `the batch announces ${header.recordCount} records but last offset delta ${header.lastOffsetDelta}`,
    );
  }
  const errors: RecordError[] = [];
  let code: number = ErrorCode.NONE;
  const fail = (errorCode: number, index: number, message: string) => {
    if (code === ErrorCode.NONE || errorCode === ErrorCode.INVALID_RECORD) code = errorCode;
    errors.push({ batchIndex: index, batchIndexErrorMessage: message });
  };
  const checkTime = !rules.logAppendTime && header.timestampType === TimestampType.CreateTime;
  const base = Number(header.baseTimestamp);
  walkRecords(body, header, (r) => {
    const i = r.index;
    if (r.offsetDelta !== i) {
      fail(ErrorCode.INVALID_RECORD, i, `record ${i} has offset delta ${r.offsetDelta}, expected ${i}`);
    } else if (rules.compacted && r.keyLength < 0) {
      fail(ErrorCode.INVALID_RECORD, i, 'a compacted topic cannot accept a record without a key');
    } else if (checkTime) {
      const ts = base + r.timestampDelta;
      if (rules.now - ts > rules.timestampBeforeMaxMs || ts - rules.now > rules.timestampAfterMaxMs) {
        fail(
          ErrorCode.INVALID_TIMESTAMP,
          i,
          `timestamp ${ts} of record ${i} is out of range: the topic accepts ${rules.timestampBeforeMaxMs} ms before and ${rules.timestampAfterMaxMs} ms after the broker time ${rules.now}`,
        );
      }
    }
    if (screen) screen.visit(r);
  });
  if (errors.length > 0) throw recordsRejected(code, errors, header.recordCount);
}
