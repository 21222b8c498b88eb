import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowedNames } from '../security/authorize.js';

/**
 * DeleteGroups: removes Empty groups with their committed offsets. A group the principal may not
 * delete gets GROUP_AUTHORIZATION_FAILED, after the others, as in Kafka.
 */
export default defineHandler({
  api: 'DeleteGroups',
  async handle(request, ctx) {
    const deletable = allowedNames(ctx, AclOperation.DELETE, ResourceType.GROUP, request.groupsNames);
    const results = await ctx.broker.groups.deleteGroups(request.groupsNames.filter((g) => deletable.has(g)));
    const refused = [...new Set(request.groupsNames)].filter((g) => !deletable.has(g));
    for (const groupId of refused) results.push({ groupId, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED });
    return { throttleTimeMs: 0, results };
  },
  errorResponse(request, errorCode) {
    return { results: [...new Set(request.groupsNames)].map((groupId) => ({ groupId, errorCode })) };
  },
});
