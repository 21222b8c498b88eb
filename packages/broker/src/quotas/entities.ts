/**
 * Quota entities and keys as Kafka names them (ClientQuotaEntity, QuotaConfig): what AlterClientQuotas
 * accepts and DescribeClientQuotas filters, and which key each enforced quota reads.
 */

/** The entity types of ClientQuotaEntity. */
export const USER = 'user';
export const CLIENT_ID = 'client-id';
export const IP = 'ip';

/** How a quota key's value is typed in Kafka's QuotaConfig, which decides how AlterClientQuotas validates it. */
export type QuotaValueType = 'LONG' | 'DOUBLE' | 'INT';

/** The keys of user and client-id entities (QuotaConfig.userAndClientQuotaConfigs). */
export const USER_AND_CLIENT_QUOTA_KEYS: ReadonlyMap<string, QuotaValueType> = new Map([
  ['producer_byte_rate', 'LONG'],
  ['consumer_byte_rate', 'LONG'],
  ['request_percentage', 'DOUBLE'],
  ['controller_mutation_rate', 'DOUBLE'],
]);

/** The keys of ip entities (QuotaConfig.ipConfigs). */
export const IP_QUOTA_KEYS: ReadonlyMap<string, QuotaValueType> = new Map([
  ['connection_creation_rate', 'INT'],
]);

/** The client quotas kch enforces, by Kafka's quota type name (QuotaType), and the key each reads. */
export const ENFORCED_QUOTA_KEYS = {
  Produce: 'producer_byte_rate',
  Fetch: 'consumer_byte_rate',
  Request: 'request_percentage',
} as const;

export type QuotaType = keyof typeof ENFORCED_QUOTA_KEYS;

/**
 * An entity's parts as the responses list them: in the order Kafka's responses show them (they iterate
 * the entity's Java HashMap, which puts client-id before user), other types after, as given.
 */
export function entityData(
  entity: Readonly<Record<string, string | null>>,
): { entityType: string; entityName: string | null }[] {
  const known = [CLIENT_ID, USER, IP].filter((t) => t in entity);
  const others = Object.keys(entity).filter((t) => !known.includes(t));
  return [...known, ...others].map((entityType) => ({ entityType, entityName: entity[entityType] ?? null }));
}
