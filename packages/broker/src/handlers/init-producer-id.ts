import { ErrorCode, type InitProducerIdRequest } from '@kch/protocol';
import { defineHandler, type RequestContext } from '../handler.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed, allowedOnSomeResource } from '../security/authorize.js';
import { fencedFor } from '../transactions/transitions.js';

/**
 * InitProducerId. For idempotent producers: a new producer id from storage (unique across restarts),
 * epoch 0; a producer that asks again (KIP-360, after an error) gets a new id, which Kafka also does
 * when there is no transactional id. For transactional producers: the transaction coordinator's
 * producer id and next epoch, which fences every earlier producer of the transactional id.
 */
export default defineHandler({
  api: 'InitProducerId',
  async handle(request, ctx) {
    if (request.transactionalId !== null) return transactional(request, ctx);
    // An idempotent producer needs IdempotentWrite on the cluster, or Write on some topic (KIP-679).
    if (
      !allowed(ctx, AclOperation.IDEMPOTENT_WRITE, ResourceType.CLUSTER, CLUSTER_NAME) &&
      !allowedOnSomeResource(ctx, AclOperation.WRITE, ResourceType.TOPIC)
    ) {
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
        producerId: -1n,
        producerEpoch: -1,
      };
    }
    const id = await ctx.broker.storage.allocateProducerId();
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: BigInt(id), producerEpoch: 0 };
  },
  errorResponse(_request, errorCode) {
    return { errorCode, producerId: -1n, producerEpoch: -1 };
  },
});

/**
 * InitProducerId with a transactional id (Kafka's handleInitProducerIdRequest): Write on it; v3+
 * may name the producer's current id and epoch (KIP-360: both or neither); PRODUCER_FENCED is
 * INVALID_PRODUCER_EPOCH before v4.
 */
async function transactional(request: InitProducerIdRequest, ctx: RequestContext) {
  const answer = (errorCode: number, producerId = -1, producerEpoch = -1) => ({
    throttleTimeMs: 0,
    errorCode,
    producerId: BigInt(producerId),
    producerEpoch,
  });
  const id = request.transactionalId!;
  if (!allowed(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, id))
    return answer(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  if (id === '') return answer(ErrorCode.INVALID_REQUEST);
  const producerId = ctx.apiVersion >= 3 ? Number(request.producerId) : -1;
  const producerEpoch = ctx.apiVersion >= 3 ? request.producerEpoch : -1;
  if ((producerId === -1) !== (producerEpoch === -1)) return answer(ErrorCode.INVALID_REQUEST);
  const coordinator = ctx.broker.transactions;
  if (!coordinator) return answer(ErrorCode.NOT_COORDINATOR);
  const r = await coordinator.initProducerId(id, request.transactionTimeoutMs, producerId, producerEpoch);
  return answer(fencedFor(r.errorCode, ctx.apiVersion, 4), r.producerId, r.producerEpoch);
}
