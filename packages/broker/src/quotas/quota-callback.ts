/**
 * Which quota applies to a client, as Kafka's DefaultQuotaCallback (in ClientQuotaManager) resolves it
 * for one quota type from the entities that set that type's key. The most specific entity wins:
 *
 *   1. user + client-id            5. default user + default client-id
 *   2. user + default client-id    6. default user
 *   3. user                        7. client-id
 *   4. default user + client-id    8. default client-id
 *
 * Resolution has two steps, as in Kafka. The metric tags (user, client-id) say which clients share one
 * measured rate: with only user quotas every client of a user shares one; with user + client-id quotas
 * each pair has its own. Then the limit of those tags is looked up along the chain for their shape. When
 * only one shape of entity is configured the tags follow from it without lookups; otherwise Kafka walks
 * the chain to find the shape of the entity that applies.
 */
import type { ClientQuota } from '@kch/storage';
import { CLIENT_ID, USER } from './entities.js';

/** An entity part set to `<default>` (a null name in the store and on the wire). */
const DEFAULT = Symbol('<default>');
/** An entity without that part (a user quota has no client-id). */
const ABSENT = Symbol('absent');
type Part = string | typeof DEFAULT | typeof ABSENT;

// Kafka's QuotaTypes: which shapes of entity are configured, as bits.
const NO_QUOTAS = 0;
const CLIENT_ID_QUOTA_ENABLED = 1;
const USER_QUOTA_ENABLED = 2;
const USER_CLIENT_ID_QUOTA_ENABLED = 4;

/**
 * Kafka's bound when no entity applies to a client-id's tags (quota.producer.default / consumer, whose
 * default is Long.MAX_VALUE) and when the tags are empty: never reached.
 */
export const UNLIMITED = 2 ** 63;

/** The metric tags of a client: the user and client-id its rate is measured under ('' when not part of them). */
export interface QuotaTags {
  readonly user: string;
  readonly clientId: string;
}

export class QuotaCallback {
  /** No quota of this type anywhere: nothing is measured. */
  static readonly NONE = new QuotaCallback(new Map(), NO_QUOTAS);

  private constructor(
    private readonly quotas: ReadonlyMap<Part, ReadonlyMap<Part, number>>,
    private readonly quotaTypesEnabled: number,
  ) {}

  /** The quotas of `key` among the stored entities (ip entities and other keys are not client quotas). */
  static of(stored: readonly ClientQuota[], key: string): QuotaCallback {
    const quotas = new Map<Part, Map<Part, number>>();
    let enabled = NO_QUOTAS;
    for (const { entity, values } of stored) {
      const value = values[key];
      if (value === undefined) continue;
      const types = Object.keys(entity);
      if (types.length === 0 || types.some((t) => t !== USER && t !== CLIENT_ID)) continue;
      const user = part(entity, USER);
      const clientId = part(entity, CLIENT_ID);
      let byClient = quotas.get(user);
      if (!byClient) {
        byClient = new Map();
        quotas.set(user, byClient);
      }
      byClient.set(clientId, value);
      enabled |=
        user !== ABSENT && clientId !== ABSENT
          ? USER_CLIENT_ID_QUOTA_ENABLED
          : user !== ABSENT
            ? USER_QUOTA_ENABLED
            : CLIENT_ID_QUOTA_ENABLED;
    }
    return enabled === NO_QUOTAS ? QuotaCallback.NONE : new QuotaCallback(quotas, enabled);
  }

  /** Whether some entity sets this quota (Kafka's quotasEnabled): when not, nothing is measured. */
  get enabled(): boolean {
    return this.quotaTypesEnabled !== NO_QUOTAS;
  }

  /** The tags a client's rate is measured under (DefaultQuotaCallback.quotaMetricTags). */
  metricTags(user: string, clientId: string): QuotaTags {
    switch (this.quotaTypesEnabled) {
      case NO_QUOTAS:
      case CLIENT_ID_QUOTA_ENABLED:
        return { user: '', clientId };
      case USER_QUOTA_ENABLED:
        return { user, clientId: '' };
      case USER_CLIENT_ID_QUOTA_ENABLED:
        return { user, clientId };
    }
    // Several shapes: the shape of the first entity of the chain that exists decides the tags.
    if (this.has(user, clientId) || this.has(user, DEFAULT)) return { user, clientId };
    if (this.has(user, ABSENT)) return { user, clientId: '' };
    if (this.has(DEFAULT, clientId) || this.has(DEFAULT, DEFAULT)) return { user, clientId };
    if (this.has(DEFAULT, ABSENT)) return { user, clientId: '' };
    return { user: '', clientId };
  }

  /**
   * The bound of the tags (DefaultQuotaCallback.quotaLimit): along the chain of their shape, or
   * undefined when the tags are empty. A client-id without any entity gets Kafka's static default.
   */
  quotaLimit(tags: QuotaTags): number | undefined {
    const { user, clientId } = tags;
    if (user !== '' && clientId !== '') {
      return (
        this.get(user, clientId) ??
        this.get(user, DEFAULT) ??
        this.get(DEFAULT, clientId) ??
        this.get(DEFAULT, DEFAULT)
      );
    }
    if (user !== '') return this.get(user, ABSENT) ?? this.get(DEFAULT, ABSENT);
    if (clientId !== '') return this.get(ABSENT, clientId) ?? this.get(ABSENT, DEFAULT) ?? UNLIMITED;
    return undefined;
  }

  private get(user: Part, clientId: Part): number | undefined {
    return this.quotas.get(user)?.get(clientId);
  }

  private has(user: Part, clientId: Part): boolean {
    return this.get(user, clientId) !== undefined;
  }
}

function part(entity: Readonly<Record<string, string | null>>, type: string): Part {
  if (!(type in entity)) return ABSENT;
  const name = entity[type];
  return name === null || name === undefined ? DEFAULT : name;
}
