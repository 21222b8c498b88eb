import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';

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
    const id = await ctx.broker.storage.allocateProducerId();
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: BigInt(id), producerEpoch: 0 };
  },
  errorResponse(_request, errorCode) {
    return { errorCode, producerId: -1n, producerEpoch: -1 };
  },
});
