/**
 * The admin server's /views routes, materialized views on topics (see @kch/storage's views):
 *
 * - `GET /views`: `{"views":[...]}`, every view in the broker's database;
 * - `GET /views/<name>`: one view;
 * - `POST /views`: creates one from a JSON definition `{ name, topic, select, to | engine, populate? }`,
 *   201 with the view;
 * - `DELETE /views/<name>`: drops one, 200 `{"dropped":"<name>"}`.
 *
 * Refusals: 400 a bad definition or SQL ClickHouse refused (its message), 404 no such topic or view,
 * 409 a view of that name exists, 501 a storage without views (memory), 503 ClickHouse unavailable.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@kch/broker';
import { type Storage, StorageError, type ViewDefinitionInput, ViewError } from '@kch/storage';
import { hasViews } from '../storage.js';
import { HttpError, readBody } from './http.js';

/** Largest view definition accepted (the SELECT is limited to 256 KiB by the storage). */
const MAX_DEFINITION_BYTES = 512 * 1024;

function statusOf(e: StorageError): number {
  if (e instanceof ViewError) return e.reason === 'exists' ? 409 : 404;
  switch (e.kind) {
    case 'UNKNOWN_TOPIC_OR_PARTITION':
      return 404;
    case 'UNAVAILABLE':
      return 503;
    default:
      return 400;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export async function handleViews(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  storage: Storage,
  logger: Logger,
): Promise<void> {
  const rest = url.pathname.slice('/views'.length);
  const name = rest.startsWith('/') ? decodeURIComponent(rest.slice(1)) : null;
  const allow = name === null ? 'GET, POST' : 'GET, DELETE';
  const route = `${req.method} ${name === null ? 'list' : 'one'}`;
  if (!['GET list', 'POST list', 'GET one', 'DELETE one'].includes(route))
    throw new HttpError(405, `${req.method} is not allowed on ${url.pathname}; use ${allow}`, { allow });
  if (name === '') throw new HttpError(404, 'no view name after /views/');
  if (!hasViews(storage))
    throw new HttpError(
      501,
      `this broker's storage (${storage.name}) has no materialized views: they are ClickHouse's; start the broker with --storage chdb:<dir> or a ClickHouse URL`,
    );
  try {
    switch (route) {
      case 'GET list':
        return sendJson(res, 200, { views: await storage.listViews() });
      case 'GET one': {
        const view = (await storage.listViews()).find((v) => v.name === name);
        if (!view) throw new HttpError(404, `there is no view ${name}`);
        return sendJson(res, 200, view);
      }
      case 'POST list': {
        const text = (await readBody(req, MAX_DEFINITION_BYTES, 'the view definition')).toString('utf8');
        let definition: unknown;
        try {
          definition = JSON.parse(text);
        } catch (e) {
          throw new HttpError(
            400,
            `the body must be a JSON view definition, e.g. {"name":"...","topic":"...","select":"SELECT ... FROM {topic}","engine":"..."}: ${(e as Error).message}`,
          );
        }
        const view = await storage.createView(definition as ViewDefinitionInput);
        logger.info('view created', { view: view.name, topic: view.topic, target: view.target });
        return sendJson(res, 201, view);
      }
      case 'DELETE one':
        await storage.dropView(name!);
        logger.info('view dropped', { view: name });
        return sendJson(res, 200, { dropped: name });
    }
  } catch (e) {
    if (e instanceof StorageError) throw new HttpError(statusOf(e), e.message);
    throw e;
  }
}
