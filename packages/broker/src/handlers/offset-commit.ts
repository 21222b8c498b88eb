import { ErrorCode, type OffsetCommitRequest } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowed, allowedNames } from '../security/authorize.js';

/**
 * OffsetCommit: stores a group's committed offsets after generation and membership checks. As Kafka's
 * handleOffsetCommitRequest: Read on the group (else every partition gets GROUP_AUTHORIZATION_FAILED),
 * then Read on each topic (else its partitions get TOPIC_AUTHORIZATION_FAILED and are not committed).
 */
export default defineHandler({
  api: 'OffsetCommit',
  async handle(request, ctx) {
    const v = ctx.apiVersion;
    if (!allowed(ctx, AclOperation.READ, ResourceType.GROUP, request.groupId))
      return { throttleTimeMs: 0, ...everyPartition(request, ErrorCode.GROUP_AUTHORIZATION_FAILED) };
    const readable = allowedNames(
      ctx,
      AclOperation.READ,
      ResourceType.TOPIC,
      request.topics.map((t) => t.name),
    );
    const authorized = request.topics.filter((t) => readable.has(t.name));
    const committed =
      authorized.length === 0
        ? []
        : await ctx.broker.groups.commitOffsets({
            groupId: request.groupId,
            // v0 commits outside group management.
            generationId: v >= 1 ? request.generationIdOrMemberEpoch : -1,
            memberId: v >= 1 ? request.memberId : '',
            groupInstanceId: v >= 7 ? request.groupInstanceId : null,
            apiVersion: v,
            topics: authorized.map((t) => ({
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
    // Back in the order of the request: the coordinator answers its topics in the order given.
    let next = 0;
    const refused = everyPartition(request, ErrorCode.TOPIC_AUTHORIZATION_FAILED).topics;
    const topics = request.topics.map((t, i) => (readable.has(t.name) ? committed[next++]! : refused[i]!));
    return { throttleTimeMs: 0, topics };
  },
  errorResponse(request, errorCode) {
    return everyPartition(request, errorCode);
  },
});

function everyPartition(request: OffsetCommitRequest, errorCode: number) {
  return {
    topics: request.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
    })),
  };
}
