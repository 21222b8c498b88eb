/**
 * Kafka's ACL authorizer (StandardAuthorizer's semantics) over the bindings in the security store.
 * Placeholder: the full implementation lands with the ACL APIs.
 */
import type { SecurityStore } from '@kch/storage';
import type { Logger } from '../logger.js';
import type { AuthorizerOptions } from './options.js';

export class Authorizer {
  constructor(
    readonly options: AuthorizerOptions,
    readonly store: SecurityStore,
    readonly logger: Logger,
  ) {}

  /** Reads the stored ACLs; called once before the broker serves. */
  async load(): Promise<void> {}
}
