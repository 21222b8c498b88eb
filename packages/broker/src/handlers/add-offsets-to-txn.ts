import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';
import { fencedFor } from '../transactions/transitions.js';

/**
 * AddOffsetsToTxn: the group joins the transaction, whose TxnOffsetCommit may then hold offsets of
 * it. Write on the transactional id, then Read on the group, as Kafka asks them.
 */
export default defineHandler({
  api: 'AddOffsetsToTxn',
  async handle(request, ctx) {
    const answer = (errorCode: number) => ({ throttleTimeMs: 0, errorCode });
    if (!allowed(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, request.transactionalId))
      return answer(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    if (!allowed(ctx, AclOperation.READ, ResourceType.GROUP, request.groupId))
      return answer(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const coordinator = ctx.broker.transactions;
    if (!coordinator) return answer(ErrorCode.NOT_COORDINATOR);
    const code = await coordinator.addGroup(
      request.transactionalId,
      Number(request.producerId),
      request.producerEpoch,
      request.groupId,
    );
    return answer(fencedFor(code, ctx.apiVersion, 2));
  },
  errorResponse(_request, errorCode) {
    return { errorCode };
  },
});
