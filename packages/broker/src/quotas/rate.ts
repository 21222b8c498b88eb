/**
 * How Kafka measures what a client quota bounds, after org.apache.kafka.common.metrics (SampledStat,
 * WindowedSum, Rate, Avg, Quota) and org.apache.kafka.server.quota.QuotaUtils, so that kch throttles when
 * and for as long as a Kafka broker would:
 *
 * - values are summed into samples of `windowMs` each; a sample is complete once `windowMs` has passed
 *   since it started, and the next value starts a new one; `samples + 1` samples are kept and the oldest
 *   slot is reused (the extra one is the sample that overlaps the start of the monitored window);
 * - a sample whose last value is `samples * windowMs` old or older is reset when measured;
 * - the rate is the sum over the time since the oldest sample started, counted as at least `samples - 1`
 *   whole windows, so a client's first second is measured over ten and a burst at start is allowed;
 * - a quota is violated when the rate after recording is above the bound, and the throttle time is what
 *   brings the rate back to the bound if nothing else were recorded: (rate - bound) / bound * window.
 */

/** Kafka's MetricConfig, as quotas use it: `samples` windows of `windowMs` (no event-count windows). */
export interface WindowConfig {
  readonly samples: number;
  readonly windowMs: number;
}

/** Kafka's default MetricConfig (2 samples of 30 s): what the throttle-time sensor averages over. */
export const DEFAULT_WINDOW: WindowConfig = { samples: 2, windowMs: 30_000 };

interface Sample {
  value: number;
  eventCount: number;
  startTimeMs: number;
  lastEventMs: number;
}

/** Kafka's SampledStat whose samples sum their values (WindowedSum and Avg update samples alike). */
class SampledSum {
  private readonly samples: Sample[] = [];
  private current = 0;

  record(config: WindowConfig, value: number, timeMs: number): void {
    let sample = this.currentSample(timeMs);
    if (timeMs - sample.startTimeMs >= config.windowMs) sample = this.advance(config, timeMs);
    sample.value += value;
    sample.eventCount += 1;
    sample.lastEventMs = timeMs;
  }

  /** The sum and count of the samples that are not obsolete at `now`. */
  measure(config: WindowConfig, now: number): { sum: number; count: number } {
    this.purgeObsoleteSamples(config, now);
    let sum = 0;
    let count = 0;
    for (const s of this.samples) {
      sum += s.value;
      count += s.eventCount;
    }
    return { sum, count };
  }

  /** When the oldest sample started (a first sample starts at `now` when there is none). */
  oldestStart(now: number): number {
    if (this.samples.length === 0) this.samples.push(newSample(now));
    let oldest = this.samples[0]!.startTimeMs;
    for (const s of this.samples) if (s.startTimeMs < oldest) oldest = s.startTimeMs;
    return oldest;
  }

  /** Resets every sample without a value in the last `samples` windows. */
  purgeObsoleteSamples(config: WindowConfig, now: number): void {
    const expireAge = config.samples * config.windowMs;
    for (const s of this.samples) if (now - s.lastEventMs >= expireAge) reset(s, now);
  }

  private currentSample(timeMs: number): Sample {
    if (this.samples.length === 0) this.samples.push(newSample(timeMs));
    return this.samples[this.current]!;
  }

  private advance(config: WindowConfig, timeMs: number): Sample {
    // One sample more than configured: the one that overlaps the start of the window (Kafka keeps it too).
    this.current = (this.current + 1) % (config.samples + 1);
    if (this.current >= this.samples.length) {
      const sample = newSample(timeMs);
      this.samples.push(sample);
      return sample;
    }
    const sample = this.samples[this.current]!;
    reset(sample, timeMs);
    return sample;
  }
}

function newSample(now: number): Sample {
  return { value: 0, eventCount: 0, startTimeMs: now, lastEventMs: now };
}

function reset(s: Sample, now: number): void {
  s.value = 0;
  s.eventCount = 0;
  s.startTimeMs = now;
  s.lastEventMs = now;
}

/** Kafka's Rate over a WindowedSum, per second. */
export class Rate {
  private readonly stat = new SampledSum();

  constructor(readonly config: WindowConfig) {}

  record(value: number, timeMs: number): void {
    this.stat.record(this.config, value, timeMs);
  }

  /** Units per second at `now`. */
  measure(now: number): number {
    const { sum } = this.stat.measure(this.config, now);
    return sum / (this.windowSize(now) / 1000);
  }

  /** The milliseconds the rate is measured over at `now` (Rate.windowSize). */
  windowSize(now: number): number {
    const { samples, windowMs } = this.config;
    this.stat.purgeObsoleteSamples(this.config, now);
    let elapsed = now - this.stat.oldestStart(now);
    const fullWindows = Math.floor(elapsed / windowMs);
    const minFullWindows = samples - 1;
    if (fullWindows < minFullWindows) elapsed += (minFullWindows - fullWindows) * windowMs;
    // A window of 0 ms (the very first record of a one-sample config) would divide by zero.
    return Math.max(elapsed, 1);
  }
}

/** Kafka's Avg: the mean of the values of the samples not obsolete, NaN when there are none. */
export class Avg {
  private readonly stat = new SampledSum();

  constructor(readonly config: WindowConfig = DEFAULT_WINDOW) {}

  record(value: number, timeMs: number): void {
    this.stat.record(this.config, value, timeMs);
  }

  measure(now: number): number {
    const { sum, count } = this.stat.measure(this.config, now);
    return count === 0 ? Number.NaN : sum / count;
  }
}

/** The largest int32: Kafka hands throttle times around as Java ints. */
const INT_MAX = 2 ** 31 - 1;

/**
 * QuotaUtils.throttleTime: with O the observed rate and T the bound over a window of W, the delay X such
 * that O * W / (W + X) = T, i.e. X = (O - T) / T * W, rounded as Java's Math.round does (half up), and at
 * most `maxThrottleTimeMs` (QuotaUtils.boundedThrottleTime; the request quota bounds it at one window,
 * the byte-rate quotas do not bound it).
 */
export function throttleTimeMs(
  observed: number,
  bound: number,
  windowSizeMs: number,
  maxThrottleTimeMs = Number.POSITIVE_INFINITY,
): number {
  const ms = Math.round(((observed - bound) / bound) * windowSizeMs);
  return Math.min(ms, maxThrottleTimeMs, INT_MAX);
}
