/**
 * The SASL server mechanisms: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER, each as Kafka's
 * broker serves it. A connection's SASL session picks one at SaslHandshake and feeds it the tokens.
 */
import type { SecurityStore } from '@kch/storage';
import type { OAuthBearerOptions, SaslMechanismName } from '../options.js';
import type { SaslMechanism } from './exchange.js';
import { OAuthBearerMechanism } from './oauthbearer.js';
import { PlainMechanism } from './plain.js';
import { ScramMechanism } from './scram.js';

export {
  invalidCredentials,
  SaslAuthenticationError,
  type SaslExchange,
  type SaslMechanism,
  type SaslStep,
} from './exchange.js';

export interface MechanismDeps {
  /** PLAIN users from the configuration (user → password). */
  readonly plainUsers: Readonly<Record<string, string>>;
  /** Where SCRAM credentials are (PLAIN falls back to them for users the configuration lacks). */
  readonly store: SecurityStore;
  /** Required for OAUTHBEARER. */
  readonly oauthBearer?: OAuthBearerOptions | undefined;
}

/**
 * The mechanism of that name. Throws for a configuration it cannot work with (OAUTHBEARER without
 * options or without a readable key), so calling it for each enabled mechanism at start finds those.
 */
export function createMechanism(name: SaslMechanismName, deps: MechanismDeps): SaslMechanism {
  switch (name) {
    case 'PLAIN':
      return new PlainMechanism(deps.plainUsers, deps.store);
    case 'SCRAM-SHA-256':
    case 'SCRAM-SHA-512':
      return new ScramMechanism(name, deps.store);
    case 'OAUTHBEARER':
      if (!deps.oauthBearer) {
        throw new Error(
          'OAUTHBEARER is enabled but not configured: set sasl.oauthBearer (a JWKS file or a public key to verify tokens)',
        );
      }
      return new OAuthBearerMechanism(deps.oauthBearer);
  }
}
