import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { filterOnlyCodes, hasUnknownElements, invalidBinding } from '../security/acl-bindings.js';
import { AclOperation, formatAccessControlEntry, formatResourcePattern } from '../security/acl-codes.js';
import { aclRequestRefusal } from '../security/authorize.js';

/**
 * CreateAcls, as Kafka's AclApis and controller answer it: Alter on the cluster is needed; without an
 * authorizer every creation gets SECURITY_DISABLED; each binding is checked on its own (INVALID_REQUEST
 * for that one) and the valid ones are stored together, applying at once.
 */
export default defineHandler({
  api: 'CreateAcls',
  serial: true,
  async handle(request, ctx) {
    const bindings = request.creations.map((c) => ({
      resourceType: c.resourceType,
      resourceName: c.resourceName,
      patternType: c.resourcePatternType,
      principal: c.principal,
      host: c.host,
      operation: c.operation,
      permissionType: c.permissionType,
    }));
    const everyOne = (e: { errorCode: number; errorMessage: string | null }) => ({
      throttleTimeMs: 0,
      results: bindings.map(() => ({ errorCode: e.errorCode, errorMessage: e.errorMessage })),
    });
    const refusal = aclRequestRefusal(
      ctx,
      hasUnknownElements(bindings) ? 'CreatableAcls contain unknown elements' : null,
      AclOperation.ALTER,
      'No Authorizer is configured.',
    );
    if (refusal) return everyOne(refusal);
    // Kafka turns every creation into an AclBinding first, whose constructor refuses the codes only a
    // filter may have (ANY, MATCH) with an IllegalArgumentException: the whole request fails with
    // UNKNOWN_SERVER_ERROR.
    for (const b of bindings) {
      const refused = filterOnlyCodes(b);
      if (refused) return everyOne({ errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: refused });
    }
    const errors = bindings.map(invalidBinding);
    const valid = bindings.filter((_, i) => errors[i] === null);
    await ctx.broker.security.authorizer!.createAcls(valid);
    if (valid.length > 0) {
      ctx.broker.logger.info('ACLs created', {
        acls: valid.map((b) => `${formatResourcePattern(b)} ${formatAccessControlEntry(b)}`),
        principal: ctx.connection.principal,
        clientId: ctx.header.clientId,
      });
    }
    return {
      throttleTimeMs: 0,
      results: errors.map((message) =>
        message === null
          ? { errorCode: ErrorCode.NONE, errorMessage: null }
          : { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: message },
      ),
    };
  },
  errorResponse(request, errorCode) {
    return { results: request.creations.map(() => ({ errorCode, errorMessage: null })) };
  },
});
