/**
 * Record checks on the Produce path: after the structural validation (record-validation.ts) and before
 * offsets are assigned, each record of a topic that has checks is run through them, in this order:
 *   1. the storage's check (`Storage.recordCheck`: a ClickHouse table bound with `kch.table`),
 *   2. the topic's JSON Schema (`kch.schema`),
 *   3. a schema given in code for the topic (the `topics` broker option).
 * The first failure is the record's reason. Then, per `kch.invalid.records`, the whole batch is refused
 * with INVALID_RECORD and per-record errors (reject, as Kafka does for invalid records), or the failed
 * records are taken out and dead-lettered (see dead-letters.ts).
 *
 * A topic without any check takes the Produce path exactly as before: {@link recordScreening} answers
 * null from what it knows synchronously, and nothing is decoded.
 */
import { decodeBatch, ErrorCode, recordTimestamp } from '@kch/protocol';
import type { RecordCheck } from '@kch/storage';
import { topicConfigValue } from '../configs.js';
import type { BrokerContext } from '../context.js';
import { type IncomingBatch, storageFailure } from '../log/partition-log.js';
import { type RecordError, recordsRejected } from '../log/record-validation.js';
import type { Topic } from '../log/topics.js';
import {
  appendDeadLetters,
  defaultDeadLetterTopic,
  type InvalidRecord,
  withoutRecords,
} from './dead-letters.js';
import { compileJsonSchema, valueSchemaCheck } from './value-schemas.js';

/** The batches to append, and the records taken out of them for the dead-letter topic. */
export interface Screened {
  batches: IncomingBatch[];
  invalid: InvalidRecord[];
}

/**
 * The checks of one Produce to one partition, with the topic's settings as they were when the request
 * arrived. Null when the topic can have no check: no storage check exists, and no schema is set.
 */
export function recordScreening(
  topic: Topic,
  partition: number,
  broker: BrokerContext,
): RecordScreening | null {
  const name = topic.record.name;
  const configs = topic.record.configs;
  const schemaText = topicConfigValue(configs, broker.topicDefaults, 'kch.schema');
  const codeCheck = broker.codeChecks.get(name);
  // Only a topic bound to a table (kch.table) has a storage check: plain topics never ask storage.
  const bound = broker.storage.recordCheck !== undefined && configs['kch.table'] !== undefined;
  if (!bound && schemaText === null && codeCheck === undefined) return null;
  const config = (key: string) => topicConfigValue(configs, broker.topicDefaults, key);
  return new RecordScreening(broker, topic, partition, {
    schemaText,
    codeCheck,
    deadLetter: config('kch.invalid.records') === 'dead-letter',
    deadLetterTopic: config('kch.dead.letter.topic') ?? defaultDeadLetterTopic(name),
  });
}

interface ScreeningSettings {
  schemaText: string | null;
  codeCheck: RecordCheck | undefined;
  deadLetter: boolean;
  deadLetterTopic: string;
}

export class RecordScreening {
  constructor(
    private readonly broker: BrokerContext,
    private readonly topic: Topic,
    private readonly partition: number,
    private readonly settings: ScreeningSettings,
  ) {}

  /**
   * Runs the checks on every record. Resolves with the batches to append (unchanged when every record
   * passed); rejects with INVALID_RECORD in reject mode when one failed.
   */
  async screen(batches: IncomingBatch[]): Promise<Screened> {
    const checks = await this.checks();
    if (checks.length === 0) return { batches, invalid: [] };
    const out: IncomingBatch[] = [];
    const invalid: InvalidRecord[] = [];
    let offsetInAppend = 0;
    for (const batch of batches) {
      const decoded = await decodeBatch(batch.bytes, { verifyCrc: false });
      const errors: RecordError[] = [];
      const failed: InvalidRecord[] = [];
      for (const [i, record] of decoded.records.entries()) {
        const reason = firstFailure(checks, record);
        if (reason === null) continue;
        errors.push({ batchIndex: i, batchIndexErrorMessage: reason });
        failed.push({
          record,
          timestamp: Number(recordTimestamp(decoded.header, record)),
          offsetInAppend: offsetInAppend + record.offsetDelta,
          reason,
        });
      }
      offsetInAppend += batch.lastOffsetDelta + 1;
      if (errors.length === 0) {
        out.push(batch);
        continue;
      }
      if (!this.settings.deadLetter) {
        this.report('rejected', errors.length, failed[0]!.reason);
        throw recordsRejected(ErrorCode.INVALID_RECORD, errors, decoded.header.recordCount);
      }
      out.push(await withoutRecords(decoded, new Set(errors.map((e) => e.batchIndex))));
      invalid.push(...failed);
    }
    return { batches: out, invalid };
  }

  /** Sends the records {@link screen} took out to the dead-letter topic; never throws. */
  deadLetter(baseOffset: number, invalid: readonly InvalidRecord[]): Promise<void> {
    return appendDeadLetters(
      this.broker,
      {
        topic: this.topic.record.name,
        partition: this.partition,
        partitionCount: this.topic.logs.length,
        deadLetterTopic: this.settings.deadLetterTopic,
        baseOffset,
      },
      invalid,
    );
  }

  /** The checks that apply now; the storage answers from its cache. */
  private async checks(): Promise<RecordCheck[]> {
    const name = this.topic.record.name;
    const checks: RecordCheck[] = [];
    let stored: RecordCheck | null | undefined;
    try {
      stored = await this.broker.storage.recordCheck?.(name);
    } catch (e) {
      throw storageFailure(e, name, this.partition);
    }
    if (stored) checks.push(stored);
    const { schemaText, codeCheck } = this.settings;
    // Validated when it was set, so compiling succeeds (and is cached by its text).
    if (schemaText !== null) checks.push(valueSchemaCheck(compileJsonSchema(schemaText), 'kch.schema'));
    if (codeCheck) checks.push(codeCheck);
    return checks;
  }

  private report(outcome: 'rejected', records: number, reason: string): void {
    this.broker.events.emit('invalid-records', {
      topic: this.topic.record.name,
      partition: this.partition,
      records,
      outcome,
      reason,
    });
  }
}

function firstFailure(checks: readonly RecordCheck[], record: Parameters<RecordCheck>[0]): string | null {
  for (const check of checks) {
    const reason = check(record);
    if (reason !== null) return reason;
  }
  return null;
}
