/**
 * The SASL state of one connection on a SASL listener, as Kafka's SaslServerAuthenticator keeps it:
 * ApiVersions and SaslHandshake first, then the mechanism's exchange (SaslAuthenticate requests, or
 * raw tokens after a v0 handshake), then the session, until it expires (KIP-368) or the client
 * re-authenticates on the same connection.
 */
import { ErrorCode } from '@kch/protocol';
import type { AuthenticationReport } from './authentication-report.js';
import type { Listener } from './listeners.js';
import type { SaslMechanismName } from './options.js';
import { SaslAuthenticationError, type SaslExchange, type SaslMechanism } from './sasl/exchange.js';

export interface SaslSessionDeps {
  /** The listener's mechanisms, made once when it opened. */
  readonly mechanisms: ReadonlyMap<SaslMechanismName, SaslMechanism>;
  /** connections.max.reauth.ms; 0 for sessions that never expire. */
  readonly maxReauthMs: number;
  /** connection.failed.authentication.delay.ms: how long a failure waits before it is answered. */
  readonly failedAuthenticationDelayMs: number;
}

type State =
  /** Expecting ApiVersions or SaslHandshake. */
  | 'handshake'
  /** A mechanism was chosen: expecting its tokens. */
  | 'authenticate'
  | 'complete'
  /** Authentication failed: the connection closes once the answer is written. */
  | 'failed';

/** What the connection does after a request in the SASL exchange. */
export interface SaslOutcome {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly authBytes: Buffer;
  readonly sessionLifetimeMs: bigint;
}

export class SaslSession {
  private state: State = 'handshake';
  private exchange: SaslExchange | undefined;
  private mechanism: SaslMechanismName | undefined;
  /** The principal of the first authentication: a re-authentication must keep it. */
  private principal: string | undefined;
  /** When the session ends (ms since epoch); undefined while it never does. */
  private expiresAt: number | undefined;
  /** After a v0 handshake the exchange is raw tokens, not SaslAuthenticate requests. */
  private rawTokens = false;
  /** Whether the last success renewed a session (KIP-368) rather than began one. */
  private reauthenticated = false;
  /** Why the last failure happened, for the broker's log only. */
  private failureDetail: string | undefined;

  constructor(
    private readonly listener: Listener,
    private readonly deps: SaslSessionDeps,
  ) {}

  get authenticated(): boolean {
    return this.principal !== undefined && this.state !== 'failed';
  }

  get failed(): boolean {
    return this.state === 'failed';
  }

  /** Whether requests must wait for the exchange: before authentication, during a renewal, or after expiry. */
  get gated(): boolean {
    return this.state !== 'complete' || this.expired();
  }

  /** Whether the next frame is a raw SASL token (after a v0 handshake), not a request. */
  get expectsRawToken(): boolean {
    return this.rawTokens && this.state === 'authenticate';
  }

  /** Whether the session has ended: the client had to re-authenticate by now. */
  expired(now = Date.now()): boolean {
    // At its end, not only after: a session of lifetime 0 (a token accepted within the clock skew after
    // its expiry) is over for a request in the same millisecond too (Kafka compares nanoseconds).
    return this.expiresAt !== undefined && now >= this.expiresAt;
  }

  /**
   * Which requests may come now: before authentication (and during a re-authentication) only
   * ApiVersions, SaslHandshake and SaslAuthenticate, each in its turn; null when the request may be
   * served, else why the connection closes.
   */
  refusal(apiName: string): string | null {
    if (this.state === 'complete') {
      if (this.expired() && apiName !== 'SaslHandshake')
        return 'the authenticated session expired (connections.max.reauth.ms or the token lifetime) and the client did not re-authenticate';
      return null;
    }
    if (this.state === 'handshake' && (apiName === 'ApiVersions' || apiName === 'SaslHandshake')) return null;
    if (this.state === 'authenticate' && apiName === 'SaslAuthenticate' && !this.rawTokens) return null;
    return `unexpected ${apiName} request during SASL authentication on listener ${this.listener.name}: a client must authenticate first (SaslHandshake, then SaslAuthenticate)`;
  }

