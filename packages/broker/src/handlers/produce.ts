import { ErrorCode, type Init, KafkaProtocolError, type ProduceResponse } from '@kch/protocol';
import { StorageError } from '@kch/storage';
import { LeaderHints } from '../cluster/leader-hints.js';
import { defineHandler, type RequestContext } from '../handler.js';
import { ingest } from '../ingest/pipeline.js';
import { RecordValidationError } from '../ingest/record-validation.js';
import type { AppendResult } from '../log/partition-log.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowedNames } from '../security/authorize.js';

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
    if (request.transactionalId !== null) {
      return reject(
        ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        'transactions are not supported by this broker yet; produce without a transactional.id',
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
