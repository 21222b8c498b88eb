/**
 * What @platformatic/kafka throws, said in kch's words: a Kafka error code becomes a {@link BrokerError}
 * ("<action> failed: <NAME>: <broker's message>"), a broker that cannot be reached an
 * {@link UnavailableError} that says how to start one (exit 69), anything else a {@link CliError}.
 *
 * The library nests its errors (MultipleErrors of retries and of concurrent requests, causes of
 * network errors); the first that says something specific wins.
 */
import { ExitCode } from '../command.js';
import { BrokerError, CliError, UnavailableError } from './errors.js';
import type { BrokerAddress } from './kafka-config.js';
import { formatAddress } from './kafka-config.js';

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
  const protocol = protocolErrorOf(e);
  if (protocol) {
    return new BrokerError(
      protocol.code,
      action,
      protocol.message,
      hint?.(protocol.code, protocol.message) ??
        (protocol.code === UNSUPPORTED_VERSION
          ? "kch's Kafka client (@platformatic/kafka) speaks the request versions of Kafka 3.5 and later: use a newer broker."
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
        `lost the connection to the broker while ${action}: ${err.message.replace(/\.$/, '').toLowerCase()}; check that the broker is still running`,
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
