/**
 * What @platformatic/kafka throws, said in kch's words: a Kafka error code becomes a {@link BrokerError}
 * ("<action> failed: <NAME>: <broker's message>"), a broker that cannot be reached an
 * {@link UnavailableError} that says how to start one (exit 69), anything else a {@link CliError}.
 *
 * The library nests its errors (MultipleErrors of retries and of concurrent requests, causes of
 * network errors); the first that says something specific wins.
 */
import { ErrorCode, errorInfo } from '@kch/protocol';
import { ExitCode } from '../command.js';
import { BrokerError, CliError, UnavailableError } from './errors.js';
import type { BrokerAddress } from './kafka-config.js';
import { formatAddress } from './kafka-config.js';
import type { ClientSecurity } from './security-options.js';

/** The fields of the library's errors that kch reads (GenericError, MultipleErrors, ProtocolError). */
interface LibraryError extends Error {
  code?: string;
  errors?: unknown[];
  cause?: unknown;
  /** ProtocolError: Kafka's error code and the broker's own message. */
  apiCode?: number;
  serverErrorMessage?: string | null;
  /** ResponseError: the whole decoded response, for callers that read every part of it. */
  response?: unknown;
}

/** Every error in the tree below `e`, depth first, `e` itself first. */
function* walk(e: unknown, depth = 0): Generator<LibraryError> {
  if (!(e instanceof Error) || depth > 8) return;
  const err = e as LibraryError;
  yield err;
  for (const inner of err.errors ?? []) yield* walk(inner, depth + 1);
  if (err.cause) yield* walk(err.cause, depth + 1);
}

/** The first Kafka error code in a library error (a ResponseError's ProtocolErrors), if any. */
export function protocolErrorOf(e: unknown): { code: number; message: string | null } | null {
  for (const err of walk(e)) {
    if (err.code === 'PLT_KFK_PROTOCOL' && typeof err.apiCode === 'number') {
      return { code: err.apiCode, message: err.serverErrorMessage ?? null };
    }
  }
  return null;
}

/** The decoded response a ResponseError carries (the library throws it when any part has an error code). */
export function responseOf<T>(e: unknown): T | null {
  for (const err of walk(e)) {
    if (err.code === 'PLT_KFK_RESPONSE' && err.response) return err.response as T;
  }
  return null;
}

/** A short human reason for a socket error code. */
function socketReason(code: string | undefined, fallback: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'ECONNRESET':
      return 'connection reset by the broker';
    case 'ETIMEDOUT':
      return 'timed out';
    case 'EPIPE':
      return 'the broker closed the connection';
    default:
      return fallback;
  }
}

/** Kafka's UNSUPPORTED_VERSION: the broker does not serve a request at any version the library has. */
const UNSUPPORTED_VERSION = 35;

/** The library's connection failures name the broker: "Connection to <host>:<port> failed." */
const CONNECTION_FAILED = /^Connection to (.+):(\d+) (failed|timed out)\.$/;

export interface FailureContext {
  /** The bootstrap servers: a failure to reach another broker gets the advertised-address hint. */
  bootstrap: readonly BrokerAddress[];
  /** The request timeout, for the message of a request that got no answer. */
  requestTimeoutMs: number;
  /** How the command connects, to say what to check when TLS or SASL fails (PLAINTEXT when unset). */
  security?: ClientSecurity;
}

/** Why no connection could be made to any broker, or null when the failure was not a connection's. */
function unreachable(e: unknown, context: FailureContext): UnavailableError | null {
  const reasons: string[] = [];
  for (const err of walk(e)) {
    const m = CONNECTION_FAILED.exec(err.message);
    if (!m) continue;
    const [, host, port, how] = m;
    const address = formatAddress(host!, Number(port));
    const cause = err.cause as NodeJS.ErrnoException | undefined;
    const reason =
      how === 'timed out'
        ? 'no answer'
        : socketReason(cause?.code, cause?.message ?? 'the connection failed');
    const known = context.bootstrap.some((b) => b.host === host && b.port === Number(port));
    const line =
      `cannot connect to ${address}: ${reason}; is a broker running? start one with \`kch broker\`` +
      (known
        ? ''
        : ` (as advertised by the bootstrap server; if that address is wrong, set the broker's advertised host (kch broker --advertised-host))`);
    if (!reasons.includes(line)) reasons.push(line);
  }
  if (reasons.length === 0) return null;
  if (reasons.length === 1) return new UnavailableError(reasons[0]!);
  return new UnavailableError(
    `cannot connect to any bootstrap server:\n${reasons.map((r) => `  ${r}`).join('\n')}`,
  );
}

/** Node's codes for a broker certificate that no trusted authority signed. */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/**
 * A failure of TLS or SASL while connecting, in words that say what to change (and where the setting
 * came from), or null when `e` is something else. Password, token and key never appear.
 */
