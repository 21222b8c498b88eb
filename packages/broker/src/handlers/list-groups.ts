import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';

/** ListGroups: every group, optionally filtered by state (v4+) and type (v5+). */
export default defineHandler({
  api: 'ListGroups',
  handle(request, ctx) {
    const v = ctx.apiVersion;
    const groups = ctx.broker.groups.listGroups(
      v >= 4 ? request.statesFilter : [],
      v >= 5 ? request.typesFilter : [],
    );
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups };
  },
  errorResponse(_request, errorCode) {
    return { errorCode, groups: [] };
  },
});
