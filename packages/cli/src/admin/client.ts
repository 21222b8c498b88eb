/**
 * The client side of the admin server, for the commands that work through a running broker (`kch sql`,
 * `kch views`): where the server is (--admin-url, KCH_ADMIN_URL, KCH_ADMIN_PORT), how to prove who
 * asks (its token, or once the broker has an authorizer a user of the broker: the client security
 * options' user and password as HTTP Basic, or their OAUTHBEARER token), which authorities sign an
 * https server's certificate (--ssl-ca), the timeout, what to say when nothing answers, and the SQL
 * they read from stdin (`-`).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { CliError } from '../client/errors.js';
import { hasSecurityOptions, type SecurityFlags } from '../client/security-options.js';
import type { CliIO } from '../command.js';
import { ExitCode } from '../command.js';
import { DEFAULT_ADMIN_PORT } from '../options.js';

/** The options every admin command takes, for parseArgs. */
export const ADMIN_CLIENT_OPTIONS = {
  'admin-url': { type: 'string' },
  token: { type: 'string' },
  timeout: { type: 'string' },
  'command-config': { type: 'string' },
  'sasl-username': { type: 'string' },
  'sasl-password': { type: 'string' },
  'ssl-ca': { type: 'string' },
  'ssl-cert': { type: 'string' },
  'ssl-key': { type: 'string' },
} as const;

/** The lines of the usage text describing ADMIN_CLIENT_OPTIONS. */
export const ADMIN_CLIENT_USAGE = `  --admin-url <url>     the broker's admin server [KCH_ADMIN_URL] (default http://127.0.0.1:${DEFAULT_ADMIN_PORT},
                        or the port in KCH_ADMIN_PORT)
  --token <token>       the broker's admin token, when it has one [KCH_ADMIN_TOKEN]
  --sasl-username <user>
                        a user of the broker, when it has an authorizer (then it needs Alter on the
                        cluster for SQL and changing views, Describe for reading them); its password
                        with --sasl-password or, kept out of the shell's history, KCH_SASL_PASSWORD
  --command-config <file>
                        Kafka client properties: the user of sasl.jaas.config, an OAUTHBEARER token,
                        ssl.truststore.* for an https admin server
  --ssl-ca <file>       PEM certificates of the authorities that sign an https admin server's
                        certificate (default: the system's)
  --ssl-cert <file>, --ssl-key <file>
                        a client certificate and its key (PEM)
  --timeout <seconds>   give up after this long (default 300)`;

export interface AdminTarget {
  /** The server's base URL, ending with a slash. */
  base: URL;
  token: string | undefined;
  timeoutS: number;
  /** The Authorization header of a user of the broker (HTTP Basic, or Bearer with a JWT). */
  authorization?: string;
  /** TLS toward an https server: trusted authorities, a client certificate. */
  tls?: { ca?: string; cert?: string; key?: string; passphrase?: string };
}

/** Where the admin server is, from the flags and the environment; a string says what is wrong. */
export function adminTarget(
  values: { 'admin-url'?: string; token?: string; timeout?: string },
  env: NodeJS.ProcessEnv,
): AdminTarget | string {
  const timeoutS = Number(values.timeout ?? '300');
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) return '--timeout must be a positive number of seconds';
  const given =
    values['admin-url'] ??
    env.KCH_ADMIN_URL ??
    `http://127.0.0.1:${env.KCH_ADMIN_PORT && /^\d+$/.test(env.KCH_ADMIN_PORT) ? env.KCH_ADMIN_PORT : DEFAULT_ADMIN_PORT}`;
  let base: URL;
  try {
    base = new URL(given.endsWith('/') ? given : `${given}/`);
  } catch {
    return `--admin-url ${JSON.stringify(given)} is not a URL, e.g. http://127.0.0.1:${DEFAULT_ADMIN_PORT}`;
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    return `--admin-url must be an http(s) URL, not ${given}`;
  return { base, token: values.token ?? env.KCH_ADMIN_TOKEN, timeoutS };
}

/**
 * The target with the credentials and TLS settings of the security options, read and checked (a
 * CliError, exit 2, says what is wrong). The options' code loads only when one is given.
 */
