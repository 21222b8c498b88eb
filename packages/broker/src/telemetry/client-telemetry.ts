/**
 * Client telemetry (KIP-714) as Kafka's ClientMetricsManager keeps it: one instance per client
 * instance id, with its subscription (the metric prefixes asked for and the push interval), the times
 * of its last GetTelemetrySubscriptions and PushTelemetry, whether it said it is terminating, and here
 * also the latest values it pushed, which the broker's `/metrics` shows (metrics.ts).
 *
 * Kafka takes subscriptions from client-metrics config resources; kch has one subscription for every
 * client, from the broker option `clientTelemetry`. Instances are dropped after
 * max(60 s, 3 push intervals) without a request (Kafka's expiration), when their client says it is
 * terminating (its series go at once; the instance stays to refuse further pushes until it expires),
 * and the least recently heard from when there are more than `maxClients`.
 */
import { CompressionType, crc32c, ErrorCode, ZERO_UUID } from '@kch/protocol';
import { randomUuid } from '../kafka-uuid.js';
import type { TelemetryPoint } from './otlp.js';

/** Kafka's ClientMetricsManager DEFAULT_CACHE_EXPIRY_MS. */
const MIN_EXPIRY_MS = 60_000;
/** Kafka's Uuid.RESERVED: the zero id and METADATA_TOPIC_ID, printed. */
const RESERVED_IDS = new Set([ZERO_UUID, 'AAAAAAAAAAAAAAAAAAAAAQ']);
/** In Kafka's order: a client compresses with the first it supports (SUPPORTED_COMPRESSION_TYPES). */
export const ACCEPTED_COMPRESSION_TYPES = [
  CompressionType.Zstd,
  CompressionType.Lz4,
  CompressionType.Gzip,
  CompressionType.Snappy,
];

export interface ClientTelemetryConfig {
  /** Metric name prefixes asked of every client; `['*']` is all of them, `[]` none. */
  metrics: string[];
  pushIntervalMs: number;
  /** Largest metrics payload accepted, compressed and decompressed (telemetry.max.bytes). */
  maxBytes: number;
  /** Client instances kept at most (their latest values with them). */
  maxClients: number;
  /** Series (data points) kept per client instance at most: the rest of a push is dropped. */
  maxSeriesPerClient: number;
}

/** One stored series: a pushed data point's latest value. */
export interface ClientSeries extends TelemetryPoint {
  clientId: string;
  clientInstanceId: string;
}

interface Instance {
  readonly id: string;
  readonly subscriptionId: number;
  clientId: string;
  lastGetMs: number;
  lastPushMs: number;
  /** Last request of either kind, for expiry and the LRU bound. */
  lastSeenMs: number;
  terminating: boolean;
  lastKnownError: number;
  /** By metric name and attributes. */
  series: Map<string, ClientSeries>;
}

export type PushCheck = { errorCode: number; instance?: undefined } | { errorCode: 0; instance: Instance };

export class ClientTelemetry {
  /** In the order they were last heard from: the first is the one dropped past maxClients. */
  private readonly instances = new Map<string, Instance>();

  constructor(
    readonly config: ClientTelemetryConfig,
    private readonly now: () => number = Date.now,
  ) {}

  private get expiryMs(): number {
    return Math.max(MIN_EXPIRY_MS, 3 * this.config.pushIntervalMs);
  }

  /** GetTelemetrySubscriptions: the instance (new for the zero id), or THROTTLING_QUOTA_EXCEEDED. */
  subscribe(
    requestedId: string,
    clientId: string,
  ): { errorCode: number; clientInstanceId: string; subscriptionId: number } {
    const now = this.now();
    // Only the zero id asks for one (Kafka's processGetTelemetrySubscriptionRequest).
    const id = requestedId === ZERO_UUID ? this.newId() : requestedId;
    const instance = this.instance(id, clientId, now);
    // ClientMetricsInstance.maybeUpdateGetRequestTimestamp: one request a push interval, unless the
    // last push failed in a way that sends the client back for a new subscription.
    const last = Math.max(instance.lastGetMs, instance.lastPushMs);
    const retry =
      instance.lastKnownError === ErrorCode.UNKNOWN_SUBSCRIPTION_ID ||
      instance.lastKnownError === ErrorCode.UNSUPPORTED_COMPRESSION_TYPE;
    if (now - last < this.config.pushIntervalMs && !retry)
      return { errorCode: ErrorCode.THROTTLING_QUOTA_EXCEEDED, clientInstanceId: id, subscriptionId: 0 };
    instance.lastGetMs = now;
    instance.lastKnownError = ErrorCode.NONE;
    return { errorCode: ErrorCode.NONE, clientInstanceId: id, subscriptionId: instance.subscriptionId };
  }

  /**
   * The checks of PushTelemetry before its payload is read, in Kafka's order
   * (ClientMetricsManager.validatePushRequest); the instance on success.
   */
  checkPush(
    request: {
      clientInstanceId: string;
      subscriptionId: number;
      terminating: boolean;
      compressionType: number;
      metrics: Uint8Array;
    },
    clientId: string,
  ): PushCheck {
    if (RESERVED_IDS.has(request.clientInstanceId)) return { errorCode: ErrorCode.INVALID_REQUEST };
    const now = this.now();
    const instance = this.instance(request.clientInstanceId, clientId, now);
    const errorCode = this.pushError(instance, request, now);
    // Kafka records the terminating flag whatever the outcome (the finally of processPushTelemetryRequest).
    instance.terminating = request.terminating;
    instance.lastKnownError = errorCode;
    return errorCode === ErrorCode.NONE ? { errorCode, instance } : { errorCode };
  }

