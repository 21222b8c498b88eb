import { defineHandler } from '../handler.js';

/** Heartbeat: keeps a member's session alive and tells it when the group rebalances. */
export default defineHandler({
  api: 'Heartbeat',
  handle(request, ctx) {
    const errorCode = ctx.broker.groups.heartbeat({
      groupId: request.groupId,
      generationId: request.generationId,
      memberId: request.memberId,
      groupInstanceId: ctx.apiVersion >= 3 ? request.groupInstanceId : null,
    });
    return { throttleTimeMs: 0, errorCode };
  },
  errorResponse(_request, errorCode) {
    return { errorCode };
  },
});
