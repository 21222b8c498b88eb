/**
 * What an API handler is: one module per Kafka API in ./handlers, each registering the versions it
 * serves. ApiVersions is built from this registry, so the broker advertises exactly what it handles.
 */
import {
  type ApiDescriptor,
  type ApiMessages,
  type ApiName,
  apiByKey,
  type Init,
  type RequestHeader,
} from '@kch/protocol';
import type { BrokerContext } from './context.js';
import type { Requester } from './events.js';
import type { SecurityProtocol } from './security/options.js';
import type { SaslSession } from './security/sasl-session.js';

/** The client side of one request: who sent it and on which connection. */
export interface ConnectionInfo {
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The name of the listener the client came in on. */
  readonly listener: string;
  readonly securityProtocol: SecurityProtocol;
  /**
   * Who the client is (`User:alice`): `User:ANONYMOUS` until it authenticates with SASL, or the name
   * mapped from its TLS certificate.
   */
  principal: string;
  /** The SASL state of a connection on a SASL listener; undefined on the others. */
  readonly sasl: SaslSession | undefined;
  /** From ApiVersions v3+, when the client said. */
  clientSoftwareName?: string;
  clientSoftwareVersion?: string;
}

export interface RequestContext {
  readonly broker: BrokerContext;
  /** The APIs this broker serves (ApiVersions answers from it). */
  readonly apis: ApiTable;
  readonly connection: ConnectionInfo;
  readonly header: RequestHeader;
  readonly apiVersion: number;
  /** Bytes of the request frame (header and body, Kafka's request.sizeInBytes): what producer_byte_rate counts. */
  readonly requestSize?: number;
  /** The request quota's throttle time (./quotas), recorded once the handler first waits. */
  requestThrottleTimeMs?: number;
  /**
   * The request's throttle time (Kafka's apiThrottleTimeMs), decided by the quotas: it goes into the
   * response, and the connection stops reading from the client for that long once the response is sent.
   */
  throttleTimeMs?: number;
}

/** An API this broker serves: the handler with the version range it serves and the codec's descriptor. */
export interface ServedApi {
  readonly descriptor: ApiDescriptor;
  readonly handler: ApiHandler;
  readonly minVersion: number;
  readonly maxVersion: number;
}

/** The APIs a broker serves, built once from the handler modules (./api-table.ts). */
export interface ApiTable {
  /** The served API of a key, or undefined. */
  get(apiKey: number): ServedApi | undefined;
  /** The versions served, per API: what ApiVersions advertises. */
  servedVersions(): { apiKey: number; minVersion: number; maxVersion: number }[];
}

/** The requester of a change made by this request (topic creation and deletion are logged with it). */
export function requester(ctx: RequestContext): Requester {
  return {
    via: apiByKey(ctx.header.requestApiKey)?.name ?? `API ${ctx.header.requestApiKey}`,
    clientId: ctx.header.clientId,
    address: `${ctx.connection.remoteAddress}:${ctx.connection.remotePort}`,
  };
}

type Request<K extends ApiName> = ApiMessages[K]['request'];
type Response<K extends ApiName> = Init<ApiMessages[K]['response']>;

export interface ApiHandler<K extends ApiName = ApiName> {
  readonly api: K;
  /** Versions served; default: every version the codec knows. A narrower range says why in the handler. */
  readonly minVersion?: number;
  readonly maxVersion?: number;
  /**
   * Whether the request must wait until every earlier request of the connection has been answered
   * (admin requests). Requests are always answered in order.
   */
  readonly serial?: boolean;
  /**
   * A write (Produce): it starts as soon as it arrives, so a producer's pipelined requests go to
   * storage together, in order; every later request of the connection that is not a write waits
   * until it is stored, so it sees its effect as on a Kafka broker. Other requests start once the
   * writes before them are done, so a long poll or a slow storage read does not hold up the rest.
   */
  readonly write?: boolean;
  /** The response, or null for none at all (Produce with acks=0). */
  handle(request: Request<K>, ctx: RequestContext): Promise<Response<K> | null> | Response<K> | null;
  /**
   * The response for a request that failed as a whole with `errorCode` (an unexpected error, or a
   * request the broker refuses): each API carries the error in its own place.
   */
  errorResponse(request: Request<K>, errorCode: number, ctx: RequestContext): Response<K>;
}

export function defineHandler<K extends ApiName>(handler: ApiHandler<K>): ApiHandler<K> {
  return handler;
}
