import { defineHandler } from '../handler.js';

/** DeleteGroups: removes Empty groups with their committed offsets. */
export default defineHandler({
  api: 'DeleteGroups',
  async handle(request, ctx) {
    const results = await ctx.broker.groups.deleteGroups(request.groupsNames);
    return { throttleTimeMs: 0, results };
  },
  errorResponse(request, errorCode) {
    return { results: [...new Set(request.groupsNames)].map((groupId) => ({ groupId, errorCode })) };
  },
});
