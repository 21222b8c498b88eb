import { ErrorCode } from '@kch/protocol';
import type { FetchOffsetsResult } from '../groups/coordinator.js';
import { defineHandler, type RequestContext } from '../handler.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowed, allowedNames } from '../security/authorize.js';

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
 * committed partition (v2+). Partitions without a commit answer offset -1. With requireStable (v7+,
 * KIP-447) a partition whose offset an open transaction holds answers UNSTABLE_OFFSET_COMMIT, which
 * the consumer retries until the transaction ends.
 */
export default defineHandler({
  api: 'OffsetFetch',
  async handle(request, ctx) {
    if (ctx.apiVersion >= 8) {
      const results = await Promise.all(
        request.groups.map(async (g) => {
          // v9+: a consumer group member names itself and its epoch (KIP-848).
          const member =
            ctx.apiVersion >= 9 ? { memberId: g.memberId, memberEpoch: g.memberEpoch } : undefined;
          const r = stable(
            g.groupId,
            await fetchGroup(g.groupId, g.topics, ctx, member),
            request.requireStable,
            ctx,
          );
          return { groupId: g.groupId, errorCode: r.errorCode, topics: wireTopics(r.topics) };
        }),
      );
      return { throttleTimeMs: 0, groups: results };
    }
    // v0-1 always name their topics; from v2 null means all.
    const requireStable = ctx.apiVersion >= 7 && request.requireStable;
    const r = stable(
      request.groupId,
      await fetchGroup(request.groupId, request.topics, ctx),
      requireStable,
      ctx,
    );
    return { throttleTimeMs: 0, errorCode: r.errorCode, topics: wireTopics(r.topics) };
  },
  errorResponse(request, errorCode, ctx) {
    if (ctx.apiVersion >= 8) {
      return { groups: request.groups.map((g) => ({ groupId: g.groupId, errorCode, topics: [] })) };
    }
    // v0-1 have no top-level error code: the partitions carry it.
    return { errorCode, topics: wireTopics(unfetched(request.topics ?? [], errorCode)) };
  },
});

type Topics = readonly { name: string; partitionIndexes: readonly number[] }[] | null;

/** With requireStable: the partitions a transaction holds offsets of answer UNSTABLE_OFFSET_COMMIT. */
function stable(
  groupId: string,
  r: FetchOffsetsResult,
  requireStable: boolean,
  ctx: RequestContext,
): FetchOffsetsResult {
  const transactions = ctx.broker.transactions;
  if (!requireStable || !transactions || r.errorCode !== ErrorCode.NONE) return r;
  for (const t of r.topics)
    for (const p of t.partitions) {
      if (
        p.errorCode !== ErrorCode.NONE ||
        !transactions.hasPendingOffsets(groupId, t.name, p.partitionIndex)
      )
        continue;
      Object.assign(p, {
        errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT,
        committedOffset: -1,
        committedLeaderEpoch: -1,
        metadata: '',
      });
    }
  return r;
}

/**
 * One group's offsets as Kafka's handleOffsetFetchRequest authorizes them: Describe on the group, else
 * GROUP_AUTHORIZATION_FAILED (v0-1 in each partition); of all committed topics only those the
 * principal may describe; a named topic it may not describe gets TOPIC_AUTHORIZATION_FAILED in each
 * partition, after the others.
 */
async function fetchGroup(
  groupId: string,
  topics: Topics,
  ctx: RequestContext,
  member?: { memberId: string | null; memberEpoch: number },
): Promise<FetchOffsetsResult> {
  const { groups } = ctx.broker;
  if (!allowed(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, groupId)) {
    const refused = ErrorCode.GROUP_AUTHORIZATION_FAILED;
    if (ctx.apiVersion >= 2 || topics === null) return { errorCode: refused, topics: [] };
    return { errorCode: refused, topics: unfetched(topics, refused) };
  }
  const describable = (names: Iterable<string>) =>
    allowedNames(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, names);
  if (topics === null) {
    const r = await groups.fetchOffsets(groupId, null, member);
    if (r.errorCode !== ErrorCode.NONE) return r;
    const shown = describable(r.topics.map((t) => t.name));
    return { errorCode: r.errorCode, topics: r.topics.filter((t) => shown.has(t.name)) };
  }
  const shown = describable(topics.map((t) => t.name));
  const r = await groups.fetchOffsets(
    groupId,
    topics.filter((t) => shown.has(t.name)),
    member,
  );
  if (r.errorCode !== ErrorCode.NONE) return r;
  const hidden = topics.filter((t) => !shown.has(t.name));
  return {
    errorCode: r.errorCode,
    topics: [...r.topics, ...unfetched(hidden, ErrorCode.TOPIC_AUTHORIZATION_FAILED)],
  };
}

/** Named partitions answered with an error and no offset. */
function unfetched(topics: NonNullable<Topics>, errorCode: number): FetchOffsetsResult['topics'] {
  return topics.map((t) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((partitionIndex) => ({
      partitionIndex,
      committedOffset: -1,
      committedLeaderEpoch: -1,
      metadata: '',
      errorCode,
    })),
  }));
}
