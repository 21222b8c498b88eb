/**
 * What a SASL server mechanism is, apart from the mechanisms themselves (./mechanism.ts builds them),
 * so that each mechanism's module and the factory import this without an import circle.
 */
import type { SaslMechanismName } from '../options.js';

/**
 * The exchange failed. The message goes to the client as the SaslAuthenticate error message, so it
 * never says whether the user exists or why a credential was wrong.
 */
export class SaslAuthenticationError extends Error {
  override readonly name = 'SaslAuthenticationError';
  /**
   * What the mechanism itself says with the failure, as RFC 5802's server-final `e=` attribute;
   * empty when it says nothing. Kafka sends no auth bytes with an error, so sending this is optional.
   */
  readonly response: Buffer;

  /** Why, for the broker's log only (a token's expiry, a wrong issuer): never sent to the client. */
  readonly detail: string | undefined;

  constructor(message: string, response: Buffer = Buffer.alloc(0), detail?: string) {
    super(message);
    this.response = response;
    this.detail = detail;
  }
}

/** Kafka's message for a refused exchange (SaslServerAuthenticator's answer to a SaslException). */
export function invalidCredentials(mechanism: string, response?: Buffer): SaslAuthenticationError {
  return new SaslAuthenticationError(
    `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`,
    response,
  );
}

export interface SaslStep {
  /** The server's token for the client (empty when it has nothing to say). */
  response: Buffer;
  /** Set when authentication completed: the principal, e.g. `User:alice`. */
  principal?: string;
  /** For OAUTHBEARER: when the token expires (ms since epoch), which bounds the session (KIP-368). */
  expiresAtMs?: number;
}

/** One authentication: each client token in, the server's answer out. */
export interface SaslExchange {
  /** Rejects with SaslAuthenticationError when authentication fails; the exchange is over then. */
  step(token: Buffer): Promise<SaslStep>;
}

export interface SaslMechanism {
  readonly name: SaslMechanismName;
  /** A new exchange: one per SaslHandshake (and per re-authentication). */
  start(): SaslExchange;
}

/** The principal of an authenticated user name (Kafka's KafkaPrincipal of type User). */
export function userPrincipal(name: string): string {
  return `User:${name}`;
}
