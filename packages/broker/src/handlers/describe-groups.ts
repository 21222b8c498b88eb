import { defineHandler } from '../handler.js';
import { AUTHORIZED_OPERATIONS_OMITTED } from './metadata.js';

/**
 * What a group's authorized operations are without an authorizer: every operation Kafka supports on
 * a group (READ = 3, DELETE = 6, DESCRIBE = 8), as a bit field.
 */
const GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);

/** DescribeGroups: state, protocol and members (with metadata and assignment when Stable). */
export default defineHandler({
  api: 'DescribeGroups',
  handle(request, ctx) {
    const authorizedOperations =
      ctx.apiVersion >= 3 && request.includeAuthorizedOperations
        ? GROUP_OPERATIONS
        : AUTHORIZED_OPERATIONS_OMITTED;
    return {
      throttleTimeMs: 0,
      groups: request.groups.map((groupId) => ({
        ...ctx.broker.groups.describeGroup(groupId),
        authorizedOperations,
      })),
    };
  },
  errorResponse(request, errorCode) {
    return {
      groups: request.groups.map((groupId) => ({
        groupId,
        errorCode,
        groupState: '',
        protocolType: '',
        protocolData: '',
        members: [],
        authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
      })),
    };
  },
});
