import {
  ErrorCode,
  type Init,
  KafkaProtocolError,
  type ProduceResponse,
  type RecordBatchHeader,
  readBatchHeader,
} from '@kch/protocol';
import { StorageError } from '@kch/storage';
import { LeaderHints } from '../cluster/leader-hints.js';
import { defineHandler, type RequestContext } from '../handler.js';
import { ingest } from '../ingest/pipeline.js';
import { RecordValidationError } from '../ingest/record-validation.js';
import type { AppendResult } from '../log/partition-log.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowed, allowedNames } from '../security/authorize.js';

/** A record batch's fixed header (magic 2), which says whether the batch is transactional. */
const BATCH_HEADER_BYTES = 61;

type PartitionResponse = Init<ProduceResponse['responses'][number]['partitionResponses'][number]>;

/**
 * Produce: hands each partition's records to ingest (ingest/pipeline.ts: validate, check, append,
 * dead-letter) in request order, and answers once storage has accepted them (acks 1 and -1 mean the
 * same here: the one replica is storage, durable when the write returns). acks=0 gets no response, as
 * in Kafka.
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
    // Kafka's handleProduceRequest: transactional records need a transactional id the principal may
    // write to, else the whole request is refused.
    const transactional = hasTransactionalRecords(request);
    if (transactional) {
      const refusal = ctx.broker.transactionsRefused();
      if (refusal !== null) return reject(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, refusal);
      if (
        request.transactionalId === null ||
        !allowed(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, request.transactionalId)
      )
        return reject(
          ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
          'transactional records need a transactional id this principal may write to',
        );
    }
    // Write on each topic, asked before anything is stored (Kafka's handleProduceRequest): the
    // partitions of a topic the principal may not write to get TOPIC_AUTHORIZATION_FAILED.
    const writable = allowedNames(
      ctx,
      AclOperation.WRITE,
      ResourceType.TOPIC,
      request.topicData.map((t) => t.name),
    );
    const now = Date.now();
    // Queue every partition before awaiting anything, so appends keep the order of the requests.
    const topics = request.topicData.map((t) => ({
      name: t.name,
      partitions: t.partitionData.map((p) => {
        if (!writable.has(t.name)) return { index: p.index, result: NOT_AUTHORIZED };
        const refused = transactional
          ? unverified(request.transactionalId!, t.name, p.index, p.records, ctx)
          : null;
        if (refused) return { index: p.index, result: refused };
        const result = ingest(ctx.broker, {
          topic: t.name,
          partition: p.index,
          records: p.records,
          produceVersion: ctx.apiVersion,
          now,
        });
        result.catch((e: unknown) => reportFailure(t.name, p.index, e, ctx));
        return { index: p.index, result };
      }),
    }));
    if (acks === 0) {
      // No response, but the request ends when its records are stored, so the requests after it on
      // this connection see them, and a graceful shutdown waits for them.
      await Promise.allSettled(topics.flatMap((t) => t.partitions.map((p) => p.result)));
      // Its bytes still count toward producer_byte_rate, and a throttle still mutes the connection.
      if (ctx.broker.quotas.active) ctx.broker.quotas.throttleProduce(ctx, acks);
      return null;
    }
    const responses = [];
    // KIP-951 (v10+): a partition this broker does not lead names its leader, and how to reach it.
    const hints = ctx.apiVersion >= 10 ? new LeaderHints(ctx.broker, ctx.connection.listener) : undefined;
    for (const t of topics) {
      const partitionResponses: PartitionResponse[] = [];
      for (const p of t.partitions) {
        const response = await settle(p.index, p.result);
        if (hints && response.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER)
          response.currentLeader = hints.currentLeader(ctx.broker.topics.get(t.name), p.index);
        partitionResponses.push(response);
      }
      responses.push({ name: t.name, partitionResponses });
    }
    // Decided once the records are stored, as Kafka's response callback does (./quotas).
    const throttleTimeMs = ctx.broker.quotas.active ? ctx.broker.quotas.throttleProduce(ctx, acks) : 0;
    return { responses, throttleTimeMs, nodeEndpoints: hints?.endpoints() ?? [] };
  },
  errorResponse(request, errorCode) {
    return errorResponseFor(request, errorCode, null);
  },
});

function hasTransactionalRecords(request: {
  topicData: { partitionData: { records: Buffer | null }[] }[];
}): boolean {
  return request.topicData.some((t) => t.partitionData.some((p) => firstBatch(p.records)?.isTransactional));
}

/** The header of the first batch of a partition's records, or null when there is none to read. */
function firstBatch(records: Buffer | null): RecordBatchHeader | null {
  if (records === null || records.length < BATCH_HEADER_BYTES) return null;
  try {
    return readBatchHeader(records);
  } catch {
    // Validation answers the malformed batch with its own error.
    return null;
  }
}

/**
 * The partition's refusal when its transactional batch may not be written (KIP-890's verification,
 * asked of the local transaction coordinator), with Kafka's mapping for Produce: a fenced producer
 * gets INVALID_PRODUCER_EPOCH, a partition not added TRANSACTION_ABORTABLE from v11 and
 * INVALID_TXN_STATE before, a coordinator busy ending the transaction NOT_ENOUGH_REPLICAS (retriable
 * without a metadata refresh).
 */
function unverified(
  transactionalId: string,
  topic: string,
  partition: number,
  records: Buffer | null,
  ctx: RequestContext,
): Promise<AppendResult> | null {
  const header = firstBatch(records);
  if (!header?.isTransactional) return null;
  const code = ctx.broker.transactions!.verify(
    transactionalId,
    Number(header.producerId),
    header.producerEpoch,
    {
      topic,
      partition,
    },
  );
  if (code === ErrorCode.NONE) return null;
  let error: KafkaProtocolError;
  if (code === ErrorCode.PRODUCER_FENCED)
    error = new KafkaProtocolError(
      ErrorCode.INVALID_PRODUCER_EPOCH,
      `producer ${header.producerId} epoch ${header.producerEpoch} is fenced by a newer producer of transactional id ${transactionalId}`,
    );
  else if (code === ErrorCode.TRANSACTION_ABORTABLE)
    error = new KafkaProtocolError(
      ctx.apiVersion > 10 ? ErrorCode.TRANSACTION_ABORTABLE : ErrorCode.INVALID_TXN_STATE,
      `partition ${topic}-${partition} was not added to the transaction of ${transactionalId}`,
    );
  else if (code === ErrorCode.CONCURRENT_TRANSACTIONS)
    error = new KafkaProtocolError(
      ErrorCode.NOT_ENOUGH_REPLICAS,
      `unable to verify the partition has been added to the transaction of ${transactionalId}: it is ending; retry`,
    );
  else
    error = new KafkaProtocolError(
      code,
      `transaction ${transactionalId} does not match producer ${header.producerId}`,
    );
  const refused = Promise.reject(error);
  refused.catch(() => undefined);
  return refused;
}

/** The outcome of a partition of a topic the principal may not write to: nothing is stored. */
const NOT_AUTHORIZED: Promise<AppendResult> = Promise.reject(
  new KafkaProtocolError('TOPIC_AUTHORIZATION_FAILED'),
);
NOT_AUTHORIZED.catch(() => undefined);

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
