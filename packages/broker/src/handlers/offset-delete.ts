import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowed, allowedNames } from '../security/authorize.js';

/**
 * OffsetDelete: removes committed offsets of partitions the group no longer consumes. As Kafka's
 * handleOffsetDeleteRequest: Delete on the group, then Read on each topic (refused: its partitions
 * get TOPIC_AUTHORIZATION_FAILED, before the others).
 */
export default defineHandler({
  api: 'OffsetDelete',
  async handle(request, ctx) {
    if (!allowed(ctx, AclOperation.DELETE, ResourceType.GROUP, request.groupId))
      return { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, throttleTimeMs: 0, topics: [] };
    const topics = request.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => p.partitionIndex),
    }));
    const readable = allowedNames(
      ctx,
      AclOperation.READ,
      ResourceType.TOPIC,
      topics.map((t) => t.name),
    );
    const refused = topics
      .filter((t) => !readable.has(t.name))
      .map((t) => ({
        name: t.name,
        partitions: t.partitions.map((partitionIndex) => ({
          partitionIndex,
          errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
        })),
      }));
    const result = await ctx.broker.groups.deleteOffsets(
      request.groupId,
      topics.filter((t) => readable.has(t.name)),
    );
    // A group-level error (no such group, not empty) answers alone, as Kafka's coordinator does.
    if (result.errorCode !== ErrorCode.NONE)
      return { errorCode: result.errorCode, throttleTimeMs: 0, topics: [] };
    return { errorCode: result.errorCode, throttleTimeMs: 0, topics: [...refused, ...result.topics] };
  },
  errorResponse(_request, errorCode) {
    return { errorCode, topics: [] };
  },
});
