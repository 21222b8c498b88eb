import { defineHandler } from '../handler.js';

/** OffsetCommit: stores a group's committed offsets after generation and membership checks. */
export default defineHandler({
  api: 'OffsetCommit',
  async handle(request, ctx) {
    const v = ctx.apiVersion;
    const topics = await ctx.broker.groups.commitOffsets({
      groupId: request.groupId,
      // v0 commits outside group management.
      generationId: v >= 1 ? request.generationIdOrMemberEpoch : -1,
      memberId: v >= 1 ? request.memberId : '',
      groupInstanceId: v >= 7 ? request.groupInstanceId : null,
      apiVersion: v,
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          committedOffset: Number(p.committedOffset),
          committedLeaderEpoch: v >= 6 ? p.committedLeaderEpoch : -1,
          committedMetadata: p.committedMetadata,
          // v1 carries a commit time per partition (-1: now). v2-4's retentionTimeMs is not kept:
          // offsets expire by the broker's offsetsRetentionMs.
          commitTimestamp: v === 1 ? Number(p.commitTimestamp) : -1,
        })),
      })),
    });
    return { throttleTimeMs: 0, topics };
  },
  errorResponse(request, errorCode) {
    return {
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
      })),
    };
  },
});
