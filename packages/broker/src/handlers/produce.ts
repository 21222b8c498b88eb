import { ErrorCode, type Init, KafkaProtocolError, type ProduceResponse } from '@kch/protocol';
import { StorageError } from '@kch/storage';
import { topicConfigValue } from '../configs.js';
import { defineHandler, type RequestContext } from '../handler.js';
import { recordScreening } from '../ingest/record-checks.js';
import type { AppendResult, PartitionLog } from '../log/partition-log.js';
import { RecordValidationError, validateProducedRecords } from '../log/record-validation.js';
import type { Topic } from '../log/topics.js';

type PartitionResponse = Init<ProduceResponse['responses'][number]['partitionResponses'][number]>;

/**
 * Produce: validates each partition's records, runs the topic's record checks when it has any
 * (ingest/record-checks.ts: reject, or dead-letter the records that fail), queues them on the partition
 * log in request order, and answers once storage has accepted them (acks 1 and -1 mean the same here:
 * the one replica is storage, durable when the write returns). acks=0 gets no response, as in Kafka.
 */
export default defineHandler({
  api: 'Produce',
  write: true,
  async handle(request, ctx) {
    const { acks } = request;
    const reject = (code: number, message: string) => errorResponseFor(request, code, message);
    if (acks !== 0 && acks !== 1 && acks !== -1) {
      return reject(ErrorCode.INVALID_REQUIRED_ACKS, `acks must be -1, 0 or 1; got ${acks}`);
    }
    if (request.transactionalId !== null) {
      return reject(
        ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        'transactions are not supported by this broker yet; produce without a transactional.id',
      );
    }
    const now = Date.now();
    // Queue every partition before awaiting anything, so appends keep the order of the requests.
    const topics = request.topicData.map((t) => {
      const topic = ctx.broker.topics.get(t.name);
      return {
        name: t.name,
        partitions: t.partitionData.map((p) => {
          const result = append(topic, p.index, p.records, ctx, now);
          result.catch((e: unknown) => reportFailure(t.name, p.index, e, ctx));
          return { index: p.index, result };
        }),
      };
    });
    if (acks === 0) {
      // No response, but the request ends when its records are stored, so the requests after it on
      // this connection see them, and a graceful shutdown waits for them.
      await Promise.allSettled(topics.flatMap((t) => t.partitions.map((p) => p.result)));
      return null;
    }
    const responses = [];
    for (const t of topics) {
      const partitionResponses: PartitionResponse[] = [];
      for (const p of t.partitions) partitionResponses.push(await settle(p.index, p.result));
      responses.push({ name: t.name, partitionResponses });
    }
    return { responses, throttleTimeMs: 0 };
  },
  errorResponse(request, errorCode) {
    return errorResponseFor(request, errorCode, null);
  },
});

function errorResponseFor(
  request: { topicData: { name: string; partitionData: { index: number }[] }[] },
  errorCode: number,
  errorMessage: string | null,
) {
  return {
    responses: request.topicData.map((t) => ({
      name: t.name,
      partitionResponses: t.partitionData.map((p) => ({
        index: p.index,
        errorCode,
        baseOffset: -1n,
        logAppendTimeMs: -1n,
        logStartOffset: -1n,
        errorMessage,
      })),
    })),
    throttleTimeMs: 0,
  };
}

function append(
  topic: Topic | undefined,
  partition: number,
  records: Buffer | null,
  ctx: RequestContext,
  now: number,
): Promise<AppendResult & { log: PartitionLog }> {
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
  const config = (key: string) => topicConfigValue(topic.record.configs, ctx.broker.topicDefaults, key) ?? '';
  const logAppendTime = config('message.timestamp.type') === 'LogAppendTime';
  const prepared = validateProducedRecords(records, {
    produceVersion: ctx.apiVersion,
    // As in Kafka, a topic's max.message.bytes overrides the broker's message.max.bytes.
    maxBatchBytes: Number(config('max.message.bytes')),
    compacted: config('cleanup.policy').includes('compact'),
    logAppendTime,
    timestampBeforeMaxMs: Number(config('message.timestamp.before.max.ms')),
    timestampAfterMaxMs: Number(config('message.timestamp.after.max.ms')),
    now,
  });
  const appended = (r: AppendResult) => {
    ctx.broker.events.emit('produce', {
      topic: topic.record.name,
      partition,
      baseOffset: r.baseOffset,
      records: r.recordCount,
      bytes: records.length,
    });
    return { ...r, log };
  };
  const screening = recordScreening(topic, partition, ctx.broker);
  // A topic without record checks (the common case) appends what validation prepared, as it is.
  if (screening === null) return log.append(prepared, logAppendTime).then(appended);
  // Screened inside the queued promise, so appends keep the order of the requests.
  const screened = prepared.then((batches) => screening.screen(batches));
  return log
    .append(
      screened.then((s) => s.batches),
      logAppendTime,
    )
    .then(async (r) => {
      const result = appended(r);
      const { invalid } = await screened;
      // A retried duplicate was dead-lettered when it was first appended.
      if (invalid.length > 0 && !r.duplicate) await screening.deadLetter(r.baseOffset, invalid);
      return result;
    });
}

/**
 * Logs a failed append that is not the producer's doing (a storage fault, a table that is not kch's,
 * a bug) with its cause: the producer sees an error code, the operator needs the why. Failures of
 * the records themselves (invalid, too large, out of sequence) are the producer's, and are not logged.
 */
function reportFailure(topic: string, partition: number, e: unknown, ctx: RequestContext): void {
  const serverSide =
    !(e instanceof KafkaProtocolError) ||
    e.code === ErrorCode.KAFKA_STORAGE_ERROR ||
    e.code === ErrorCode.UNKNOWN_SERVER_ERROR ||
    e.cause instanceof StorageError;
  if (!serverSide) return;
  ctx.broker.logger.error('produce failed', {
    topic,
    partition,
    error: e,
    clientId: ctx.header.clientId,
    address: `${ctx.connection.remoteAddress}:${ctx.connection.remotePort}`,
  });
}

async function settle(index: number, result: Promise<AppendResult>): Promise<PartitionResponse> {
  try {
    const r = await result;
    return {
      index,
      errorCode: ErrorCode.NONE,
      baseOffset: BigInt(r.baseOffset),
      logAppendTimeMs: BigInt(r.logAppendTime),
      logStartOffset: BigInt(r.logStartOffset),
      recordErrors: [],
      errorMessage: null,
    };
  } catch (caught) {
    let e = caught;
    if (!(e instanceof KafkaProtocolError)) {
      e = new KafkaProtocolError('UNKNOWN_SERVER_ERROR', `append failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
    return {
      index,
      errorCode: (e as KafkaProtocolError).code,
      baseOffset: -1n,
      logAppendTimeMs: -1n,
      logStartOffset: -1n,
      recordErrors: e instanceof RecordValidationError ? e.recordErrors : [],
      errorMessage: (e as Error).message,
    };
  }
}
