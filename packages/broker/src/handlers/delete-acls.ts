import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { filterFromWire, hasUnknownElements, invalidFilter } from '../security/acl-bindings.js';
import { AclOperation, formatAccessControlEntry, formatResourcePattern } from '../security/acl-codes.js';
import { aclRequestRefusal } from '../security/authorize.js';

/**
 * DeleteAcls, as Kafka's AclApis and controller answer it: Alter on the cluster is needed; without an
 * authorizer every filter gets SECURITY_DISABLED; a filter with an unknown code gets INVALID_REQUEST;
 * every binding a valid filter selects is deleted (all filters together), and each filter's result
 * lists the bindings it selected.
 */
export default defineHandler({
  api: 'DeleteAcls',
  serial: true,
  async handle(request, ctx) {
    const filters = request.filters.map(filterFromWire);
    const refusal = aclRequestRefusal(
      ctx,
      hasUnknownElements(filters) ? 'Filters contain UNKNOWN elements' : null,
      AclOperation.ALTER,
      'No Authorizer is configured.',
    );
    if (refusal)
      return { throttleTimeMs: 0, filterResults: filters.map(() => ({ ...refusal, matchingAcls: [] })) };
    const errors = filters.map(invalidFilter);
    const matched = await ctx.broker.security.authorizer!.deleteAcls(
      filters.filter((_, i) => errors[i] === null),
    );
    const deleted = [...new Set(matched.flat())];
    if (deleted.length > 0) {
      ctx.broker.logger.info('ACLs deleted', {
        acls: deleted.map((b) => `${formatResourcePattern(b)} ${formatAccessControlEntry(b)}`),
        principal: ctx.connection.principal,
        clientId: ctx.header.clientId,
      });
    }
    let next = 0;
    return {
      throttleTimeMs: 0,
      filterResults: errors.map((message) => {
        if (message !== null)
          return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: message, matchingAcls: [] };
        return {
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          matchingAcls: matched[next++]!.map((b) => ({
            errorCode: ErrorCode.NONE,
            errorMessage: null,
            resourceType: b.resourceType,
            resourceName: b.resourceName,
            patternType: b.patternType,
            principal: b.principal,
            host: b.host,
            operation: b.operation,
            permissionType: b.permissionType,
          })),
        };
      }),
    };
  },
  errorResponse(request, errorCode) {
    return {
      filterResults: request.filters.map(() => ({ errorCode, errorMessage: null, matchingAcls: [] })),
    };
  },
});