  private pushError(
    instance: Instance,
    request: Parameters<ClientTelemetry['checkPush']>[0],
    now: number,
  ): number {
    if (instance.terminating) return ErrorCode.INVALID_REQUEST;
    // ClientMetricsInstance.maybeUpdatePushRequestTimestamp: the first push after a subscription is
    // taken at once (clients add jitter to the interval), later ones a push interval apart.
    const accept =
      instance.lastGetMs > instance.lastPushMs || now - instance.lastPushMs >= this.config.pushIntervalMs;
    if (accept) instance.lastPushMs = now;
    else if (!request.terminating) return ErrorCode.THROTTLING_QUOTA_EXCEEDED;
    if (request.subscriptionId !== instance.subscriptionId) return ErrorCode.UNKNOWN_SUBSCRIPTION_ID;
    // Kafka accepts any CompressionType id (none included), not only those it advertises.
    if (
      !Number.isInteger(request.compressionType) ||
      request.compressionType < 0 ||
      request.compressionType > 4
    )
      return ErrorCode.UNSUPPORTED_COMPRESSION_TYPE;
    if (request.metrics.length > this.config.maxBytes) return ErrorCode.TELEMETRY_TOO_LARGE;
    return ErrorCode.NONE;
  }

  /**
   * Keeps the points of an accepted push as the instance's latest values; a terminating client's
   * series are dropped instead, as it will push no more.
   */
  record(instance: Instance, points: TelemetryPoint[]): void {
    if (instance.terminating) {
      instance.series.clear();
      return;
    }
    for (const p of points) {
      const key = `${p.name}\u0000${JSON.stringify(p.attributes)}`;
      const previous = instance.series.get(key);
      if (!previous && instance.series.size >= this.config.maxSeriesPerClient) continue;
      // A delta counter (a client that pushes deltas although asked for cumulative values) adds up.
      const value = p.delta && previous ? previous.value + p.value : p.value;
      instance.series.set(key, {
        ...p,
        value,
        clientId: instance.clientId,
        clientInstanceId: instance.id,
      });
    }
  }

  /** The latest values of every live client instance, expired ones dropped first. */
  series(): ClientSeries[] {
    this.expire(this.now());
    const all: ClientSeries[] = [];
    for (const instance of this.instances.values()) for (const s of instance.series.values()) all.push(s);
    return all;
  }

  /** Each metric name with live series once, with the type and description of its first series. */
  metricNames(): { name: string; type: 'counter' | 'gauge'; description: string }[] {
    const byName = new Map<string, { name: string; type: 'counter' | 'gauge'; description: string }>();
    for (const s of this.series())
      if (!byName.has(s.name)) byName.set(s.name, { name: s.name, type: s.type, description: s.description });
    return [...byName.values()];
  }

  /** Client instances known (each pushing or about to). */
  get size(): number {
    return this.instances.size;
  }

  /** Kafka's subscription id: CRC32C of the metrics and interval, XORed with the instance id's hash. */
  private subscriptionIdOf(id: string): number {
    // Java's Set.toString() of the metrics, then the interval (computeSubscriptionId).
    const text = `[${this.config.metrics.join(', ')}]${this.config.pushIntervalMs}`;
    const crc = crc32c(Buffer.from(text, 'utf8')) | 0;
    // Uuid.hashCode(): the xor of its halves, folded to 32 bits.
    const bytes = Buffer.from(id, 'base64url');
    const hash =
      bytes.length === 16
        ? bytes.readInt32BE(0) ^ bytes.readInt32BE(4) ^ bytes.readInt32BE(8) ^ bytes.readInt32BE(12)
        : 0;
    return crc ^ hash;
  }

  private newId(): string {
    // Kafka's Uuid.randomUuid (as a topic id's), and not one in use (generateNewClientId).
    for (;;) {
      const id = randomUuid();
      if (!RESERVED_IDS.has(id) && !this.instances.has(id)) return id;
    }
  }

  private instance(id: string, clientId: string, now: number): Instance {
    this.expire(now);
    let instance = this.instances.get(id);
    if (instance)
      this.instances.delete(id); // re-inserted last: the most recently heard from
    else {
      instance = {
        id,
        subscriptionId: this.subscriptionIdOf(id),
        clientId,
        lastGetMs: 0,
        lastPushMs: 0,
        lastSeenMs: now,
        terminating: false,
        lastKnownError: ErrorCode.NONE,
        series: new Map(),
      };
      while (this.instances.size >= this.config.maxClients) {
        const oldest = this.instances.keys().next().value;
        if (oldest === undefined) break;
        this.instances.delete(oldest);
      }
    }
    instance.clientId = clientId;
    instance.lastSeenMs = now;
    this.instances.set(id, instance);
    return instance;
  }

  private expire(now: number): void {
    // In last-heard order, so the first one still live ends the sweep.
    for (const [id, instance] of this.instances) {
      if (now - instance.lastSeenMs < this.expiryMs) break;
      this.instances.delete(id);
    }
  }
}