export async function withSecurity(
  target: AdminTarget,
  values: SecurityFlags,
  io: Pick<CliIO, 'env'>,
): Promise<AdminTarget> {
  if (!hasSecurityOptions(values)) return target;
  const { httpCredentials, securitySettings } = await import('../client/security.js');
  const settings = await securitySettings(values, io.env);
  const authorization = httpCredentials(settings);
  if (authorization !== undefined && target.token !== undefined)
    throw new CliError(
      'give the admin token (--token, KCH_ADMIN_TOKEN) or a user of the broker, not both',
      ExitCode.USAGE,
    );
  const { ca, cert, key, passphrase } = settings.tls;
  return {
    ...target,
    ...(authorization !== undefined ? { authorization } : {}),
    tls: { ca, cert, key, passphrase },
  };
}

/** Node's codes for a server certificate that no trusted authority signed. */
const UNTRUSTED =
  /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_UNTRUSTED)$/;

function socketCode(e: unknown): string | undefined {
  for (let x: unknown = e, i = 0; x instanceof Error && i < 4; x = (x as { cause?: unknown }).cause, i++) {
    const code = (x as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** Nothing answered: what to say, and the exit code (UNAVAILABLE). */
export interface AdminUnreachable {
  exitCode: number;
  message: string;
}

/**
 * One request over node:http or node:https (fetch takes no trusted authorities of its own), its answer
 * read whole into a Response.
 */
function send(
  target: AdminTarget,
  url: URL,
  init: { method: string; body?: string; contentType?: string },
): Promise<Response> {
  const authorization = target.token ? `Bearer ${target.token}` : target.authorization;
  const headers = {
    ...(init.contentType ? { 'content-type': init.contentType } : {}),
    ...(authorization ? { authorization } : {}),
  };
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 500;
        const body = [204, 205, 304].includes(status) ? null : Buffer.concat(chunks);
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers))
          for (const x of Array.isArray(v) ? v : v === undefined ? [] : [v]) h.append(k, x);
        resolve(new Response(body, { status, headers: h }));
      });
    };
    const options = { method: init.method, headers, signal: AbortSignal.timeout(target.timeoutS * 1000) };
    const req =
      url.protocol === 'https:'
        ? httpsRequest(url, { ...options, ...target.tls, minVersion: 'TLSv1.2' }, onResponse)
        : httpRequest(url, options, onResponse);
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Sends a request to the admin server with the credentials; resolves with the response, or why none came. */
export async function adminRequest(
  target: AdminTarget,
  url: URL,
  init: { method: string; body?: string; contentType?: string },
): Promise<Response | AdminUnreachable> {
  try {
    return await send(target, url, init);
  } catch (e) {
    const code = socketCode(e);
    const origin = url.origin;
    let message: string;
    if ((e as Error).name === 'TimeoutError' || (e as Error).name === 'AbortError')
      message = `no answer from ${origin} within ${target.timeoutS} s`;
    else if (code === 'ECONNREFUSED')
      message = `no broker answers at ${origin} (connection refused). Is one running? Start it with \`kch broker\`, or point --admin-url (KCH_ADMIN_URL) at its admin server.`;
    else if (code !== undefined && UNTRUSTED.test(code))
      message = `the certificate of ${origin} is not trusted (${(e as Error).message}): give the authority that signed it with --ssl-ca <file> (PEM)`;
    else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
      message = `the certificate of ${origin} is not for that host (${(e as Error).message}): use a host name the certificate holds in --admin-url`;
    else if (code === 'EPROTO' || code === 'ERR_SSL_WRONG_VERSION_NUMBER')
      message = `${origin} does not speak TLS: use an http:// --admin-url`;
    else if (code === 'ECONNRESET' && url.protocol === 'http:')
      message = `${origin} closed the connection: if the admin server speaks https, use an https:// --admin-url`;
    else message = `cannot reach ${origin}: ${code ?? (e as Error).message}`;
    return { exitCode: ExitCode.UNAVAILABLE, message };
  }
}

/**
 * What to say on 401: the admin server wants its token, or (when it challenges for Basic: the broker
 * has an authorizer) a user of the broker; `text` is the server's own message.
 */
export function unauthorizedMessage(target: AdminTarget, response: Response, text: string): string {
  if (/\bbasic\b/i.test(response.headers.get('www-authenticate') ?? '')) {
    if (target.authorization !== undefined) return text;
    return `the broker's admin server wants a user of the broker (it checks ACLs): --sasl-username <user> with KCH_SASL_PASSWORD=<password> (or --sasl-password), or --command-config with sasl.jaas.config`;
  }
  return `the broker wants its admin token: --token <token> or KCH_ADMIN_TOKEN${target.token ? ' (the one given is wrong)' : ''}`;
}

/** All of stdin as UTF-8 text (`kch sql -`, `kch views create --select -`). */
export async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
