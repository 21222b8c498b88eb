/**
 * Admin handlers called directly, without sockets: a BrokerContext over memory storage, and a `call`
 * that sends the request and the response through the codec at the version asked for, so a test sees
 * what a client of that version would.
 */
import {
  ApiKeys,
  type ApiMessages,
  type ApiName,
  apiByKey,
  encodeLeniently,
  type Init,
  Reader,
  Writer,
} from '@kch/protocol';
import { MemorySecurityStore, memoryStorage, type Storage } from '@kch/storage';
import { EventEmitter } from 'eventemitter3';
import { apiTable } from '../src/api-table.js';
import { BrokerContext } from '../src/context.js';
import type { BrokerEvents } from '../src/events.js';
import type { ApiHandler, RequestContext } from '../src/handler.js';
import { HANDLERS } from '../src/handlers/index.js';
import { TopicManager } from '../src/log/topics.js';
import { silentLogger } from '../src/logger.js';
import { type BrokerOptionsInput, parseBrokerOptions } from '../src/options.js';

export interface AdminTestBroker {
  broker: BrokerContext;
  storage: Storage;
  /** Events emitted, in order. */
  events: { name: keyof BrokerEvents; info: unknown }[];
}

export async function adminBroker(
  options: Omit<BrokerOptionsInput, 'storage' | 'logger'> = {},
  storage: Storage = memoryStorage(),
): Promise<AdminTestBroker> {
  const config = parseBrokerOptions(options);
  await storage.open();
  const emitter = new EventEmitter<BrokerEvents>();
  const events: AdminTestBroker['events'] = [];
  emitter.on('topic-created', (info) => events.push({ name: 'topic-created', info }));
  emitter.on('topic-deleted', (info) => events.push({ name: 'topic-deleted', info }));
  const topics = new TopicManager(storage, config.tailCacheBytes, emitter);
  await topics.load();
  // The admin handlers never touch consumer groups.
  const broker = new BrokerContext(config, storage, silentLogger, topics, undefined as never, emitter, {
    store: new MemorySecurityStore(),
    authorizer: undefined,
  });
  broker.advertisedListeners.set('PLAINTEXT', {
    host: 'kch.test',
    port: 19092,
    securityProtocol: 'PLAINTEXT',
  });
  return { broker, storage, events };
}

type Request<K extends ApiName> = ApiMessages[K]['request'];
type Response<K extends ApiName> = ApiMessages[K]['response'];

let correlationId = 0;

/** The broker's own table of APIs, as a connection hands it to handlers. */
const API_TABLE = apiTable(HANDLERS);

/**
 * Encodes `request` at `version`, decodes it as the broker would, runs the handler (its errorResponse
 * when it throws a KafkaProtocolError, as the server does), and returns the response as a client of
 * that version decodes it.
 */
export async function call<K extends ApiName>(
  broker: BrokerContext,
  handler: ApiHandler<K>,
  version: number,
  request: Init<Request<K>>,
): Promise<Response<K>> {
  const descriptor = apiByKey(ApiKeys[handler.api])!;
  const w = new Writer();
  descriptor.request.encode(w, request, version);
  const decoded = descriptor.request.decode(new Reader(w.toBuffer()), version) as Request<K>;
  const ctx: RequestContext = {
    broker,
    apis: API_TABLE,
    connection: {
      id: 1,
      remoteAddress: '127.0.0.1',
      remotePort: 50000,
      listener: 'PLAINTEXT',
      securityProtocol: 'PLAINTEXT',
      principal: 'User:ANONYMOUS',
      sasl: undefined,
    },
    header: {
      requestApiKey: descriptor.apiKey,
      requestApiVersion: version,
      correlationId: ++correlationId,
      clientId: 'admin-test',
    },
    apiVersion: version,
  };
  let response: unknown;
  try {
    response = await handler.handle(decoded, ctx);
  } catch (e) {
    if (!(e instanceof Error) || e.name !== 'KafkaProtocolError') throw e;
    response = handler.errorResponse(decoded, (e as unknown as { code: number }).code, ctx);
  }
  const out = new Writer();
  encodeLeniently(() => descriptor.response.encode(out, response as never, version));
  return descriptor.response.decode(new Reader(out.toBuffer()), version) as Response<K>;
}

/** Every version of an API the codec knows. */
export function versionsOf(api: ApiName): number[] {
  const d = apiByKey(ApiKeys[api])!;
  return Array.from({ length: d.maxVersion - d.minVersion + 1 }, (_, i) => d.minVersion + i);
}

/** kch's topic configs a new topic of a memory-storage broker leaves unset (DescribeConfigs leaves them out). */
export const UNSET = new Set(['kch.dead.letter.topic', 'kch.schema', 'kch.storage.table', 'kch.table']);
