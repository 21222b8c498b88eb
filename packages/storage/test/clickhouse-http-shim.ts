/**
 * A stand-in for a ClickHouse server's HTTP interface, run by chdb, for testing the server transport
 * where no server is at hand. It serves the part of the protocol @clickhouse/client uses: the query in
 * the `query` parameter with data in the body, or the query in the body; settings as parameters;
 * errors as a non-200 status with `X-ClickHouse-Exception-Code` and ClickHouse's message. Bytes pass
 * through untouched, so what the storage sends and reads is what a server would see. It is not a
 * server: no authentication, sessions or compression, and settings other than the insert's
 * deduplication token are ignored.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Session } from 'chdb';

/** Parameters that are HTTP-interface options, not query settings. */
const NOT_SETTINGS = new Set([
  'query',
  'query_id',
  'database',
  'default_format',
  'session_id',
  'user',
  'password',
]);
/** Settings the shim applies; the rest (wait_end_of_query, async_insert...) concern a real server only. */
const APPLIED = new Set(['insert_deduplicate', 'insert_deduplication_token']);

export interface HttpShim {
  url: string;
  /** Requests served, for assertions. */
  requests: number;
  /** When set, every request fails with this status before reaching chdb (a server that is down). */
  failWith: number | null;
  close(): Promise<void>;
}

export async function startHttpShim(dataDir: string): Promise<HttpShim> {
  const session = new Session(dataDir);
  const shim: HttpShim = { url: '', requests: 0, failWith: null, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      shim.requests++;
      const params = new URL(req.url ?? '/', 'http://shim').searchParams;
      const body = Buffer.concat(chunks);
      if (shim.failWith !== null) {
        res.writeHead(shim.failWith, { 'X-ClickHouse-Exception-Code': '210' });
        res.end('Code: 210. DB::Exception: the test made this server fail. (NETWORK_ERROR)');
        return;
      }
      const settings: string[] = [];
      for (const [k, v] of params) {
        if (!NOT_SETTINGS.has(k) && APPLIED.has(k)) settings.push(`${k} = '${v.replace(/[\\']/g, '\\$&')}'`);
      }
      let sql: string;
      let format = 'TabSeparated';
      const query = params.get('query');
      if (query !== null && /^\s*INSERT\b/i.test(query)) {
        // INSERT ... FORMAT X with the data in the body: settings go before FORMAT.
        const at = query.search(/\sFORMAT\s/i);
        sql = `${query.slice(0, at)}${settings.length ? ` SETTINGS ${settings.join(', ')}` : ''}${query.slice(at)}\n${body.toString('utf8')}`;
      } else {
        sql = (query ?? '') + body.toString('utf8');
        const f = /\bFORMAT\s+(\w+)\s*$/i.exec(sql);
        if (f) {
          format = f[1]!;
          sql = sql.slice(0, f.index);
        }
      }
      try {
        const result = await session.queryAsync(sql, { format });
        const bytes = result.bytes();
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'X-ClickHouse-Summary': '{}' });
        res.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      } catch (e) {
        const code = String((e as { clickhouseCode?: number }).clickhouseCode ?? 1000);
        const m = /Code: \d+\. DB::Exception: [^\n]*/.exec((e as Error).message);
        res.writeHead(500, { 'X-ClickHouse-Exception-Code': code });
        res.end(m ? m[0] : (e as Error).message);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  shim.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  shim.close = async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    session.close();
  };
  return shim;
}
