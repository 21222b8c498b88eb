/**
 * The admin HTTP server of `kch broker` (node:http, no framework):
 *
 * - `GET /metrics`: Prometheus text (see BrokerMetrics in @kch/broker);
 * - `GET /healthz`: 200 `{"status":"ok",...}` when the Kafka listener is open and storage answers,
 *   503 `{"status":"unavailable","reason":...}` otherwise (also while shutting down);
 * - `POST /sql[?format=<ClickHouse format>]`: the body is one SQL statement, run on the broker's
 *   ClickHouse (also an embedded chdb directory, which only this process can open); the result comes
 *   back as ClickHouse wrote it, TabSeparated unless asked otherwise.
 * - `GET /views`, `GET /views/<name>`, `POST /views`, `DELETE /views/<name>`: materialized views on
 *   topics (./views.ts).
 *
 * Who may use /sql and /views is ./auth.ts's business: the admin token (`Authorization: Bearer
 * <token>`) when one is set, and once the broker has an authorizer, a user of the broker with Alter
 * (SQL, changing views) or Describe (reading views) on the cluster. /metrics and /healthz stay open, so
 * that Prometheus and health probes need no secret; they show topic and group names, nothing else.
 *
 * With `tls`, the server speaks https (node:https) with that certificate, read again when its files
 * change, as a listener's.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  AclOperation,
  type Broker,
  type BrokerMetrics,
  ListenerTls,
  type Logger,
  PROMETHEUS_CONTENT_TYPE,
} from '@kch/broker';
import { StorageError } from '@kch/storage';
import { isQueryable } from '../storage.js';
import { adminAccess } from './auth.js';
import { HttpError, readBody } from './http.js';
import { handleViews } from './views.js';

/** Largest SQL body accepted. */
export const MAX_SQL_BYTES = 1024 * 1024;
/** /healthz waits this long for storage before it answers 503. */
const HEALTH_TIMEOUT_MS = 5_000;

export interface AdminServerOptions {
  broker: Broker;
  metrics: BrokerMetrics;
  logger: Logger;
  host: string;
  port: number;
  /** When set (and the broker has no authorizer), /sql and /views need `Authorization: Bearer <token>`. */
  token?: string;
  /** The certificate chain and key (PEM: file paths or the text itself): the server speaks https. */
  tls?: { cert: string; key: string; keyPassword?: string };
}

export interface AdminServer {
  readonly host: string;
  readonly port: number;
  /** `http://host:port` or `https://host:port` (IPv6 in brackets). */
  readonly url: string;
  /** Whether /sql and /views check the broker's ACLs (the broker has an authorizer). */
  readonly authorized: boolean;
  /** From now on /healthz answers 503 "shutting down". */
  setShuttingDown(): void;
  close(): Promise<void>;
}

