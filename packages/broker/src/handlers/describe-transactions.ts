import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowed, allowedNames } from '../security/authorize.js';

/**
 * DescribeTransactions (KIP-664): each transactional id's state, producer and partitions, as Kafka's
 * handleDescribeTransactionsRequest answers it: Describe on the id, else
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED; unknown, TRANSACTIONAL_ID_NOT_FOUND; partitions of topics
 * the caller may not describe are left out.
 */
export default defineHandler({
  api: 'DescribeTransactions',
  handle(request, ctx) {
    const coordinator = ctx.broker.transactions;
    const transactionStates = request.transactionalIds.map((transactionalId) => {
      const failed = (errorCode: number) => failedState(transactionalId, errorCode);
      if (!allowed(ctx, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, transactionalId))
        return failed(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      if (transactionalId === '') return failed(ErrorCode.INVALID_REQUEST);
      if (!coordinator) return failed(ErrorCode.NOT_COORDINATOR);
      const m = coordinator.get(transactionalId);
      if (!m) return failed(ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
      const byTopic = new Map<string, number[]>();
      for (const tp of m.partitions) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
      const visible = allowedNames(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, [...byTopic.keys()]);
      return {
        errorCode: ErrorCode.NONE,
        transactionalId,
        transactionState: m.state,
        transactionTimeoutMs: m.timeoutMs,
        transactionStartTimeMs: BigInt(m.startedAt),
        producerId: BigInt(m.producerId),
        producerEpoch: m.producerEpoch,
        topics: [...byTopic]
          .filter(([topic]) => visible.has(topic))
          .map(([topic, partitions]) => ({ topic, partitions })),
      };
    });
    return { throttleTimeMs: 0, transactionStates };
  },
  errorResponse(request, errorCode) {
    return { transactionStates: request.transactionalIds.map((id) => failedState(id, errorCode)) };
  },
});

function failedState(transactionalId: string, errorCode: number) {
  return {
    errorCode,
    transactionalId,
    transactionState: '',
    transactionTimeoutMs: 0,
    transactionStartTimeMs: -1n,
    producerId: -1n,
    producerEpoch: -1,
    topics: [],
  };
}
