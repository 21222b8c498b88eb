import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';

/**
 * ListGroups: every group, optionally filtered by state (v4+) and type (v5+). As Kafka: all of them
 * for a principal that may describe the cluster, else only those it may describe.
 */
export default defineHandler({
  api: 'ListGroups',
  handle(request, ctx) {
    const v = ctx.apiVersion;
    const groups = ctx.broker.groups.listGroups(
      v >= 4 ? request.statesFilter : [],
      v >= 5 ? request.typesFilter : [],
    );
    const all = allowed(ctx, AclOperation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME);
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      groups: all
        ? groups
        : groups.filter((g) => allowed(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, g.groupId)),
    };
  },
  errorResponse(_request, errorCode) {
    return { errorCode, groups: [] };
  },
});
