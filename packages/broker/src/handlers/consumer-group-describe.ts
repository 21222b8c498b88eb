import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';
import { groupOperations } from './describe-groups.js';
import { AUTHORIZED_OPERATIONS_OMITTED } from './metadata.js';

/**
 * ConsumerGroupDescribe (KIP-848): a consumer group's epochs, assignor and members with their current
 * and target assignments. A classic or unknown group gets GROUP_ID_NOT_FOUND, a group the principal
 * may not describe GROUP_AUTHORIZATION_FAILED, as in Kafka.
 */
export default defineHandler({
  api: 'ConsumerGroupDescribe',
  handle(request, ctx) {
    return {
      throttleTimeMs: 0,
      groups: request.groupIds.map((groupId) => {
        if (!allowed(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, groupId))
          return failedGroup(groupId, ErrorCode.GROUP_AUTHORIZATION_FAILED);
        const described = ctx.broker.groups.consumerGroupDescribe(groupId);
        const operations = groupOperations(
          ctx,
          request.includeAuthorizedOperations,
          groupId,
          described.errorCode,
        );
        return { ...described, authorizedOperations: operations };
      }),
    };
  },
  errorResponse(request, errorCode) {
    return { groups: request.groupIds.map((groupId) => failedGroup(groupId, errorCode)) };
  },
});

function failedGroup(groupId: string, errorCode: number) {
  return {
    groupId,
    errorCode,
    errorMessage: null,
    groupState: '',
    groupEpoch: 0,
    assignmentEpoch: 0,
    assignorName: '',
    members: [],
    authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}
