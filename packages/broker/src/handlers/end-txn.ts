import { defineHandler } from '../handler.js';
import { coordinatorFor } from '../transactions/access.js';
import { fencedFor } from '../transactions/transitions.js';

/**
 * EndTxn: commits or aborts the producer's transaction. Answered once the decision is stored and
 * its markers written (../transactions/coordinator.ts endTxn). Served to v4: v5 is transaction version 2 (KIP-890
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
    const coordinator = coordinatorFor(ctx, request.transactionalId);
    if (typeof coordinator === 'number') return answer(coordinator);
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
