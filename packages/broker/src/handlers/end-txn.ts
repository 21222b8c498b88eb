import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';
import { fencedFor } from '../transactions/transitions.js';

/**
 * EndTxn: commits or aborts the producer's transaction. Answered once the decision is stored; the
 * markers follow (../transactions/markers.ts). Served to v4: v5 is transaction version 2 (KIP-890
 * part 2), which kch does not advertise.
 */
export default defineHandler({
  api: 'EndTxn',
  async handle(request, ctx) {
    const answer = (errorCode: number) => ({
      throttleTimeMs: 0,
      errorCode,
      producerId: -1n,
      producerEpoch: -1,
    });
    if (!allowed(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, request.transactionalId))
      return answer(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    const coordinator = ctx.broker.transactions;
    if (!coordinator) return answer(ErrorCode.NOT_COORDINATOR);
    const code = await coordinator.endTxn(
      request.transactionalId,
      Number(request.producerId),
      request.producerEpoch,
      request.committed,
    );
    return answer(fencedFor(code, ctx.apiVersion, 2));
  },
  errorResponse(_request, errorCode) {
    return { errorCode, producerId: -1n, producerEpoch: -1 };
  },
});
