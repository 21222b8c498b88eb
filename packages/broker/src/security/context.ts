/**
 * What the broker's handlers reach of security: where credentials, ACLs and quotas are kept, and the
 * authorizer when one is configured.
 */
import type { SecurityStore } from '@kch/storage';
import type { Authorizer } from './authorizer.js';

export interface BrokerSecurity {
  /** The storage's security store, or one in process memory when the storage has none. */
  readonly store: SecurityStore;
  /** Undefined without an authorizer: every action is allowed and the ACL APIs answer SECURITY_DISABLED. */
  readonly authorizer: Authorizer | undefined;
}

/** The principal of a client that has not authenticated (Kafka's KafkaPrincipal.ANONYMOUS). */
export const ANONYMOUS = 'User:ANONYMOUS';
