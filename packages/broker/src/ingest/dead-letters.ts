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
 *
 * This module is what a dead letter is; ./pipeline.ts delivers them, through the append that every
 * produced record takes.
 */
import {
  type DecodedBatch,
  encodeBatchWithRecords,
  encodeRecordBatch,
  type KafkaRecord,
} from '@kch/protocol';
import { type IncomingBatch, incomingBatch } from '../log/partition-log.js';
import type { Topic } from '../log/topics.js';
import { topicConfigValue } from '../topic-configs.js';

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
  const kept = batch.records.filter((_, i) => !drop.has(i));
  return incomingBatch(await encodeBatchWithRecords(batch, kept));
}

/** Where the invalid records of one append came from. */
export interface DeadLetterSource {
  topic: string;
  partition: number;
  /** The first offset of the append the records were removed from. */
  baseOffset: number;
}

/**
 * The batch of dead letters for the dead-letter topic: each invalid record with its key, value,
 * timestamp and headers, plus the `kch.dlq.*` headers saying why it failed and where it was produced.
 */
export function deadLetterBatch(from: DeadLetterSource, invalid: readonly InvalidRecord[]): Promise<Buffer> {
  const { topic, partition } = from;
  return encodeRecordBatch({
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
}

function header(key: string, value: string): { key: string; value: Buffer } {
  return { key, value: Buffer.from(value, 'utf8') };
}

/** The topic its invalid records go to, when it dead-letters them (kch.invalid.records=dead-letter). */
export function deadLetterTopicOf(topic: Topic, topicDefaults: Record<string, string>): string | null {
  const config = (key: string) => topicConfigValue(topic.record.configs, topicDefaults, key);
  if (config('kch.invalid.records') !== 'dead-letter') return null;
  return config('kch.dead.letter.topic') ?? defaultDeadLetterTopic(topic.record.name);
}
