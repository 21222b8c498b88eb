import { ErrorCode } from '@kch/protocol';
import { clientHostOf } from '../groups/coordinator.js';
import { defineHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';

/**
 * JoinGroup: parks until the group's join phase completes, so it is not serial (the connection still
 * answers in order; requests behind a parked JoinGroup wait for it, as Kafka's muted channel makes
 * them wait).
 */
export default defineHandler({
  api: 'JoinGroup',
  async handle(request, ctx) {
    const v = ctx.apiVersion;
    // Read on the group; refused, the member id is Kafka's UNKNOWN_MEMBER_ID ("").
    if (!allowed(ctx, AclOperation.READ, ResourceType.GROUP, request.groupId))
      return { throttleTimeMs: 0, ...joinFailure(ErrorCode.GROUP_AUTHORIZATION_FAILED, '', v) };
    if (ctx.header.clientId) ctx.broker.committedReaders.joined(request.groupId, ctx.header.clientId);
    const result = await ctx.broker.groups.joinGroup({
      groupId: request.groupId,
      memberId: request.memberId,
      groupInstanceId: v >= 5 ? request.groupInstanceId : null,
      // KIP-394: from v4 a member without id is given one and asked to join again with it.
      requireKnownMemberId: v >= 4,
      supportSkippingAssignment: v >= 9,
      clientId: ctx.header.clientId ?? '',
      clientHost: clientHostOf(ctx.connection.remoteAddress),
      // v0 has no rebalance timeout: the session timeout is used (JoinGroupRequest in Kafka).
      rebalanceTimeoutMs: v >= 1 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
      sessionTimeoutMs: request.sessionTimeoutMs,
      protocolType: request.protocolType,
      protocols: request.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
      reason: v >= 8 ? request.reason : null,
    });
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      generationId: result.generationId,
      protocolType: result.protocolType,
      // Nullable from v7; before, "no protocol" is "".
      protocolName: v >= 7 ? result.protocolName : (result.protocolName ?? ''),
      leader: result.leader,
      skipAssignment: result.skipAssignment,
      memberId: result.memberId,
      members: result.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        metadata: m.metadata,
      })),
    };
  },
  errorResponse(request, errorCode, ctx) {
    return joinFailure(errorCode, request.memberId, ctx.apiVersion);
  },
});

function joinFailure(errorCode: number, memberId: string, version: number) {
  return {
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: version >= 7 ? null : '',
    leader: '',
    memberId,
    members: [],
  };
}
