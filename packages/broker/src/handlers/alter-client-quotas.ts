import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { type AlterClientQuotasRequest, ErrorCode, errorInfo } from '@kch/protocol';
import { type ClientQuota, quotaEntityKey } from '@kch/storage';
import { defineHandler } from '../handler.js';
import {
  CLIENT_ID,
  entityData,
  IP,
  IP_QUOTA_KEYS,
  type QuotaValueType,
  USER,
  USER_AND_CLIENT_QUOTA_KEYS,
} from '../quotas/entities.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';

type Entity = Record<string, string | null>;
type ApiError = { code: number; message: string | null };

const NONE: ApiError = { code: ErrorCode.NONE, message: null };
const invalid = (message: string): ApiError => ({ code: ErrorCode.INVALID_REQUEST, message });

/** Java's Long.MAX_VALUE as a double, what Kafka compares a LONG quota with. */
const LONG_MAX = 2 ** 63;
const INT_MAX = 2 ** 31 - 1;

/** ClientQuotaEntity.toString, for messages: Kafka prints the entity's HashMap, client-id first. */
function entityString(entity: Entity): string {
  const entries = entityData(entity).map((e) => `${e.entityType}=${e.entityName}`);
  return `ClientQuotaEntity(entries={${entries.join(', ')}})`;
}

/** ClientQuotaControlManager.validateEntity: known types, no empty names. */
function entityError(entity: Entity): ApiError | null {
  const types = Object.keys(entity);
  if (types.length === 0) return invalid('Invalid empty client quota entity');
  for (const type of types) {
    if (type !== USER && type !== CLIENT_ID && type !== IP)
      return invalid(`Unhandled client quota entity type: ${type}`);
    if (entity[type] === '') return invalid(`Empty ${type} not supported`);
  }
  return null;
}

/** ClientQuotaControlManager.configKeysForEntityType: which keys the combination of types takes. */
async function keysOf(entity: Entity): Promise<ReadonlyMap<string, QuotaValueType> | ApiError> {
  const hasIp = IP in entity;
  if (hasIp && (USER in entity || CLIENT_ID in entity))
    // Kafka's message, without the space it lacks.
    return invalid('Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId');
  if (hasIp) {
    const ip = entity[IP] ?? null;
    return (await isValidIpEntity(ip))
      ? IP_QUOTA_KEYS
      : invalid(`${ip} is not a valid IP or resolvable host.`);
  }
  return USER_AND_CLIENT_QUOTA_KEYS;
}

/** isValidIpEntity: the default, an address, or a name that resolves (InetAddress.getByName). */
async function isValidIpEntity(ip: string | null): Promise<boolean> {
  if (ip === null || isIP(ip) !== 0) return true;
  try {
    await dns.lookup(ip);
    return true;
  } catch {
    return false;
  }
}

/** ClientQuotaControlManager.validateQuotaKeyValue. */
function valueError(keys: ReadonlyMap<string, QuotaValueType>, key: string, value: number): ApiError | null {
  const type = keys.get(key);
  if (type === undefined) return invalid(`Invalid configuration key ${key}`);
  if (value <= 0) return invalid(`Quota ${key} must be greater than 0`);
  if (type === 'DOUBLE') return null;
  if (type === 'INT' && value > INT_MAX) return invalid(`Proposed value for ${key} is too large for an INT.`);
  if (type === 'LONG' && value > LONG_MAX)
    return invalid(`Proposed value for ${key} is too large for a LONG.`);
  if (Math.abs(value % 1) > 1e-6) return invalid(`${key} cannot be a fractional value.`);
  return null;
}

/**
 * One entity's alteration (alterClientQuotaEntity): its changes, only of values that differ from the
 * stored ones, or why it is refused.
 */
async function alteration(
  entity: Entity,
  alterations: Map<string, number | null>,
  stored: Readonly<Record<string, number>>,
): Promise<{ error: ApiError; changes: Record<string, number | null> }> {
  const refused = (error: ApiError) => ({ error, changes: {} });
  const entityRefusal = entityError(entity);
  if (entityRefusal) return refused(entityRefusal);
  const keys = await keysOf(entity);
  if (!(keys instanceof Map)) return refused(keys as ApiError);
  const changes: Record<string, number | null> = {};
  for (const [key, value] of alterations) {
    if (value === null) {
      if (key in stored) changes[key] = null;
      continue;
    }
    const error = valueError(keys, key, value);
    if (error) return refused(error);
    if (!Object.is(stored[key], value)) changes[key] = value;
  }
  return { error: NONE, changes };
}

/**
 * AlterClientQuotas, as Kafka's controller applies it (ClientQuotaControlManager.alterClientQuotas) after
 * AlterConfigs on the cluster: each entity validated and its changed values stored, or with validateOnly
 * only validated. As in Kafka, an entity named twice is answered once, with INVALID_REQUEST "Ignoring
 * duplicate entity" (the first alteration of it still applies), and so is an entity with a key named
 * twice. The quotas in force are reloaded once the changes are stored.
 */
export default defineHandler({
  api: 'AlterClientQuotas',
  serial: true,
  async handle(request, ctx) {
    if (!allowed(ctx, AclOperation.ALTER_CONFIGS, ResourceType.CLUSTER, CLUSTER_NAME))
      return errorResponseFor(request, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const { store } = ctx.broker.security;
    const stored = new Map<string, ClientQuota>();
    for (const q of await store.listClientQuotas()) stored.set(quotaEntityKey(q.entity), q);
    const results = new Map<string, { entity: Entity; error: ApiError }>();
    const changes: { entity: Entity; changes: Record<string, number | null> }[] = [];
    for (const entry of request.entries) {
      // AlterClientQuotasRequest.entries: a type named twice keeps its last name, a removal has no value.
      const entity: Entity = {};
      for (const e of entry.entity) entity[e.entityType] = e.entityName;
      const key = quotaEntityKey(entity);
      const alterations = new Map<string, number | null>();
      for (const op of entry.ops) {
        if (alterations.has(op.key))
          results.set(key, {
            entity,
            error: invalid(
              `Duplicate quota key ${op.key} not updating quota for this entity ${entityString(entity)}`,
            ),
          });
        else alterations.set(op.key, op.remove ? null : op.value);
      }
      if (results.has(key)) {
        results.set(key, { entity, error: invalid(`Ignoring duplicate entity ${entityString(entity)}`) });
        continue;
      }
      const outcome = await alteration(entity, alterations, stored.get(key)?.values ?? {});
      results.set(key, { entity, error: outcome.error });
      if (Object.keys(outcome.changes).length > 0) changes.push({ entity, changes: outcome.changes });
    }
    if (!request.validateOnly && changes.length > 0) {
      for (const c of changes) await store.alterClientQuota(c.entity, c.changes);
      await ctx.broker.quotas.load();
    }
    return {
      throttleTimeMs: 0,
      entries: [...results.values()].map(({ entity, error }) => ({
        errorCode: error.code,
        errorMessage: error.message,
        entity: entityData(entity),
      })),
    };
  },
  errorResponse(request, errorCode) {
    return errorResponseFor(request, errorCode);
  },
});

/** AlterClientQuotasRequest.getErrorResponse: every entry, as sent, with the error and its message. */
function errorResponseFor(request: AlterClientQuotasRequest, errorCode: number) {
  const errorMessage = errorInfo(errorCode)?.message ?? null;
  return {
    throttleTimeMs: 0,
    entries: request.entries.map((e) => ({
      errorCode,
      errorMessage,
      entity: e.entity.map(({ entityType, entityName }) => ({ entityType, entityName })),
    })),
  };
}