  /** SaslHandshake: picks the mechanism; an unknown one is answered with the list and closes. */
  handshake(mechanism: string, version: number): { errorCode: number; mechanisms: string[] } {
    const mechanisms = [...this.listener.saslMechanisms];
    const reauthenticating = this.state === 'complete';
    if (reauthenticating && (version === 0 || mechanism !== this.mechanism)) {
      // KIP-368: re-authentication uses v1 and the mechanism of the session.
      this.state = 'failed';
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms };
    }
    if (this.state !== 'handshake' && !reauthenticating) {
      this.state = 'failed';
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms };
    }
    if (!(mechanisms as string[]).includes(mechanism)) {
      this.state = 'failed';
      return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms };
    }
    this.mechanism = mechanism as SaslMechanismName;
    this.exchange = this.deps.mechanisms.get(this.mechanism)!.start();
    this.rawTokens = version === 0;
    this.state = 'authenticate';
    return { errorCode: ErrorCode.NONE, mechanisms };
  }

  /** One token of the exchange (a SaslAuthenticate request's bytes, or a raw token). */
  async authenticate(token: Buffer): Promise<SaslOutcome> {
    if (this.state === 'complete') {
      return failure(
        ErrorCode.ILLEGAL_SASL_STATE,
        'SaslAuthenticate request received after successful authentication',
      );
    }
    if (this.state !== 'authenticate' || !this.exchange) {
      this.state = 'failed';
      return failure(ErrorCode.ILLEGAL_SASL_STATE, 'SaslAuthenticate before a successful SaslHandshake');
    }
    try {
      const step = await this.exchange.step(token);
      if (step.principal === undefined) {
        return {
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          authBytes: step.response,
          sessionLifetimeMs: 0n,
        };
      }
      if (this.principal !== undefined && this.principal !== step.principal) {
        this.state = 'failed';
        return this.failLater(
          `re-authentication as ${step.principal} on a connection of ${this.principal}: a connection keeps its principal`,
        );
      }
      this.reauthenticated = this.principal !== undefined;
      this.principal = step.principal;
      this.exchange = undefined;
      this.state = 'complete';
      const lifetime = this.sessionLifetime(step.expiresAtMs);
      // As Kafka's SaslServerAuthenticator: a session ends whenever the credential expires or
      // connections.max.reauth.ms is set, also when that is now (a token accepted within the clock
      // skew after its expiry), so that its next request closes the connection.
      const bounded = step.expiresAtMs !== undefined || this.deps.maxReauthMs > 0;
      this.expiresAt = bounded ? Date.now() + lifetime : undefined;
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        authBytes: step.response,
        sessionLifetimeMs: BigInt(lifetime),
      };
    } catch (e) {
      this.state = 'failed';
      if (e instanceof SaslAuthenticationError) {
        this.failureDetail = e.detail;
        return this.failLater((e as Error).message);
      }
      throw e;
    }
  }

  /** What the broker reports of an answer to the exchange: never a credential. */
  reportOf(outcome: SaslOutcome): AuthenticationReport {
    if (outcome.errorCode === ErrorCode.NONE)
      return {
        mechanism: this.mechanismName,
        principal: this.principal,
        reauthentication: this.reauthenticated,
      };
    return {
      mechanism: this.mechanismName,
      error: outcome.errorMessage ?? 'authentication failed',
      detail: this.failureDetail,
    };
  }

  /** The mechanism chosen by the handshake. */
  get mechanismName(): string {
    return this.mechanism ?? 'none';
  }

  /** The authenticated principal (`User:alice`). */
  get authenticatedPrincipal(): string | undefined {
    return this.principal;
  }

  /** Kafka's SaslServerAuthenticator: the least of the credential's lifetime and connections.max.reauth.ms. */
  private sessionLifetime(credentialExpiresAtMs: number | undefined): number {
    const maxReauth = this.deps.maxReauthMs;
    if (credentialExpiresAtMs === undefined && maxReauth <= 0) return 0;
    const untilExpiry = credentialExpiresAtMs === undefined ? Infinity : credentialExpiresAtMs - Date.now();
    return Math.max(0, Math.floor(Math.min(untilExpiry, maxReauth > 0 ? maxReauth : Infinity)));
  }

  /** A failure answered after the delay, so that guessing passwords is slow. */
  private async failLater(message: string): Promise<SaslOutcome> {
    const delay = this.deps.failedAuthenticationDelayMs;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    return failure(ErrorCode.SASL_AUTHENTICATION_FAILED, message);
  }
}

function failure(errorCode: number, errorMessage: string): SaslOutcome {
  return { errorCode, errorMessage, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n };
}
