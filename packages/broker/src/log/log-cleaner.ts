/**
 * The log cleaner: compacts the partitions this broker leads of every topic whose cleanup.policy
 * holds `compact`, as Kafka's LogCleaner does (docs/compaction.md), through Storage.compact.
 *
 * Every log.cleaner.backoff.ms it looks at each such partition and cleans it when
 * - the share of the log not cleaned yet (offsets past the last cleaning, over the whole log) is at
 *   least min.cleanable.dirty.ratio, or
 * - records have waited longer than max.compaction.lag.ms since the broker first saw them uncleaned,
 *   or
 * - tombstones have been cleaned past delete.retention.ms ago and may go now.
 * A cleaning stops at the last stable offset (kch has no segments: this is its active segment) and
 * at the first record younger than min.compaction.lag.ms. A tombstone stays delete.retention.ms
 * after the first cleaning that passed it (KIP-534's delete horizon): the cleaner remembers when each
 * cleaning ended where, and stores it (Storage.cleanerStates) so that a restart, or a new leader,
 * reads it back at its first look. Over a storage without that store a restart starts the wait over,
 * which keeps tombstones longer, never shorter.
 */
import type { CleanerStateStore, CompactionResult } from '@kch/storage';
import type { EventEmitter } from 'eventemitter3';
import type { BrokerEvents } from '../events.js';
import type { Logger } from '../logger.js';
import { topicConfigValue } from '../topic-configs.js';
import type { PartitionLog } from './partition-log.js';
import type { TopicManager } from './topics.js';

/** What the cleaner remembers of a partition between looks. */
interface Cleaning {
  /** The topic's id (a stored state of a deleted topic of the same name is not this one's). */
  topicId: string;
  /** Where the last cleaning stopped: offsets from here on are dirty. */
  cleanedTo: number;
  /** When the broker first saw dirty records since the last cleaning (max.compaction.lag.ms). */
  dirtySince: number;
  /** Cleanings that ended where and when, oldest first (the tombstones' delete horizon). */
  passes: { cleanedTo: number; at: number }[];
  /** The tombstone horizon the last cleaning used. */
  tombstonesBefore: number;
  /** The last failure's message, logged once per streak. */
  failing: string | null;
}

export interface LogCleanerOptions {
  topics: TopicManager;
  /** The broker's topic config defaults, read at each look. */
  topicDefaults: () => Record<string, string>;
  backoffMs: number;
  logger: Logger;
  events: EventEmitter<BrokerEvents>;
  /** The clock the scheduling rules read (Date.now; a test holds its own to step through the lags). */
  now?: () => number;
  /** Where the state persists across restarts and leaders (Storage.cleanerStates); memory when unset. */
  states?: CleanerStateStore;
}

export class LogCleaner {
  private readonly state = new WeakMap<PartitionLog, Cleaning>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly o: LogCleanerOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.run(), this.o.backoffMs);
    this.timer.unref?.();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One look at every compacted partition; a look still running is joined, never doubled. */
  run(): Promise<void> {
    this.running ??= this.look().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async look(): Promise<void> {
    const defaults = this.o.topicDefaults();
    for (const topic of this.o.topics.list()) {
      const config = (key: string) => topicConfigValue(topic.record.configs, defaults, key) ?? '';
      if (!config('cleanup.policy').split(',').includes('compact')) continue;
      const limits = {
        minLagMs: Number(config('min.compaction.lag.ms')),
        maxLagMs: Number(config('max.compaction.lag.ms')),
        deleteRetentionMs: Number(config('delete.retention.ms')),
        dirtyRatio: Number(config('min.cleanable.dirty.ratio')),
      };
      for (const log of topic.logs) {
        if (!log.isLeader) continue;
        await this.clean(log, topic.record.topicId, limits).catch((e: unknown) => this.failed(log, e));
      }
    }
  }

  private async clean(
    log: PartitionLog,
    topicId: string,
    limits: { minLagMs: number; maxLagMs: number; deleteRetentionMs: number; dirtyRatio: number },
  ): Promise<void> {
    await log.open();
    const now = (this.o.now ?? Date.now)();
    let c = this.state.get(log);
    if (!c) {
      c = await this.load(log, topicId, now);
      this.state.set(log, c);
    }
    const start = log.logStartOffset;
    const end = log.lastStableOffset;
    const dirty = end - Math.max(c.cleanedTo, start);
    if (dirty <= 0) c.dirtySince = now;
    const tombstonesBefore = horizon(c, now, limits.deleteRetentionMs);
    const due =
      (dirty > 0 && (dirty / (end - start) >= limits.dirtyRatio || now - c.dirtySince >= limits.maxLagMs)) ||
      tombstonesBefore > c.tombstonesBefore;
    if (!due) return;
    const began = performance.now();
    const result: CompactionResult | null = await log.compact({
      maxTimestamp: now - limits.minLagMs,
      tombstonesBefore,
    });
    if (!result) return;
    c.failing = null;
    c.tombstonesBefore = tombstonesBefore;
    if (result.cleanedTo > c.cleanedTo) {
      c.cleanedTo = result.cleanedTo;
      c.passes.push({ cleanedTo: result.cleanedTo, at: now });
      c.dirtySince = now;
    }
    const { cleanedTo, passes } = c;
    await this.o.states?.put(
      { topic: log.topic, partition: log.partition },
      { topicId, cleanedTo, tombstonesBefore, passes },
    );
    this.o.events.emit('compaction', {
      topic: log.topic,
      partition: log.partition,
      cleanedTo: result.cleanedTo,
      removed: result.removed,
      tombstonesBefore,
      durationMs: performance.now() - began,
    });
  }

  /**
   * What is known of the partition's earlier cleanings: the stored state, or none (the whole log is
   * dirty). Records are counted dirty from now on either way: when they became so is not stored.
   */
  private async load(log: PartitionLog, topicId: string, now: number): Promise<Cleaning> {
    const fresh = {
      topicId,
      cleanedTo: log.logStartOffset,
      dirtySince: now,
      passes: [],
      tombstonesBefore: 0,
      failing: null,
    };
    const stored = await this.o.states?.get({ topic: log.topic, partition: log.partition });
    if (!stored || stored.topicId !== topicId) return fresh;
    return {
      ...fresh,
      cleanedTo: stored.cleanedTo,
      passes: stored.passes,
      tombstonesBefore: stored.tombstonesBefore,
    };
  }

  private failed(log: PartitionLog, e: unknown): void {
    const c = this.state.get(log);
    const message = (e as Error).message;
    if (c?.failing === message) return;
    if (c) c.failing = message;
    this.o.logger.warn('compaction failed', { topic: log.topic, partition: log.partition, error: message });
  }
}

/**
 * The offset below which tombstones may go: the end of the newest cleaning that ended at least
 * `retentionMs` ago. Older passes are forgotten, as they can no longer raise it.
 */
function horizon(c: Cleaning, now: number, retentionMs: number): number {
  let best = 0;
  let ripe = 0;
  for (let i = 0; i < c.passes.length; i++) {
    if (c.passes[i]!.at + retentionMs > now) break;
    best = c.passes[i]!.cleanedTo;
    ripe = i;
  }
  if (ripe > 0) c.passes.splice(0, ripe);
  return Math.max(best, c.tombstonesBefore);
}