function contentTypeOf(format: string): string {
  const f = format.toLowerCase();
  if (f === 'jsoneachrow' || f === 'jsonlines' || f === 'ndjson' || f.startsWith('jsoncompacteachrow'))
    return 'application/x-ndjson; charset=utf-8';
  if (f.startsWith('json')) return 'application/json; charset=utf-8';
  if (f.startsWith('csv')) return 'text/csv; charset=utf-8';
  if (['parquet', 'arrow', 'arrowstream', 'native', 'rowbinary', 'orc', 'avro'].some((b) => f.startsWith(b)))
    return 'application/octet-stream';
  return 'text/plain; charset=utf-8';
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const { broker, metrics, logger, token } = options;
  let shuttingDown = false;
  const access = adminAccess(broker, token, logger);

  const health = async (): Promise<{ ok: boolean; body: Record<string, unknown> }> => {
    if (shuttingDown)
      return { ok: false, body: { status: 'unavailable', reason: 'the broker is shutting down' } };
    const listening = broker.listeningOn;
    if (!listening)
      return { ok: false, body: { status: 'unavailable', reason: 'the Kafka listener is not open' } };
    const storage = broker.context.storage;
    let h: { ok: boolean; detail?: string };
    try {
      h = await withTimeout(storage.health(), HEALTH_TIMEOUT_MS, `storage (${storage.location})`);
    } catch (e) {
      h = { ok: false, detail: (e as Error).message };
    }
    const base = { kafka: `${listening.host}:${listening.port}`, storage: storage.location };
    if (!h.ok)
      return {
        ok: false,
        body: { status: 'unavailable', reason: h.detail ?? 'storage is not healthy', ...base },
      };
    return { ok: true, body: { status: 'ok', ...base } };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case 'GET /metrics':
      case 'HEAD /metrics': {
        const text = await metrics.render();
        res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE });
        res.end(req.method === 'HEAD' ? undefined : text);
        return;
      }
      case 'GET /healthz':
      case 'HEAD /healthz': {
        const h = await health();
        res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json; charset=utf-8' });
        res.end(req.method === 'HEAD' ? undefined : `${JSON.stringify(h.body)}\n`);
        return;
      }
      case 'POST /sql': {
        await access.require(req, AclOperation.ALTER, 'POST /sql');
        const storage = broker.context.storage;
        if (!isQueryable(storage)) {
          throw new HttpError(
            501,
            `this broker's storage (${storage.name}) does not run SQL: start the broker with --storage chdb:<dir> or a ClickHouse URL`,
          );
        }
        const format = url.searchParams.get('format') ?? 'TabSeparated';
        const sql = (await readBody(req, MAX_SQL_BYTES, 'the SQL')).toString('utf8');
        if (sql.trim() === '') throw new HttpError(400, 'the request body must be an SQL statement');
        if (shuttingDown) throw new HttpError(503, 'the broker is shutting down');
        const started = performance.now();
        let result: Buffer;
        try {
          result = await storage.query(sql, format);
        } catch (e) {
          if (e instanceof StorageError) {
            throw new HttpError(e.kind === 'UNAVAILABLE' ? 503 : 400, e.message);
          }
          throw e;
        }
        logger.debug('admin sql', {
          bytes: result.length,
          durationMs: Math.round(performance.now() - started),
        });
        res.writeHead(200, {
          'content-type': contentTypeOf(format),
          'content-length': result.length,
          'x-clickhouse-format': format,
        });
        res.end(result);
        return;
      }
      case 'GET /':
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(
          "kch admin\n  GET  /metrics   Prometheus metrics\n  GET  /healthz   health of the broker and its storage\n  POST /sql       run SQL on the broker's ClickHouse (body: SQL; ?format=JSONEachRow ...)\n  GET  /views     materialized views on topics (POST /views creates one, DELETE /views/<name> drops it)\n",
        );
        return;
      default: {
        if (url.pathname === '/views' || url.pathname.startsWith('/views/')) {
          const what = `${req.method} ${url.pathname}`;
          await access.require(req, req.method === 'GET' ? AclOperation.DESCRIBE : AclOperation.ALTER, what);
          if (shuttingDown) throw new HttpError(503, 'the broker is shutting down');
          return handleViews(req, res, url, broker.context.storage, logger);
        }
        const known = ['/metrics', '/healthz', '/sql', '/'];
        if (known.includes(url.pathname)) {
          const allow = url.pathname === '/sql' ? 'POST' : 'GET, HEAD';
          throw new HttpError(405, `${req.method} is not allowed on ${url.pathname}; use ${allow}`, {
            allow,
          });
        }
        throw new HttpError(404, `no ${url.pathname} here: try /metrics, /healthz, POST /sql or /views`);
      }
    }
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) logger.error('admin request failed', { url: req.url, error: e });
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // An unread body (an early 401 or 413) is dropped with the connection, once the answer is out
      // (destroying at once could lose the answer, which TLS writes later).
      const unread = !req.complete;
      res.writeHead(status, {
        'content-type': 'text/plain; charset=utf-8',
        ...(unread ? { connection: 'close' } : {}),
        ...(e instanceof HttpError ? e.headers : {}),
      });
      res.end(`${e instanceof Error ? e.message : String(e)}\n`, () => {
        if (unread) req.destroy();
      });
    });
  };
  // The certificate is read as a listener's: files or PEM text, read again when the files change.
  const tls = options.tls
    ? new ListenerTls({ ...options.tls, clientAuth: 'none', principalMappingRules: 'DEFAULT' }, 'admin')
    : undefined;
  const server: Server = tls
    ? createHttpsServer({ ...tls.secureContext(), minVersion: 'TLSv1.2' }, onRequest)
    : createServer(onRequest);
  const stopWatching = tls?.watch(
    (context) => (server as ReturnType<typeof createHttpsServer>).setSecureContext(context),
    logger,
  );
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => logger.error('admin server error', { error: e }));
  const address = server.address() as AddressInfo;
  const host = address.address;
  const port = address.port;
  const url = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    host,
    port,
    url,
    authorized: access.authorized,
    setShuttingDown() {
      shuttingDown = true;
    },
    close() {
      stopWatching?.();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
