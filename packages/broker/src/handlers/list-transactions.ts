import { ErrorCode } from '@kch/protocol';
import { TRANSACTION_STATE_NAMES, type TransactionStateName } from '@kch/storage';
import { defineHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';

/**
 * Kafka's state names (TransactionState): those kch stores, and Dead and PrepareEpochFence, which Kafka
 * knows as filters too (kch never lists a transaction in them).
 */
const STATE_NAMES = new Set<string>([...TRANSACTION_STATE_NAMES, 'Dead', 'PrepareEpochFence']);

/**
 * ListTransactions (KIP-664, KIP-994 for v1's duration filter): the transactional ids this broker
 * coordinates, filtered by state, producer id and how long their transaction has been open (as
 * Kafka's listTransactionStates: now minus the start time, -1 for a transaction never begun), each
 * only when the caller may describe it.
 */
export default defineHandler({
  api: 'ListTransactions',
  handle(request, ctx) {
    const coordinator = ctx.broker.transactions;
    const unknownStateFilters = request.stateFilters.filter((s) => !STATE_NAMES.has(s));
    if (!coordinator)
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, unknownStateFilters, transactionStates: [] };
    const states = new Set(request.stateFilters);
    const producers = new Set(request.producerIdFilters.map(Number));
    const minDuration = ctx.apiVersion >= 1 ? Number(request.durationFilter) : -1;
    const now = Date.now();
    const transactionStates = coordinator
      .all()
      .filter(
        (m) =>
          (states.size === 0 || states.has(m.state satisfies TransactionStateName)) &&
          (producers.size === 0 || producers.has(m.producerId)) &&
          (minDuration < 0 || now - m.startedAt > minDuration) &&
          allowed(ctx, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, m.transactionalId),
      )
      .map((m) => ({
        transactionalId: m.transactionalId,
        producerId: BigInt(m.producerId),
        transactionState: m.state,
      }));
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, unknownStateFilters, transactionStates };
  },
  errorResponse(_request, errorCode) {
    return { errorCode, unknownStateFilters: [], transactionStates: [] };
  },
});
