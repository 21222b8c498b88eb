/**
 * Dead letters: what happens to records that failed a topic's checks when the topic says
 * `kch.invalid.records=dead-letter`.
 *
 * The batch is stored without them, and their offsets stay holes, as after Kafka's compaction: the
 * batch keeps its header (offset range, producer id, epoch, base sequence, timestamps), so sequence
 * numbers, retries and duplicate detection work as for any batch, and a batch may end with no records.
 * Once that append succeeded (the offsets are known), each failed record goes to the dead-letter topic
 * with its key, value, timestamp and headers, plus headers saying why it failed and where it was
 * produced. A failure there is logged with the records' coordinates and counted, never silent.
 */
import { CompressionType, type DecodedBatch, encodeRecordBatch, type KafkaRecord } from '@kch/protocol';
import { topicConfigValue } from '../configs.js';
import type { BrokerContext } from '../context.js';
import { type IncomingBatch, incomingBatch } from '../log/partition-log.js';

/** Headers a dead-lettered record carries besides its own; values are UTF-8 (numbers in decimal). */
export const DEAD_LETTER_HEADERS = {
  reason: 'kch.dlq.reason',
  topic: 'kch.dlq.topic',
  partition: 'kch.dlq.partition',
  offset: 'kch.dlq.offset',
} as const;

/** The default dead-letter topic of `topic`. */
export function defaultDeadLetterTopic(topic: string): string {
  return `${topic}.dlq`;
}

/** A record that failed its topic's checks, removed from its batch before the append. */
export interface InvalidRecord {
  record: KafkaRecord;
  /** Its timestamp as produced (ms). */
  timestamp: number;
  /** Its offset minus the first offset of the append it was part of. */
  offsetInAppend: number;
  reason: string;
}

/**
 * The batch encoded again without the records at the indexes in `drop`: the same header and the kept
 * records' offset and timestamp deltas, compressed with the same codec (none when nothing is left).
 */
export async function withoutRecords(batch: DecodedBatch, drop: ReadonlySet<number>): Promise<IncomingBatch> {
  const { header } = batch;
  const kept = batch.records.filter((_, i) => !drop.has(i));
  const bytes = await encodeRecordBatch({
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    compression: kept.length > 0 ? header.compression : CompressionType.None,
    timestampType: header.timestampType,
    isTransactional: header.isTransactional,
    hasDeleteHorizonMs: header.hasDeleteHorizonMs,
    baseTimestamp: header.baseTimestamp,
    maxTimestamp: header.maxTimestamp,
    lastOffsetDelta: header.lastOffsetDelta,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    records: kept,
  });
  return incomingBatch(bytes);
}

/** Where the invalid records of one append came from. */
export interface DeadLetterSource {
  topic: string;
  partition: number;
  /** Partitions of the source topic: those of the dead-letter topic when it has to be created. */
  partitionCount: number;
  deadLetterTopic: string;
  /** The first offset of the append the records were removed from. */
  baseOffset: number;
}

/**
 * Appends `invalid` to the dead-letter topic (created when missing), same partition index as the
 * source. Never throws: a failure is logged with the records' original offsets and reported as an
 * `invalid-records` event with outcome `dead-letter-failed` (counted in kch_dead_letter_failures_total).
 */
export async function appendDeadLetters(
  broker: BrokerContext,
  from: DeadLetterSource,
  invalid: readonly InvalidRecord[],
): Promise<void> {
  const { topic, partition, deadLetterTopic } = from;
  const event = {
    topic,
    partition,
    records: invalid.length,
    reason: invalid[0]!.reason,
    deadLetterTopic,
  };
  try {
    // Created regardless of autoCreateTopics: the source topic's config asked for it.
    const target = await broker.topics.getOrCreate(deadLetterTopic, from.partitionCount, {
      via: `dead letters of ${topic}`,
    });
    const log = target.logs[partition];
    if (!log) {
      throw new Error(
        `the dead-letter topic ${deadLetterTopic} has ${target.logs.length} partitions, so no partition ${partition} to match the source; add partitions to it`,
      );
    }
    const bytes = await encodeRecordBatch({
      records: invalid.map((r) => ({
        key: r.record.key,
        value: r.record.value,
        timestamp: r.timestamp,
        headers: [
          ...r.record.headers,
          header(DEAD_LETTER_HEADERS.reason, r.reason),
          header(DEAD_LETTER_HEADERS.topic, topic),
          header(DEAD_LETTER_HEADERS.partition, String(partition)),
          header(DEAD_LETTER_HEADERS.offset, String(from.baseOffset + r.offsetInAppend)),
        ],
      })),
    });
    const logAppendTime =
      topicConfigValue(target.record.configs, broker.topicDefaults, 'message.timestamp.type') ===
      'LogAppendTime';
    // Straight to the log: the dead-letter topic keeps what it is given, its own checks do not apply.
    const r = await log.append([incomingBatch(bytes)], logAppendTime);
    broker.events.emit('produce', {
      topic: deadLetterTopic,
      partition,
      baseOffset: r.baseOffset,
      records: r.recordCount,
      bytes: bytes.length,
    });
    broker.events.emit('invalid-records', { ...event, outcome: 'dead-lettered' });
  } catch (e) {
    broker.logger.error('invalid records could not be stored in their dead-letter topic and are lost', {
      topic,
      partition,
      offsets: invalid.map((r) => from.baseOffset + r.offsetInAppend),
      deadLetterTopic,
      error: e,
    });
    broker.events.emit('invalid-records', { ...event, outcome: 'dead-letter-failed' });
  }
}

function header(key: string, value: string): { key: string; value: Buffer } {
  return { key, value: Buffer.from(value, 'utf8') };
}
