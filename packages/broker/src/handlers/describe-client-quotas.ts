import { ErrorCode, errorInfo } from '@kch/protocol';
import { type ClientQuota, quotaEntityKey } from '@kch/storage';
import { defineHandler } from '../handler.js';
import { CLIENT_ID, entityData, IP, USER } from '../quotas/entities.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';

// DescribeClientQuotasRequest's match types.
const MATCH_TYPE_EXACT = 0;
const MATCH_TYPE_DEFAULT = 1;
const MATCH_TYPE_SPECIFIED = 2;

type Component = { entityType: string; matchType: number; match: string | null };

/** A filter Kafka refuses, with the error it answers and its message. */
class FilterError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface Filter {
  /** Entity type → the name it must have (null: the default). */
  readonly exact: Map<string, string | null>;
  /** Entity types that must be present with any name. */
  readonly specified: Set<string>;
}

/** Kafka's ClientQuotasImage.describe: each component checked in order, then the combination. */
function parseFilter(components: readonly Component[]): Filter {
  const exact = new Map<string, string | null>();
  const specified = new Set<string>();
  for (const c of components) {
    const type = c.entityType;
    if (type === '') throw new FilterError(ErrorCode.INVALID_REQUEST, 'Invalid empty entity type.');
    if (exact.has(type) || specified.has(type))
      throw new FilterError(
        ErrorCode.INVALID_REQUEST,
        `Entity type ${type} cannot appear more than once in the filter.`,
      );
    // Kafka answers an unknown entity type with UNSUPPORTED_VERSION.
    if (type !== IP && type !== USER && type !== CLIENT_ID)
      throw new FilterError(ErrorCode.UNSUPPORTED_VERSION, `Unsupported entity type ${type}`);
    if (c.matchType === MATCH_TYPE_EXACT) {
      if (c.match === null)
        throw new FilterError(
          ErrorCode.INVALID_REQUEST,
          'Request specified MATCH_TYPE_EXACT, but set match string to null.',
        );
      exact.set(type, c.match);
    } else if (c.matchType === MATCH_TYPE_DEFAULT) {
      if (c.match !== null)
        throw new FilterError(
          ErrorCode.INVALID_REQUEST,
          'Request specified MATCH_TYPE_DEFAULT, but also specified a match string.',
        );
      exact.set(type, null);
    } else if (c.matchType === MATCH_TYPE_SPECIFIED) {
      if (c.match !== null)
        throw new FilterError(
          ErrorCode.INVALID_REQUEST,
          'Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.',
        );
      specified.add(type);
    } else {
      throw new FilterError(ErrorCode.INVALID_REQUEST, `Unknown match type ${c.matchType}`);
    }
  }
  const has = (type: string) => exact.has(type) || specified.has(type);
  if (has(IP) && (has(USER) || has(CLIENT_ID)))
    throw new FilterError(
      ErrorCode.INVALID_REQUEST,
      'Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.',
    );
  return { exact, specified };
}

/** ClientQuotasImage.matches: strict means no entity types beyond the filter's. */
function matches(entity: ClientQuota['entity'], filter: Filter, strict: boolean): boolean {
  if (strict && Object.keys(entity).length !== filter.exact.size + filter.specified.size) return false;
  for (const [type, name] of filter.exact) if (!(type in entity) || entity[type] !== name) return false;
  for (const type of filter.specified) if (!(type in entity)) return false;
  return true;
}

/**
 * DescribeClientQuotas, as Kafka's broker answers it from its metadata image (ClientQuotasImage.describe):
 * the quotas of every entity the filter matches, after DescribeConfigs on the cluster.
 */
export default defineHandler({
  api: 'DescribeClientQuotas',
  serial: true,
  async handle(request, ctx) {
    if (!allowed(ctx, AclOperation.DESCRIBE_CONFIGS, ResourceType.CLUSTER, CLUSTER_NAME))
      return errorResponseFor(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    let filter: Filter;
    try {
      filter = parseFilter(request.components);
    } catch (e) {
      if (!(e instanceof FilterError)) throw e;
      return { throttleTimeMs: 0, errorCode: e.code, errorMessage: e.message, entries: null };
    }
    const quotas = await ctx.broker.security.store.listClientQuotas();
    const entries = quotas
      .filter((q) => matches(q.entity, filter, request.strict))
      .sort((a, b) => (quotaEntityKey(a.entity) < quotaEntityKey(b.entity) ? -1 : 1))
      .map((q) => ({
        entity: entityData(q.entity),
        values: Object.entries(q.values)
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([key, value]) => ({ key, value })),
      }));
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, entries };
  },
  errorResponse(_request, errorCode) {
    return errorResponseFor(errorCode);
  },
});

/** DescribeClientQuotasRequest.getErrorResponse: the error with its message, and no entries. */
function errorResponseFor(errorCode: number) {
  return { throttleTimeMs: 0, errorCode, errorMessage: errorInfo(errorCode)?.message ?? null, entries: null };
}
