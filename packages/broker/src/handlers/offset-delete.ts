import { defineHandler } from '../handler.js';

/** OffsetDelete: removes committed offsets of partitions the group no longer consumes. */
export default defineHandler({
  api: 'OffsetDelete',
  async handle(request, ctx) {
    const result = await ctx.broker.groups.deleteOffsets(
      request.groupId,
      request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => p.partitionIndex) })),
    );
    return { errorCode: result.errorCode, throttleTimeMs: 0, topics: result.topics };
  },
  errorResponse(_request, errorCode) {
    return { errorCode, topics: [] };
  },
});
