/**
 * Topic names claimed in the cluster store, so that brokers sharing a database agree on every change
 * of a topic's identity and size even though `_kch_topics` is a ReplacingMergeTree (the latest row wins,
 * and two brokers writing at once both "win" in turn: two topic ids for one name, or a partition count
 * going back).
 *
 * Why in the storage and not in the broker's TopicManager: the storage's promises are what break
 * (createTopic "fails with TOPIC_EXISTS when a topic of that name exists"; a topic has one table), and
 * only the storage knows the steps in between (the table made before the row) that a second writer
 * must not interleave with. The claims also live in the storage's own cluster store; every broker over
 * the storage gets them without knowing.
 *
 * A claim is the ownership `t:<name>`. Its `instance` says what the name is:
 * - `<topic id>`: the topic with that id has the name, or is being created under it; its `epoch` is the
 *   partition count, raised only by compare-and-set, so counts are ordered even when rows land late.
 * - `delete:<topic id>:<random>`: a tombstone, left when a topic is deleted; the name is free. Deleting
 *   marks it first, so of two deletes racing one wins the compare-and-set and the other is told the
 *   topic is unknown. The tombstone stays (rather than being dropped) so that no late drop of one
 *   deletion can remove the claim of a topic created after it; a creation takes it over by
 *   compare-and-set. One row per deleted name is what that costs.
 * `nodeId` is -1: a claim is the storage's, not a broker's.
 *
 * A claim whose topic never appears (its creator died between claiming and storing the row), or a
 * tombstone whose topic stays (its deleter died), is taken over once this storage has seen it unchanged
 * for {@link STALE_CLAIM_MS}: measured by this process's clock only, so brokers' clocks need not agree.
 */
import { randomBytes } from 'node:crypto';
import { type ClusterStore, type Ownership, StorageError, type TopicRecord } from '../storage.js';

/** How long a claim may stay unchanged without its topic row before another creation takes it over. */
export const STALE_CLAIM_MS = 60_000;
/** Compare-and-set attempts before a change gives up (each loses only to another broker's change). */
const ATTEMPTS = 8;
const TOMBSTONE = 'delete:';

export function claimKey(name: string): string {
  return `t:${name}`;
}

export class TopicClaims {
  /** Claims seen without their topic (or tombstones with it), and since when: stale detection. */
  private readonly unsettled = new Map<string, { seen: string; since: number }>();

  constructor(private readonly staleMs = STALE_CLAIM_MS) {}

  /**
   * Claims `topic.name` for `topic` (the caller found no live topic of that name after reading the
   * topics again). TOPIC_EXISTS when another creation holds it.
   */
  async create(cluster: ClusterStore, topic: TopicRecord): Promise<void> {
    const mine = claim(topic.name, topic.topicId, topic.partitionCount);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const current = await read(cluster, topic.name);
      let expected: number | null;
      if (!current) expected = null;
      else if (current.instance.startsWith(TOMBSTONE)) expected = current.epoch;
      else if (this.stale(current)) expected = current.epoch;
      else {
        throw new StorageError(
          'TOPIC_EXISTS',
          `topic ${topic.name} already exists (another broker is creating it)`,
        );
      }
      if (await cluster.setOwner(expected, mine)) {
        this.unsettled.delete(mine.key);
        return;
      }
    }
    throw contended(topic.name);
  }

  /**
   * Marks the topic deleted (a tombstone): resolves false when another broker deleted it first, or
   * another topic has the name by now.
   */
  async delete(cluster: ClusterStore, topic: TopicRecord): Promise<boolean> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const current = await read(cluster, topic.name);
      // Random, so that two deletes setting the same epoch do not both read back what they wrote.
      const next = (epoch: number) =>
        claim(topic.name, `${TOMBSTONE}${topic.topicId}:${randomBytes(6).toString('hex')}`, epoch);
      // A topic created before names were claimed: its first claim is its tombstone.
      if (!current) {
        if (await cluster.setOwner(null, next(topic.partitionCount + 1))) return true;
        continue;
      }
      const deleting = current.instance.startsWith(`${TOMBSTONE}${topic.topicId}:`);
      if (current.instance !== topic.topicId && !(deleting && this.stale(current))) return false;
      if (await cluster.setOwner(current.epoch, next(current.epoch + 1))) {
        this.unsettled.delete(current.key);
        return true;
      }
    }
    throw contended(topic.name);
  }

  /** Gives a claim back after the creation failed (its table refused): the name is free again. */
  async release(cluster: ClusterStore, topic: TopicRecord): Promise<void> {
    await this.delete(cluster, topic).catch(() => {});
  }

  /**
   * Raises the claimed partition count to `count` and resolves the count the topic has now: `count`,
   * or more when another broker raised it as far or further first. UNKNOWN_TOPIC_OR_PARTITION when the
   * topic was deleted meanwhile.
   */
  async grow(cluster: ClusterStore, topic: TopicRecord, count: number): Promise<number> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const current = await read(cluster, topic.name);
      if (current && current.instance !== topic.topicId) {
        throw new StorageError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic.name} does not exist`);
      }
      if (current && current.epoch >= count) return current.epoch;
      if (await cluster.setOwner(current?.epoch ?? null, claim(topic.name, topic.topicId, count)))
        return count;
    }
    throw contended(topic.name);
  }

  /** The partition count claimed for the topic, or null when it has no claim of its own. */
  async claimedCount(cluster: ClusterStore, topic: TopicRecord): Promise<number | null> {
    const current = await read(cluster, topic.name);
    return current?.instance === topic.topicId ? current.epoch : null;
  }

  /** Whether this claim has been seen unchanged for the stale time (and notes it as seen). */
  private stale(o: Ownership): boolean {
    const seen = `${o.epoch}/${o.instance}`;
    const now = Date.now();
    const known = this.unsettled.get(o.key);
    if (known?.seen !== seen) {
      this.unsettled.set(o.key, { seen, since: now });
      return this.staleMs <= 0;
    }
    return now - known.since >= this.staleMs;
  }
}

function claim(name: string, instance: string, epoch: number): Ownership {
  return { key: claimKey(name), nodeId: -1, instance, epoch, epochStarts: [] };
}

async function read(cluster: ClusterStore, name: string): Promise<Ownership | undefined> {
  const key = claimKey(name);
  return (await cluster.owners()).find((o) => o.key === key);
}

function contended(name: string): StorageError {
  return new StorageError(
    'UNAVAILABLE',
    `topic ${name} kept being changed by other brokers; the client may retry`,
    true,
  );
}
