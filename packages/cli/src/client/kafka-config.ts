/**
 * Where the client commands connect and how: the bootstrap list as Kafka's tools take it, and the
 * options every @platformatic/kafka client of the CLI gets. No import of the library here (its types
 * only): `kch views` and `kch sql` load the command helpers without it.
 */
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { SASLOptions } from '@platformatic/kafka';
import { UsageError } from './errors.js';
import type { ClientSecurity } from './security-options.js';

export const DEFAULT_BOOTSTRAP_SERVER = '127.0.0.1:9092';
/** The client id of every request; the broker makes group member ids from it (kch-cli-<uuid>). */
export const DEFAULT_CLIENT_ID = 'kch-cli';
/** Kafka's request.timeout.ms. */
export const REQUEST_TIMEOUT_MS = 30_000;
export const CONNECT_TIMEOUT_MS = 10_000;

export interface BrokerAddress {
  host: string;
  port: number;
}

/** "host:port", with brackets around an IPv6 host. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Parses `host:port[,host:port...]` (a bare host means port 9092; IPv6 as `[::1]:9092`). */
export function parseBootstrap(value: string): BrokerAddress[] {
  const out: BrokerAddress[] = [];
  for (const raw of value.split(',')) {
    const s = raw.trim();
    if (s === '') continue;
    let host: string;
    let portText: string | undefined;
    const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
    if (v6) {
      host = v6[1]!;
      portText = v6[2];
    } else {
      const i = s.lastIndexOf(':');
      if (i >= 0 && s.indexOf(':') !== i) {
        throw new UsageError(`bootstrap server "${s}": write an IPv6 address in brackets, e.g. [::1]:9092`);
      }
      host = i >= 0 ? s.slice(0, i) : s;
      portText = i >= 0 ? s.slice(i + 1) : undefined;
    }
    const port = portText === undefined ? 9092 : Number(portText);
    if (
      host === '' ||
      !Number.isInteger(port) ||
      port < 1 ||
      port > 65535 ||
      !/^\d+$/.test(portText ?? '9092')
    ) {
      throw new UsageError(`bootstrap server "${s}" is not host:port (e.g. 127.0.0.1:9092)`);
    }
    out.push({ host, port });
  }
  if (out.length === 0)
    throw new UsageError('the bootstrap server list is empty: give host:port, e.g. 127.0.0.1:9092');
  return out;
}

/**
 * The options of every client: no retries inside the library (retries: 0). kch retries what Kafka's
 * own tools retry, where they retry it (a leader being elected, a coordinator loading); the library
 * would also retry answers that are final for a command-line tool (UNKNOWN_TOPIC_OR_PARTITION for a
 * delete, a refused connection), a second or more each.
 */
export function clientOptions(
  bootstrap: readonly BrokerAddress[],
  requestTimeoutMs = REQUEST_TIMEOUT_MS,
  security?: ClientSecurity,
) {
  return {
    clientId: DEFAULT_CLIENT_ID,
    bootstrapBrokers: bootstrap.map((b) => ({ host: b.host, port: b.port })),
    timeout: requestTimeoutMs,
    requestTimeout: requestTimeoutMs,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retries: 0,
    ...connectionSecurity(security),
  };
}

/** What the library's connections take of the security settings: node:tls options and SASL. */
function connectionSecurity(security: ClientSecurity | undefined): {
  tls?: TlsConnectionOptions;
  sasl?: SASLOptions;
} {
  const out: ReturnType<typeof connectionSecurity> = {};
  const tls = security?.tls;
  if (tls) {
    out.tls = {
      ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
      ...(tls.cert !== undefined ? { cert: tls.cert, key: tls.key, passphrase: tls.passphrase } : {}),
      minVersion: 'TLSv1.2',
      // ssl.endpoint.identification.algorithm= (empty): the chain is still verified, the name is not.
      ...(tls.verifyHostname ? {} : { checkServerIdentity: () => undefined }),
    };
  }
  const sasl = security?.sasl;
  if (sasl)
    out.sasl = {
      ...sasl,
      ...(sasl.mechanism === 'OAUTHBEARER' ? { authBytesValidator: oauthBearerError } : {}),
    };
  return out;
}

/**
 * A refused OAUTHBEARER token comes back as the server's error JSON (RFC 7628 section 3.2.2, e.g.
 * `{"status":"invalid_token"}`) in a SaslAuthenticate answer without an error code; the library would
 * take it for success and find the connection closed at its next request. This says it is a refusal.
 */
function oauthBearerError(authBytes: Buffer, callback: (error: Error | null, bytes?: Buffer) => void): void {
  callback(...oauthBearerOutcome(authBytes));
}

function oauthBearerOutcome(authBytes: Buffer): [Error | null, Buffer?] {
  const text = authBytes.toString('utf8');
  if (!text.startsWith('{')) return [null, authBytes];
  try {
    const { status } = JSON.parse(text) as { status?: unknown };
    return [new Error(`the broker refused the token (${String(status)})`)];
  } catch {
    return [null, authBytes];
  }
}
