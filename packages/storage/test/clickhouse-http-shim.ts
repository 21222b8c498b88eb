/**
 * A stand-in for a ClickHouse server's HTTP interface, run by chdb, for testing the server transport
 * where no server is at hand, and for sharing one ClickHouse between several broker processes
 * (./clickhouse-http-server.ts). It serves the part of the protocol @clickhouse/client uses: the
 * query in the `query` parameter with data in the body, or the query in the body; settings as
 * parameters; errors as a non-200 status with `X-ClickHouse-Exception-Code` and ClickHouse's message.
 * Bytes pass through untouched, so what the storage sends and reads is what a server would see. It is
 * not a server: no authentication, sessions or compression, and only the settings in APPLIED take
 * effect. Requests run on a few chdb sessions at once (./chdb-session-pool.ts), each answered with
 * its own query's result.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadNative } from '../src/clickhouse/chdb-transport.js';
import { ChdbSessionPool } from './chdb-session-pool.js';

/**
 * Settings the shim applies; the rest (wait_end_of_query, async_insert...) concern a real server only.
 * keeper_map_strict_mode decides whether a KeeperMap write checks what it overwrites: silently
 * dropping it would turn a compare-and-set into a blind write.
 */
const APPLIED = new Set(['insert_deduplicate', 'insert_deduplication_token', 'keeper_map_strict_mode']);

export interface HttpShimOptions {
  /**
   * Arguments for the engine, as `clickhouse local` takes them (`--config-file=/path/config.xml`):
   * the server configuration, such as a ZooKeeper for KeeperMap tables. chdb binds one data directory
   * per process, configured by whichever session opens it first.
   */
  connectionArgs?: readonly string[];
  /** chdb sessions that run requests side by side (default 4). */
  sessions?: number;
}

export interface HttpShim {
  url: string;
  /** Requests served, for assertions. */
  requests: number;
  /** When set, every request fails with this status before reaching chdb (a server that is down). */
  failWith: number | null;
  close(): Promise<void>;
}

/** `SETTINGS a = 'x', b = 'y'` for the parameters that are settings the shim applies; '' for none. */
function settingsClause(params: URLSearchParams): string {
  const settings: string[] = [];
  for (const [k, v] of params) {
    if (APPLIED.has(k)) settings.push(`${k} = '${v.replace(/[\\']/g, '\\$&')}'`);
  }
  return settings.length ? `SETTINGS ${settings.join(', ')}` : '';
}

/**
 * `sql` with a SETTINGS clause where ClickHouse takes one: an INSERT's before its first VALUES or
 * FORMAT word (the data follows it; an INSERT ... SELECT FROM the values() table function would be
 * misread, and the storage sends none), any other statement's at its end. The statement must not
 * have a SETTINGS clause of its own, as with the embedded transport, which appends one the same way.
 */
function withSettings(sql: string, clause: string): string {
  if (!clause) return sql;
  if (/^\s*INSERT\b/i.test(sql)) {
    const at = sql.search(/\s(VALUES|FORMAT)\b/i);
    if (at >= 0) return `${sql.slice(0, at)} ${clause}${sql.slice(at)}`;
  }
  // On a line of its own: a comment closing the statement would swallow it otherwise.
  return `${sql.replace(/[\s;]+$/, '')}\n${clause}`;
}

/**
 * The statement to run and the format of its answer, as a server reads them from a request; for an
 * INSERT with its rows in the body, the statement alone and the rows as bytes (`data`).
 */
function statement(params: URLSearchParams, body: Buffer): { sql: string; format: string; data?: Buffer } {
  const settings = settingsClause(params);
  const query = params.get('query');
  if (query !== null && /^\s*INSERT\b/i.test(query)) {
    // INSERT ... FORMAT X with the data in the body.
    return { sql: withSettings(query, settings), format: 'TabSeparated', data: body };
  }
  let sql = (query ?? '') + body.toString('utf8');
  let format = 'TabSeparated';
  const f = /\bFORMAT\s+(\w+)\s*$/i.exec(sql);
  if (f) {
    format = f[1]!;
    sql = sql.slice(0, f.index);
  }
  return { sql: withSettings(sql, settings), format };
}

const EMPTY: Uint8Array = new Uint8Array(0);
/** The FORMAT clause of an INSERT whose rows are binary. */
const BINARY_INSERT = /\bFORMAT\s+(RowBinary|Native)\s*$/i;
let files = 0;

export async function startHttpShim(dataDir: string, options: HttpShimOptions = {}): Promise<HttpShim> {
  const native = loadNative();
  if (!native)
    throw new Error('this chdb has no native insert (InsertRawAsyncConnection): the HTTP stand-in needs it');
  const pool = new ChdbSessionPool(dataDir, options.connectionArgs ?? [], options.sessions ?? 4);
  const shim: HttpShim = { url: '', requests: 0, failWith: null, close: async () => {} };
  let closing = false;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      shim.requests++;
      const reply = (status: number, headers: Record<string, string>, body: string | Buffer) => {
        // Once closing, a kept-alive connection ends with its answer, so that close() can finish.
        res.writeHead(status, closing ? { ...headers, Connection: 'close' } : headers);
        res.end(body);
      };
      if (shim.failWith !== null) {
        reply(
          shim.failWith,
          { 'X-ClickHouse-Exception-Code': '210' },
          'Code: 210. DB::Exception: the test made this server fail. (NETWORK_ERROR)',
        );
        return;
      }
      const params = new URL(req.url ?? '/', 'http://shim').searchParams;
      try {
        const { sql, format, data } = statement(params, Buffer.concat(chunks));
        // The rows go to the engine as bytes, as a server takes them (SQL text would have to be UTF-8).
        let bytes = EMPTY;
        if (!data) bytes = (await pool.run((s) => s.queryAsync(sql, { format }))).bytes();
        else if (data.length > 0 && BINARY_INSERT.test(sql)) {
          // chdb reads inline data as text (a newline byte cuts a binary row), a server does not: the
          // rows go through a file, in the insertion table's structure.
          const file = join(dataDir, `shim-insert-${process.pid}-${++files}.bin`);
          writeFileSync(file, data);
          const select = `SELECT * FROM file('${file}', '${BINARY_INSERT.exec(sql)![1]}')`;
          try {
            await pool.run((s) =>
              s.queryAsync(sql.replace(BINARY_INSERT, select), { format: 'TabSeparated' }),
            );
          } finally {
            rmSync(file, { force: true });
          }
        } else if (data.length > 0)
          await pool.run((s) => native.InsertRawAsyncConnection(s.connection, sql, data, false));
        reply(
          200,
          { 'Content-Type': 'application/octet-stream', 'X-ClickHouse-Summary': '{}' },
          Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        );
      } catch (e) {
        const code = String((e as { clickhouseCode?: number }).clickhouseCode ?? 1000);
        const m = /Code: \d+\. DB::Exception: [^\n]*/.exec((e as Error).message);
        reply(500, { 'X-ClickHouse-Exception-Code': code }, m ? m[0] : (e as Error).message);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  shim.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  shim.close = async () => {
    closing = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Kept-alive connections waiting for a next request would hold close() open.
    server.closeIdleConnections();
    await closed;
    pool.close();
  };
  return shim;
}
