/**
 * One client quota (produce bytes, fetch bytes or request time), as Kafka's ClientQuotaManager keeps it:
 * a rate sensor per metric tags (user, client-id) bounded by the tags' quota, and a throttle-time sensor
 * averaging the throttles it decided. Sensors unused for an hour are dropped, as Kafka expires them.
 */
import type { QuotaType } from './entities.js';
import { QuotaCallback, type QuotaTags, UNLIMITED } from './quota-callback.js';
import { Avg, Rate, throttleTimeMs, type WindowConfig } from './rate.js';

/** Kafka's InactiveSensorExpirationTimeSeconds. */
const INACTIVE_SENSOR_EXPIRATION_MS = 3_600_000;

/** The sensors of one set of metric tags. */
interface ClientSensors {
  readonly tags: QuotaTags;
  readonly rate: Rate;
  /** The quota of the tags, re-read when quotas change (Kafka updates the metric's config). */
  bound: number;
  readonly throttleTime: Avg;
  lastRecordMs: number;
}

/** What /metrics shows of one client's sensors. */
export interface ClientQuotaSample {
  readonly user: string;
  readonly clientId: string;
  /** Bytes per second, or percent of one thread for the request quota, over the quota window. */
  readonly rate: number;
  /** The mean throttle time of the last 60 s (Kafka's throttle-time), NaN when none. */
  readonly throttleTimeMs: number;
}

export class ClientQuotaManager {
  private callback = QuotaCallback.NONE;
  /** By user tag, then client-id tag. */
  private readonly sensors = new Map<string, Map<string, ClientSensors>>();
  private lastExpiryMs = 0;
  /** Responses throttled by this quota since start. */
  throttled = 0;

  constructor(
    readonly type: QuotaType,
    private readonly window: WindowConfig,
    /** Kafka bounds the request quota's throttle at one window, not the byte rates'. */
    private readonly maxThrottleTimeMs: number,
    private readonly now: () => number,
  ) {}

  /** Whether some entity sets this quota: when not, nothing is recorded (Kafka's quotasEnabled). */
  get enabled(): boolean {
    return this.callback.enabled;
  }

  /** Applies the configured quotas; existing sensors keep their samples and take their tags' new bound. */
  configure(callback: QuotaCallback): void {
    this.callback = callback;
    for (const byClient of this.sensors.values())
      for (const s of byClient.values()) s.bound = this.boundOf(s.tags);
  }

  /**
   * Records `value` for the client and returns how long to throttle it, 0 when its rate stays within
   * its quota (recordAndGetThrottleTimeMs). Only called when the quota is enabled.
   */
  recordAndGetThrottleTimeMs(user: string, clientId: string, value: number, timeMs: number): number {
    const s = this.sensorsOf(user, clientId, timeMs);
    s.rate.record(value, timeMs);
    s.lastRecordMs = timeMs;
    const observed = s.rate.measure(timeMs);
    if (observed <= s.bound) return 0;
    return throttleTimeMs(observed, s.bound, s.rate.windowSize(timeMs), this.maxThrottleTimeMs);
  }

  /**
   * Takes back a value recorded for a response that is not sent after all (a throttled Fetch is answered
   * empty): Kafka records its negation, which brings the window's sum back.
   */
  unrecord(user: string, clientId: string, value: number, timeMs: number): void {
    this.sensorsOf(user, clientId, timeMs).rate.record(-value, timeMs);
  }

  /**
   * The most one response can add without being throttled for sure (getMaxValueInQuotaWindow): the bound
   * over all but the current window. Fetch caps its size with it.
   */
  maxValueInQuotaWindow(user: string, clientId: string): number {
    if (!this.enabled) return Number.MAX_VALUE;
    const limit = this.callback.quotaLimit(this.callback.metricTags(user, clientId));
    if (limit === undefined) return Number.MAX_VALUE;
    return limit * (this.window.samples - 1) * (this.window.windowMs / 1000);
  }

  /** Notes that the client is throttled for `ms` by this quota (ClientQuotaManager.throttle). */
  throttle(user: string, clientId: string, ms: number): void {
    if (ms <= 0) return;
    const now = this.now();
    this.sensorsOf(user, clientId, now).throttleTime.record(ms, now);
    this.throttled++;
  }

  /** The bound that applies to the client (Kafka's quota(user, clientId), for tests and tools). */
  quota(user: string, clientId: string): number {
    return this.boundOf(this.callback.metricTags(user, clientId));
  }

  /** Every client's sensors, as /metrics shows them. */
  samples(): ClientQuotaSample[] {
    const now = this.now();
    this.expire(now);
    const out: ClientQuotaSample[] = [];
    for (const byClient of this.sensors.values())
      for (const s of byClient.values()) {
        out.push({
          user: s.tags.user,
          clientId: s.tags.clientId,
          rate: s.rate.measure(now),
          throttleTimeMs: s.throttleTime.measure(now),
        });
      }
    return out;
  }

  private boundOf(tags: QuotaTags): number {
    return this.callback.quotaLimit(tags) ?? UNLIMITED;
  }

  private sensorsOf(user: string, clientId: string, now: number): ClientSensors {
    const tags = this.callback.metricTags(user, clientId);
    let byClient = this.sensors.get(tags.user);
    let s = byClient?.get(tags.clientId);
    if (s) return s;
    this.expire(now);
    if (!byClient) {
      byClient = new Map();
      this.sensors.set(tags.user, byClient);
    }
    s = {
      tags,
      rate: new Rate(this.window),
      bound: this.boundOf(tags),
      throttleTime: new Avg(),
      lastRecordMs: now,
    };
    byClient.set(tags.clientId, s);
    return s;
  }

  /** Drops the sensors of clients idle for an hour, looked at most once a minute. */
  private expire(now: number): void {
    if (now - this.lastExpiryMs < 60_000) return;
    this.lastExpiryMs = now;
    for (const [user, byClient] of this.sensors) {
      for (const [clientId, s] of byClient)
        if (now - s.lastRecordMs >= INACTIVE_SENSOR_EXPIRATION_MS) byClient.delete(clientId);
      if (byClient.size === 0) this.sensors.delete(user);
    }
  }
}
