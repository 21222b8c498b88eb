import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';

/** LeaveGroup: v0-2 one member by id; v3+ a batch of members (by member id or group.instance.id). */
export default defineHandler({
  api: 'LeaveGroup',
  handle(request, ctx) {
    const v = ctx.apiVersion;
    if (!allowed(ctx, AclOperation.READ, ResourceType.GROUP, request.groupId))
      return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, members: [] };
    const leaving =
      v >= 3
        ? request.members.map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            reason: v >= 5 ? m.reason : null,
          }))
        : [{ memberId: request.memberId, groupInstanceId: null, reason: null }];
    const result = ctx.broker.groups.leaveGroup(request.groupId, leaving);
    if (v <= 2) {
      // One error code: the top-level one, else the member's (LeaveGroupResponse for v0-2).
      const errorCode =
        result.errorCode !== ErrorCode.NONE
          ? result.errorCode
          : (result.members.find((m) => m.errorCode !== ErrorCode.NONE)?.errorCode ?? ErrorCode.NONE);
      return { throttleTimeMs: 0, errorCode };
    }
    return { throttleTimeMs: 0, errorCode: result.errorCode, members: result.members };
  },
  errorResponse(_request, errorCode) {
    return { errorCode, members: [] };
  },
});
