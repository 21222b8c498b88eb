/**
 * The broker's client quotas (KIP-13 byte rates, KIP-55 user and client-id entities, KIP-124 request
 * time), kept in memory from the security store and reloaded after each AlterClientQuotas through this
 * broker, and what the request path asks of them. A request is throttled as Kafka's KafkaApis does it:
 *
 * - every request's handling time counts toward request_percentage (the connection records the time the
 *   handler held the event loop before it first waited: kch's one request thread); Produce with acks=0,
 *   a follower's Fetch and the SASL exchange are exempt, as in Kafka;
 * - Produce counts the request's bytes toward producer_byte_rate, Fetch the response's toward
 *   consumer_byte_rate, and each is throttled by the larger of its byte-rate and request-time throttles;
 *   a throttled Fetch is answered empty and its bytes are taken back;
 * - the throttle goes into the response's throttleTimeMs and, per KIP-219, the connection stops reading
 *   from the client for that long once the response is sent.
 *
 * Without any quota configured `active` is false and nothing here runs: the request path checks that
 * one field.
 */
import { ApiKeys } from '@kch/protocol';
import type { ClientQuota, SecurityStore } from '@kch/storage';
import { ClientQuotaManager, type ClientQuotaSample } from './client-quota-manager.js';
import { ENFORCED_QUOTA_KEYS, type QuotaType } from './entities.js';
import { QuotaCallback } from './quota-callback.js';

/** The part of a request the quotas read and write: a RequestContext is one. */
export interface QuotaRequest {
  readonly connection: {
    readonly principal: string;
    readonly sasl?: { readonly gated: boolean } | undefined;
  };
  readonly header: { readonly requestApiKey: number; readonly clientId: string | null };
  /** Bytes of the request frame (header and body), what producer_byte_rate counts. */
  readonly requestSize?: number;
  /** The request quota's throttle time, recorded by the connection. */
  requestThrottleTimeMs?: number;
  /** The throttle decided for the request (Kafka's apiThrottleTimeMs); the connection mutes for it. */
  throttleTimeMs?: number;
}

export interface ClientQuotasOptions {
  /** quota.window.num: samples in the quota window (Kafka's default 11: ten whole windows and the current one). */
  windowNum?: number;
  /** quota.window.size.seconds: the span of one sample (Kafka's default 1). */
  windowSizeSeconds?: number;
  /** Milliseconds, for tests; default a monotonic clock. */
  now?: () => number;
}

/** What /metrics shows of the quotas. */
export interface ClientQuotasScrape {
  readonly clients: readonly (ClientQuotaSample & { readonly quota: QuotaType })[];
  /** Responses throttled since start, by the quota that decided the throttle. */
  readonly throttled: Readonly<Record<QuotaType, number>>;
}

/** request_percentage is percent of one thread: a millisecond of handling per second is 0.1. */
const PERCENT_PER_MS = 100 / 1000;

export class ClientQuotas {
  readonly produce: ClientQuotaManager;
  readonly fetch: ClientQuotaManager;
  readonly request: ClientQuotaManager;
  /** Whether any quota is configured: when not, the request path does nothing else here. */
  active = false;
  private readonly now: () => number;
  private loads = 0;

  constructor(
    private readonly store: SecurityStore,
    options: ClientQuotasOptions = {},
  ) {
    this.now = options.now ?? (() => Math.floor(performance.now()));
    const window = { samples: options.windowNum ?? 11, windowMs: (options.windowSizeSeconds ?? 1) * 1000 };
    const unbounded = Number.POSITIVE_INFINITY;
    this.produce = new ClientQuotaManager('Produce', window, unbounded, this.now);
    this.fetch = new ClientQuotaManager('Fetch', window, unbounded, this.now);
    // ClientRequestQuotaManager: a request-time throttle is at most one window.
    this.request = new ClientQuotaManager('Request', window, window.windowMs, this.now);
  }

  /** Reads the quotas from the store; a load overtaken by a later one does not apply its older list. */
  async load(): Promise<void> {
    const load = ++this.loads;
    const stored = await this.store.listClientQuotas();
    if (load === this.loads) this.apply(stored);
  }

  /** Applies a list of stored quotas. */
  apply(stored: readonly ClientQuota[]): void {
    for (const m of this.managers()) m.configure(QuotaCallback.of(stored, ENFORCED_QUOTA_KEYS[m.type]));
    this.active = this.managers().some((m) => m.enabled);
  }

  /**
   * Records the request's handling time (KIP-124) and keeps its throttle for the response. Exempt, as in
   * Kafka: Produce with acks=0, a follower's Fetch, and the SASL exchange (Kafka's authenticator answers
   * it outside the request handlers).
   */
  recordRequestTime(ctx: QuotaRequest, request: unknown, elapsedMs: number): void {
    if (!this.request.enabled || exempt(ctx, request)) return;
    const [user, clientId] = identity(ctx);
    const ms = this.request.recordAndGetThrottleTimeMs(
      user,
      clientId,
      elapsedMs * PERCENT_PER_MS,
      this.now(),
    );
    if (ms > 0) ctx.requestThrottleTimeMs = ms;
  }

