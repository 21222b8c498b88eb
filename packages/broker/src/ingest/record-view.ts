/**
 * A record of a batch being validated, kept for the record checks (`CheckedRecord` of @kch/storage)
 * and, should one fail in dead-letter mode, for encoding the batch again (`KafkaRecord`): its key and
 * value are views into the batch's decompressed records, its headers are read when first asked for
 * (the checks kch has look at the value alone). Made during validation's walk, so the records are
 * decompressed and walked once.
 */
import { type KafkaRecord, type RecordHeader, type RecordView, recordHeaders } from '@kch/protocol';
import type { CheckedRecord } from '@kch/storage';

const NO_HEADERS: readonly RecordHeader[] = Object.freeze([]);

export class WalkedRecord implements KafkaRecord, CheckedRecord {
  readonly attributes: number;
  readonly timestampDelta: number;
  readonly offsetDelta: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Where its headers are in the decompressed records, read from there when asked for. */
  readonly headersOffset: number;
  readonly headerCount: number;
  private read: readonly RecordHeader[] | null = null;

  /** `record` is the walk's own object, reused for the next record: what is needed is copied. */
  constructor(
    private readonly body: Buffer,
    record: RecordView,
  ) {
    this.attributes = record.attributes;
    this.timestampDelta = record.timestampDelta;
    this.offsetDelta = record.offsetDelta;
    this.key =
      record.keyLength < 0 ? null : body.subarray(record.keyOffset, record.keyOffset + record.keyLength);
    this.value =
      record.valueLength < 0
        ? null
        : body.subarray(record.valueOffset, record.valueOffset + record.valueLength);
    this.headersOffset = record.headersOffset;
    this.headerCount = record.headerCount;
  }

  get headers(): readonly RecordHeader[] {
    this.read ??= this.headerCount === 0 ? NO_HEADERS : recordHeaders(this.body, this);
    return this.read;
  }
}