function securityFailure(e: unknown, context: FailureContext): CliError | null {
  const security = context.security;
  let address = 'the broker';
  for (const err of walk(e)) {
    const connection = CONNECTION_FAILED.exec(err.message);
    if (connection) {
      address = formatAddress(connection[1]!, Number(connection[2]));
      continue;
    }
    if (err.code === 'PLT_KFK_AUTHENTICATION') {
      const protocol = protocolErrorOf(err);
      const sasl = security?.sasl;
      // The library's word for a refused SaslAuthenticate, or for a refused token (kafka-config.ts).
      if (
        sasl &&
        (protocol?.code === ErrorCode.SASL_AUTHENTICATION_FAILED ||
          err.message === 'SASL authentication failed.')
      ) {
        const who = sasl.username !== undefined ? ` for user ${sasl.username}` : '';
        return new CliError(
          `authentication failed${who} with ${sasl.mechanism} at ${address}: check ${security!.credentialsFrom}`,
        );
      }
      const offered = responseOf<{ mechanisms?: string[] }>(err)?.mechanisms ?? [];
      if (protocol?.code === ErrorCode.UNSUPPORTED_SASL_MECHANISM && offered.length > 0)
        return new CliError(
          `${address} does not take SASL mechanism ${sasl?.mechanism ?? ''} on this listener; it takes ${offered.join(', ')}: choose one with --sasl-mechanism (sasl.mechanism in --command-config)`,
        );
      return new CliError(
        `${address} takes no SASL on this listener (its answer to SaslHandshake: ${errorName(protocol?.code)}): check the port, and use the security protocol of that listener (--security-protocol PLAINTEXT or SSL)`,
      );
    }
    const code = err.code;
    if (err.code === 'PLT_KFK_USER' && /TLS handshake failed/.test(err.message))
      return new CliError(
        `${address} does not speak TLS (it closed the connection during the TLS handshake): check the port, and use the security protocol of that listener (--security-protocol PLAINTEXT or SASL_PLAINTEXT)`,
      );
    if (code !== undefined && UNTRUSTED.has(code))
      return new CliError(
        `the certificate of ${address} is not trusted (${err.message}): give the authority that signed it with ${security?.trustFrom ?? '--ssl-ca'}${security?.trustFrom === '--ssl-ca' ? ' <file> (PEM), or ssl.truststore.* in --command-config' : ''}`,
      );
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
      return new CliError(
        `the certificate of ${address} is not for that host (${err.message}): connect by a name the certificate holds (the broker's advertised host), or leave the check out with ssl.endpoint.identification.algorithm= in --command-config`,
      );
    if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
      return new CliError(
        `the certificate of ${address} is not valid now (${err.message}): the broker needs a renewed one`,
      );
    if (code?.startsWith('ERR_SSL_') && /ALERT/.test(code))
      return new CliError(
        `${address} refused the TLS connection (${err.message}): ${/CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA/.test(code) ? 'it wants a client certificate signed by an authority it trusts: --ssl-cert and --ssl-key (ssl.keystore.* in --command-config)' : 'check --security-protocol and the TLS settings'}`,
      );
  }
  return null;
}

const AUTHORIZATION_FAILED: ReadonlySet<number> = new Set([
  ErrorCode.TOPIC_AUTHORIZATION_FAILED,
  ErrorCode.GROUP_AUTHORIZATION_FAILED,
  ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
  ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
]);

/** Who the broker takes the client for, as ACLs name principals. */
function principalOf(security: ClientSecurity | undefined): string {
  if (security?.sasl?.username !== undefined) return `User:${security.sasl.username}`;
  if (security?.sasl) return `the principal of the ${security.sasl.mechanism} token`;
  if (security?.tls?.cert !== undefined) return "the client certificate's principal";
  return 'User:ANONYMOUS (no authentication)';
}

function errorName(code: number | undefined): string {
  return code === undefined ? 'an error' : (errorInfo(code)?.name ?? `error code ${code}`);
}

/** What to add to "lost the connection" when the security settings may be why the broker hung up. */
function closedHint(security: ClientSecurity | undefined): string {
  const protocol = security?.protocol ?? 'PLAINTEXT';
  if (protocol === 'PLAINTEXT')
    return '; if its listener takes TLS or SASL, connect with --security-protocol and its settings (or --command-config)';
  if (security?.tls && security.tls.cert === undefined)
    return '; if its listener requires client certificates, give --ssl-cert and --ssl-key';
  return '';
}

/**
 * `e` as a {@link CliError}: kch's own errors as they are, a Kafka error code as a BrokerError for
 * `action` (with `hint` when given), an unreachable or silent broker as an UnavailableError.
 */
export function kafkaFailure(
  e: unknown,
  action: string,
  context: FailureContext,
  hint?: (code: number, message: string | null) => string | undefined,
): CliError {
  if (e instanceof CliError) return e;
  const refused = securityFailure(e, context);
  if (refused) return refused;
  const protocol = protocolErrorOf(e);
  if (protocol) {
    return new BrokerError(
      protocol.code,
      action,
      protocol.message,
      hint?.(protocol.code, protocol.message) ??
        (protocol.code === UNSUPPORTED_VERSION
          ? "kch's Kafka client (@platformatic/kafka) speaks the request versions of Kafka 3.5 and later: use a newer broker."
          : AUTHORIZATION_FAILED.has(protocol.code)
            ? `${principalOf(context.security)} lacks an ACL for this: an administrator can grant it with \`kch acls add\` (see \`kch acls --help\`)`
            : undefined),
    );
  }
  const network = unreachable(e, context);
  if (network) return network;
  for (const err of walk(e)) {
    if (err.message === 'Request timed out') {
      return new UnavailableError(
        `the broker did not answer within ${context.requestTimeoutMs} ms while ${action}; check that it is healthy`,
      );
    }
    if (err.code === 'PLT_KFK_NETWORK') {
      return new UnavailableError(
        `lost the connection to the broker while ${action}: ${err.message.replace(/\.$/, '').toLowerCase()}; check that the broker is still running${closedHint(context.security)}`,
      );
    }
    if (err.code === 'PLT_KFK_UNSUPPORTED_API') {
      return new CliError(
        `${action} failed: the broker does not support it (${err.message}); use a newer broker`,
      );
    }
  }
  const message = e instanceof Error ? e.message : String(e);
  return new CliError(`${action} failed: ${message}`, ExitCode.FAILURE);
}