  /**
   * Produce's throttle: the request's bytes count toward producer_byte_rate (also with acks=0, which is
   * exempt from the request quota only); the larger throttle applies.
   */
  throttleProduce(ctx: QuotaRequest, acks: number): number {
    const [user, clientId] = identity(ctx);
    const bandwidth = this.produce.enabled
      ? this.produce.recordAndGetThrottleTimeMs(user, clientId, ctx.requestSize ?? 0, this.now())
      : 0;
    const requestTime = acks === 0 ? 0 : (ctx.requestThrottleTimeMs ?? 0);
    return this.decide(ctx, user, clientId, this.produce, bandwidth, requestTime);
  }

  /**
   * The most a consumer's Fetch may return: what its consumer_byte_rate allows in the quota window
   * without a certain throttle (KafkaApis caps fetch.max.bytes with it).
   */
  maxFetchBytes(ctx: QuotaRequest): number {
    const [user, clientId] = identity(ctx);
    return Math.min(this.fetch.maxValueInQuotaWindow(user, clientId), 2 ** 31 - 1);
  }

  /**
   * A consumer Fetch's throttle: the response's size (`responseSize`, called only with a fetch quota)
   * counts toward consumer_byte_rate; when throttled at all the caller answers empty, so the size is
   * taken back.
   */
  throttleFetch(ctx: QuotaRequest, responseSize: () => number): number {
    const [user, clientId] = identity(ctx);
    const requestTime = ctx.requestThrottleTimeMs ?? 0;
    if (!this.fetch.enabled) return this.decide(ctx, user, clientId, this.fetch, 0, requestTime);
    const now = this.now();
    const size = responseSize();
    const bandwidth = this.fetch.recordAndGetThrottleTimeMs(user, clientId, size, now);
    if (Math.max(bandwidth, requestTime) > 0) this.fetch.unrecord(user, clientId, size, now);
    return this.decide(ctx, user, clientId, this.fetch, bandwidth, requestTime);
  }

  /**
   * The response of any other request, with the request quota's throttle when there is one (Kafka's
   * maybeSetThrottleTimeMs: a response without the field ignores it). Produce and Fetch decided theirs.
   */
  throttleResponse<T>(ctx: QuotaRequest, response: T): T {
    if (ctx.throttleTimeMs === undefined) {
      const requestTime = ctx.requestThrottleTimeMs ?? 0;
      if (requestTime <= 0) return response;
      const [user, clientId] = identity(ctx);
      this.decide(ctx, user, clientId, this.request, 0, requestTime);
    }
    if (!ctx.throttleTimeMs || response === null || typeof response !== 'object') return response;
    return { ...(response as object), throttleTimeMs: ctx.throttleTimeMs } as T;
  }

  /** What /metrics shows: each client's rates and throttle times, and the throttled responses. */
  scrape(): ClientQuotasScrape {
    const clients = this.managers().flatMap((m) => m.samples().map((s) => ({ ...s, quota: m.type })));
    return {
      clients,
      throttled: {
        Produce: this.produce.throttled,
        Fetch: this.fetch.throttled,
        Request: this.request.throttled,
      },
    };
  }

  /** The larger throttle applies, noted on the quota that decided it (Kafka throttles with that quota). */
  private decide(
    ctx: QuotaRequest,
    user: string,
    clientId: string,
    byteRate: ClientQuotaManager,
    bandwidth: number,
    requestTime: number,
  ): number {
    const ms = Math.max(bandwidth, requestTime);
    if (ms > 0) (bandwidth > requestTime ? byteRate : this.request).throttle(user, clientId, ms);
    ctx.throttleTimeMs = ms;
    return ms;
  }

  private managers(): ClientQuotaManager[] {
    return [this.produce, this.fetch, this.request];
  }
}

/**
 * The user and client-id a request is measured as: the principal's name (Kafka's KafkaPrincipal.getName:
 * `ANONYMOUS` before authentication) and the client id, a null one being empty as Kafka reads it.
 */
function identity(ctx: QuotaRequest): [user: string, clientId: string] {
  const { principal } = ctx.connection;
  return [principal.slice(principal.indexOf(':') + 1), ctx.header.clientId ?? ''];
}

function exempt(ctx: QuotaRequest, request: unknown): boolean {
  const key = ctx.header.requestApiKey;
  if (key === ApiKeys.SaslHandshake || key === ApiKeys.SaslAuthenticate || ctx.connection.sasl?.gated)
    return true;
  if (key === ApiKeys.Produce) return (request as { acks?: number }).acks === 0;
  if (key === ApiKeys.Fetch) {
    // A follower names itself in replicaId, from v15 in replicaState (the other field keeps its -1).
    const r = request as { replicaId?: number; replicaState?: { replicaId: number } };
    return Math.max(r.replicaId ?? -1, r.replicaState?.replicaId ?? -1) >= 0;
  }
  return false;
}
