import type { FetchOffsetsResult } from '../groups/coordinator.js';
import { defineHandler } from '../handler.js';

/** The wire form of fetched offsets (int64 offsets). */
function wireTopics(topics: FetchOffsetsResult['topics']) {
  return topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => ({
      partitionIndex: p.partitionIndex,
      committedOffset: BigInt(p.committedOffset),
      committedLeaderEpoch: p.committedLeaderEpoch,
      metadata: p.metadata,
      errorCode: p.errorCode,
    })),
  }));
}

/**
 * OffsetFetch: committed offsets of one group (v0-7) or several (v8+); null topics mean every
 * committed partition (v2+). Partitions without a commit answer offset -1. requireStable (v7+) needs
 * nothing: without transactions no offset commit is ever pending.
 */
export default defineHandler({
  api: 'OffsetFetch',
  async handle(request, ctx) {
    const { groups } = ctx.broker;
    if (ctx.apiVersion >= 8) {
      const results = await Promise.all(
        request.groups.map(async (g) => {
          const r = await groups.fetchOffsets(g.groupId, g.topics);
          return { groupId: g.groupId, errorCode: r.errorCode, topics: wireTopics(r.topics) };
        }),
      );
      return { throttleTimeMs: 0, groups: results };
    }
    // v0-1 always name their topics; from v2 null means all.
    const r = await groups.fetchOffsets(request.groupId, request.topics);
    return { throttleTimeMs: 0, errorCode: r.errorCode, topics: wireTopics(r.topics) };
  },
  errorResponse(request, errorCode, ctx) {
    if (ctx.apiVersion >= 8) {
      return { groups: request.groups.map((g) => ({ groupId: g.groupId, errorCode, topics: [] })) };
    }
    // v0-1 have no top-level error code: the partitions carry it.
    return {
      errorCode,
      topics: (request.topics ?? []).map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((p) => ({
          partitionIndex: p,
          committedOffset: -1n,
          metadata: '',
          errorCode,
        })),
      })),
    };
  },
});
