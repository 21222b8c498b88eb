import { defineHandler } from '../handler.js';
import { coordinatorFor } from '../transactions/access.js';
import { fencedFor } from '../transactions/transitions.js';

/**
 * AddOffsetsToTxn: the group joins the transaction, whose TxnOffsetCommit may then hold offsets of
 * it. Write on the transactional id, then Read on the group, as Kafka asks them.
 */
export default defineHandler({
  api: 'AddOffsetsToTxn',
  async handle(request, ctx) {
    const answer = (errorCode: number) => ({ throttleTimeMs: 0, errorCode });
    const coordinator = coordinatorFor(ctx, request.transactionalId, request.groupId);
    if (typeof coordinator === 'number') return answer(coordinator);
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
