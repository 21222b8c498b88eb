/**
 * Ingest: the one way records get into a partition log. The records a Produce carries for one
 * partition go, in this order:
 *   1. validate (./record-validation.ts): format for the request version, size, CRC, codec, and each
 *      record as Kafka's LogValidator checks it;
 *   2. check (./record-checks.ts): the topic's record checks, if it has any, over the records as
 *      validation's walk found them (decompressed and walked once); reject the batch, or take the
 *      failed records out for dead letters;
 *   3. append: the partition log assigns offsets and stores the batch (group commit, ../log);
 *   4. dead-letter (./dead-letters.ts): the records taken out go to the dead-letter topic through the
 *      same append step, once the offsets they would have had are known.
 * Every append ends in the `produce` event here. The Produce handler only maps the wire to
 * {@link ingest} and its outcome back.
 */
import { ErrorCode, KafkaProtocolError } from '@kch/protocol';
import type { BrokerContext } from '../context.js';
import {
  type AppendResult,
  type IncomingBatch,
  incomingBatch,
  type PartitionLog,
} from '../log/partition-log.js';
import type { Topic } from '../log/topics.js';
import { topicConfigValue } from '../topic-configs.js';
import { deadLetterBatch } from './dead-letters.js';
import { type RecordScreening, recordScreening } from './record-checks.js';
import { RecordValidationError, validateProducedRecords } from './record-validation.js';

/** The records of one partition of a Produce request. */
export interface IngestRequest {
  topic: string;
  partition: number;
  /** The partition's `records` field as it came off the wire. */
  records: Buffer | null;
  /** The Produce version: what the records may hold (magic, zstd). */
  produceVersion: number;
  /** The broker's time when the request arrived, for timestamp bounds. */
  now: number;
}

/**
 * Validates, checks and appends the records of one partition of a Produce; resolves once storage has
 * accepted them. Called synchronously in request order (appends keep that order); rejects with a
 * KafkaProtocolError (a RecordValidationError for records at fault) when nothing was appended.
 */
export function ingest(broker: BrokerContext, request: IngestRequest): Promise<AppendResult> {
  const { partition, records } = request;
  const topic = broker.topics.get(request.topic);
  const log = topic?.logs[partition];
  if (!topic || !log) {
    return Promise.reject(
      new KafkaProtocolError(
        'UNKNOWN_TOPIC_OR_PARTITION',
        `this broker has no partition ${partition} of topic ${topic?.record.name ?? 'requested'}`,
      ),
    );
  }
  if (records === null || records.length === 0) {
    return Promise.reject(
      new RecordValidationError(ErrorCode.INVALID_RECORD, 'no records were sent for this partition'),
    );
  }
  const config = (key: string) => topicConfigValue(topic.record.configs, broker.topicDefaults, key) ?? '';
  const logAppendTime = config('message.timestamp.type') === 'LogAppendTime';
  // Null for a topic without record checks (the common case): validation alone, nothing decoded.
  const screening = recordScreening(topic, partition, broker);
  const prepared = validateProducedRecords(
    records,
    {
      produceVersion: request.produceVersion,
      // As in Kafka, a topic's max.message.bytes overrides the broker's message.max.bytes.
      maxBatchBytes: Number(config('max.message.bytes')),
      compacted: config('cleanup.policy').includes('compact'),
      logAppendTime,
      timestampBeforeMaxMs: Number(config('message.timestamp.before.max.ms')),
      timestampAfterMaxMs: Number(config('message.timestamp.after.max.ms')),
      now: request.now,
    },
    screening ?? undefined,
  );
  const appended = append(broker, topic.record.name, log, prepared, logAppendTime, records.length);
  if (screening === null) return appended;
  return appended.then(async (r) => {
    // A retried duplicate was dead-lettered when it was first appended.
    if (screening.invalid.length > 0 && !r.duplicate)
      await deadLetter(broker, topic, screening, r.baseOffset);
    return r;
  });
}

/** The append step: queued on the partition log in call order, announced once stored. */
function append(
  broker: BrokerContext,
  topic: string,
  log: PartitionLog,
  batches: Promise<IncomingBatch[]> | IncomingBatch[],
  logAppendTime: boolean,
  bytes: number,
): Promise<AppendResult> {
  return log.append(batches, logAppendTime).then((r) => {
    broker.events.emit('produce', {
      topic,
      partition: log.partition,
      baseOffset: r.baseOffset,
      records: r.recordCount,
      bytes,
    });
    return r;
  });
}

/**
 * Appends the records `screening` took out to the dead-letter topic (created when missing), same
 * partition index as the source. Never throws: a failure is logged with the records' original offsets
 * and reported as an `invalid-records` event with outcome `dead-letter-failed` (counted in
 * kch_dead_letter_failures_total).
 */
async function deadLetter(
  broker: BrokerContext,
  source: Topic,
  screening: RecordScreening,
  baseOffset: number,
): Promise<void> {
  const { topic, partition, deadLetterTopic, invalid } = screening;
  const event = { topic, partition, records: invalid.length, reason: invalid[0]!.reason, deadLetterTopic };
  try {
    // Created regardless of autoCreateTopics: the source topic's config asked for it.
    const target = await broker.topics.getOrCreate(deadLetterTopic, source.logs.length, {
      via: `dead letters of ${topic}`,
    });
    const log = target.logs[partition];
    if (!log) {
      throw new KafkaProtocolError(
        'UNKNOWN_TOPIC_OR_PARTITION',
        `the dead-letter topic ${deadLetterTopic} has ${target.logs.length} partitions, so no partition ${partition} to match the source; add partitions to it`,
      );
    }
    const bytes = await deadLetterBatch({ topic, partition, baseOffset }, invalid);
    const logAppendTime =
      topicConfigValue(target.record.configs, broker.topicDefaults, 'message.timestamp.type') ===
      'LogAppendTime';
    // Validated and checked already: the dead-letter topic keeps what it is given, its own checks do
    // not apply.
    await append(broker, deadLetterTopic, log, [incomingBatch(bytes)], logAppendTime, bytes.length);
    broker.events.emit('invalid-records', { ...event, outcome: 'dead-lettered' });
  } catch (e) {
    broker.logger.error('invalid records could not be stored in their dead-letter topic and are lost', {
      topic,
      partition,
      offsets: invalid.map((r) => baseOffset + r.offsetInAppend),
      deadLetterTopic,
      error: e,
    });
    broker.events.emit('invalid-records', { ...event, outcome: 'dead-letter-failed' });
  }
}
