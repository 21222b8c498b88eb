import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';

/**
 * SyncGroup: a follower parks until the leader sends the assignment, so it is not serial (the
 * connection still answers in order).
 */
export default defineHandler({
  api: 'SyncGroup',
  async handle(request, ctx) {
    const v = ctx.apiVersion;
    const protocolType = v >= 5 ? request.protocolType : null;
    const protocolName = v >= 5 ? request.protocolName : null;
    // From v5 both are mandatory (SyncGroupRequest.areMandatoryProtocolTypeAndNamePresent).
    // After that check, Read on the group, as Kafka's handleSyncGroupRequest orders them.
    const refused =
      v >= 5 && (protocolType === null || protocolName === null)
        ? ErrorCode.INCONSISTENT_GROUP_PROTOCOL
        : !allowed(ctx, AclOperation.READ, ResourceType.GROUP, request.groupId)
          ? ErrorCode.GROUP_AUTHORIZATION_FAILED
          : undefined;
    const result =
      refused !== undefined
        ? { errorCode: refused, protocolType: null, protocolName: null, assignment: undefined }
        : await ctx.broker.groups.syncGroup({
            groupId: request.groupId,
            generationId: request.generationId,
            memberId: request.memberId,
            groupInstanceId: v >= 3 ? request.groupInstanceId : null,
            protocolType,
            protocolName,
            assignments: request.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
          });
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      protocolType: result.protocolType,
      protocolName: result.protocolName,
      assignment: result.assignment,
    };
  },
  errorResponse(_request, errorCode) {
    return { errorCode, protocolType: null, protocolName: null };
  },
});
