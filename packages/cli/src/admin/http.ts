/** Small pieces of the admin server's HTTP handling, shared by its routes. */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** A request the admin server answers with `status` and the message as text. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string | string[]> = {},
  ) {
    super(message);
  }
}

/** The request body, refused with 413 past `limit` bytes (`what` names it in the message). */
export async function readBody(req: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `${what} is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!.trim());
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** 401 unless the request carries the token (when there is one); `what` names the endpoint. */
export function requireToken(req: IncomingMessage, token: string | undefined, what: string): void {
  if (token !== undefined && !tokenMatches(req.headers.authorization, token)) {
    throw new HttpError(401, `${what} needs the admin token: Authorization: Bearer <token>`, {
      'www-authenticate': 'Bearer realm="kch admin"',
    });
  }
}
