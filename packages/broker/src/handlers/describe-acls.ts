import { type DescribeAclsResponse, ErrorCode, type Init } from '@kch/protocol';
import type { AclBinding } from '@kch/storage';
import { defineHandler } from '../handler.js';
import { filterFromWire, hasUnknownElements } from '../security/acl-bindings.js';
import { AclOperation } from '../security/acl-codes.js';
import { aclRequestRefusal } from '../security/authorize.js';

type DescribedResource = Init<DescribeAclsResponse['resources'][number]>;

/**
 * DescribeAcls, as Kafka's AclApis answers it: Describe on the cluster is needed; without an authorizer
 * the answer is SECURITY_DISABLED; otherwise the bindings the filter selects, grouped by resource
 * pattern. A MATCH filter selects what applies to a resource (its literal name, `*`, prefixes of it).
 */
export default defineHandler({
  api: 'DescribeAcls',
  serial: true,
  handle(request, ctx) {
    const filter = filterFromWire(request);
    const refusal = aclRequestRefusal(
      ctx,
      hasUnknownElements([filter]) ? 'DescribeAclsRequest contains UNKNOWN elements' : null,
      AclOperation.DESCRIBE,
      'No Authorizer is configured on the broker',
    );
    if (refusal) return { throttleTimeMs: 0, ...refusal, resources: [] };
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      resources: byResource(ctx.broker.security.authorizer!.acls(filter)),
    };
  },
  errorResponse(_request, errorCode) {
    return { errorCode, errorMessage: null, resources: [] };
  },
});

/** The bindings grouped by resource pattern (DescribeAclsResponse.aclsResources), in stored order. */
function byResource(bindings: readonly AclBinding[]): DescribedResource[] {
  const resources = new Map<string, DescribedResource & { acls: unknown[] }>();
  for (const b of bindings) {
    const key = JSON.stringify([b.resourceType, b.resourceName, b.patternType]);
    let resource = resources.get(key);
    if (!resource) {
      resource = {
        resourceType: b.resourceType,
        resourceName: b.resourceName,
        patternType: b.patternType,
        acls: [],
      };
      resources.set(key, resource);
    }
    resource.acls.push({
      principal: b.principal,
      host: b.host,
      operation: b.operation,
      permissionType: b.permissionType,
    });
  }
  return [...resources.values()];
}
