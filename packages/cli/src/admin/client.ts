/**
 * The client side of the admin server, for the commands that work through a running broker (`kch sql`,
 * `kch views`): where the server is (--admin-url, KCH_ADMIN_URL, KCH_ADMIN_PORT), its token, the
 * timeout, what to say when nothing answers, and the SQL they read from stdin (`-`).
 */
import { ExitCode } from '../command.js';
import { DEFAULT_ADMIN_PORT } from '../options.js';

/** The options every admin command takes, for parseArgs. */
export const ADMIN_CLIENT_OPTIONS = {
  'admin-url': { type: 'string' },
  token: { type: 'string' },
  timeout: { type: 'string' },
} as const;

/** The lines of the usage text describing ADMIN_CLIENT_OPTIONS. */
export const ADMIN_CLIENT_USAGE = `  --admin-url <url>     the broker's admin server [KCH_ADMIN_URL] (default http://127.0.0.1:${DEFAULT_ADMIN_PORT},
                        or the port in KCH_ADMIN_PORT)
  --token <token>       the broker's admin token, when it has one [KCH_ADMIN_TOKEN]
  --timeout <seconds>   give up after this long (default 300)`;

export interface AdminTarget {
  /** The server's base URL, ending with a slash. */
  base: URL;
  token: string | undefined;
  timeoutS: number;
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

/** Sends a request to the admin server with the token; resolves with the response, or why none came. */
export async function adminRequest(
  target: AdminTarget,
  url: URL,
  init: { method: string; body?: string; contentType?: string },
): Promise<Response | AdminUnreachable> {
  try {
    return await fetch(url, {
      method: init.method,
      ...(init.body !== undefined ? { body: init.body } : {}),
      headers: {
        ...(init.contentType ? { 'content-type': init.contentType } : {}),
        ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
      },
      signal: AbortSignal.timeout(target.timeoutS * 1000),
    });
  } catch (e) {
    const code = socketCode(e);
    const origin = url.origin;
    let message: string;
    if ((e as Error).name === 'TimeoutError')
      message = `no answer from ${origin} within ${target.timeoutS} s`;
    else if (code === 'ECONNREFUSED')
      message = `no broker answers at ${origin} (connection refused). Is one running? Start it with \`kch broker\`, or point --admin-url (KCH_ADMIN_URL) at its admin server.`;
    else message = `cannot reach ${origin}: ${code ?? (e as Error).message}`;
    return { exitCode: ExitCode.UNAVAILABLE, message };
  }
}

/** What to say on 401: the token is missing or wrong. */
export function tokenMessage(target: AdminTarget): string {
  return `the broker wants its admin token: --token <token> or KCH_ADMIN_TOKEN${target.token ? ' (the one given is wrong)' : ''}`;
}

/** All of stdin as UTF-8 text (`kch sql -`, `kch views create --select -`). */
export async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
