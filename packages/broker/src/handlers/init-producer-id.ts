import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed, allowedOnSomeResource } from '../security/authorize.js';

/**
 * InitProducerId for idempotent producers: a new producer id from storage (unique across restarts),
 * epoch 0. A producer that asks again (KIP-360, after an error) gets a new id, which Kafka also does
 * when there is no transactional id.
 */
export default defineHandler({
  api: 'InitProducerId',
  async handle(request, ctx) {
    if (request.transactionalId !== null) {
      return {
        errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        producerId: -1n,
        producerEpoch: -1,
      };
    }
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
