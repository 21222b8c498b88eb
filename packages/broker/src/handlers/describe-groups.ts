import { ErrorCode } from '@kch/protocol';
import { defineHandler, type RequestContext } from '../handler.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowed, authorizedOperations } from '../security/authorize.js';
import { AUTHORIZED_OPERATIONS_OMITTED } from './metadata.js';

/**
 * What a group's authorized operations are without an authorizer: READ = 3, DELETE = 6, DESCRIBE = 8,
 * as a bit field. Kafka 3.8+ also lists DESCRIBE_CONFIGS and ALTER_CONFIGS for a group (group configs,
 * which kch does not have); with an authorizer kch reports Kafka's list (acl-codes.ts).
 */
const GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);

/**
 * The authorized operations of a described group: with an authorizer, Kafka's operations of a group
 * described without error; without one, GROUP_OPERATIONS; not asked for, the field's "omitted".
 */
export function groupOperations(
  ctx: RequestContext,
  asked: boolean,
  groupId: string,
  errorCode: number,
): number {
  if (!asked) return AUTHORIZED_OPERATIONS_OMITTED;
  if (!ctx.broker.security.authorizer) return GROUP_OPERATIONS;
  return errorCode === ErrorCode.NONE
    ? authorizedOperations(ctx, ResourceType.GROUP, groupId)
    : AUTHORIZED_OPERATIONS_OMITTED;
}

/**
 * DescribeGroups: state, protocol and members (with metadata and assignment when Stable). A group the
 * principal may not describe gets GROUP_AUTHORIZATION_FAILED and nothing else, as in Kafka.
 */
export default defineHandler({
  api: 'DescribeGroups',
  handle(request, ctx) {
    const withOperations = ctx.apiVersion >= 3 && request.includeAuthorizedOperations;
    return {
      throttleTimeMs: 0,
      groups: request.groups.map((groupId) => {
        if (!allowed(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, groupId))
          return failedGroup(groupId, ErrorCode.GROUP_AUTHORIZATION_FAILED);
        const described = ctx.broker.groups.describeGroup(groupId);
        return {
          ...described,
          authorizedOperations: groupOperations(ctx, withOperations, groupId, described.errorCode),
        };
      }),
    };
  },
  errorResponse(request, errorCode) {
    return { groups: request.groups.map((groupId) => failedGroup(groupId, errorCode)) };
  },
});

/** DescribeGroupsResponse.groupError: the code, and no state, protocol or members. */
function failedGroup(groupId: string, errorCode: number) {
  return {
    groupId,
    errorCode,
    groupState: '',
    protocolType: '',
    protocolData: '',
    members: [],
    authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}
