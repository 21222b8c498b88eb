/**
 * Topic names claimed in the cluster store, so that brokers sharing a database agree on every change
 * of a topic even though `_kch_topics` is a ReplacingMergeTree (the latest row wins, and two brokers
 * writing at once both "win" in turn: two topic ids for one name, a partition count going back, a
 * config change undone by a partition raise written from an older view).
 *
 * Why in the storage and not in the broker's TopicManager: the storage's promises are what break
 * (createTopic "fails with TOPIC_EXISTS when a topic of that name exists"; a topic has one table), and
 * only the storage knows the steps in between (the table made before the row) that a second writer
 * must not interleave with. The claims also live in the storage's own cluster store; every broker over
 * the storage gets them without knowing.
 *
 * A claim is the ownership `t:<name>`. Its `epoch` is the version of the claim, raised by one at every
 * change, each a compare-and-set on it, so changes of one name are totally ordered. Its `instance`
 * says what the name is:
 * - `<topic id> <row>`: the topic with that id has the name, and `<row>` (JSON) is its whole row as
 *   `_kch_topics` should hold it (partition count, configs, creation time, kch's table). A change is
 *   made to the row read from the claim, never to a broker's view of it, so two changes at once both
 *   land (the loser of the compare-and-set makes its change again on the winner's row), and a
 *   partition count only goes up. `pending` while the creation is under way (its table not made yet).
 * - `<topic id>`: a claim of an older kch, whose epoch is the partition count; the next change turns
 *   it into the form above.
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
 * A creator that was only slow is fenced: it confirms its claim by compare-and-set before it writes its
 * row ({@link TopicClaims.confirm}), which fails once the claim was taken over.
 */
import { randomBytes } from 'node:crypto';
import { casBackoff, type Pause } from '../cas-backoff.js';
import { type ClusterStore, type Ownership, StorageError, type TopicRecord } from '../storage.js';
import type { OwnTable } from './topic-tables.js';

/** How long a claim may stay unchanged without its topic row before another creation takes it over. */
export const STALE_CLAIM_MS = 60_000;
/** Compare-and-set attempts before a change gives up (each loses only to another broker's change). */
const ATTEMPTS = 8;
const TOMBSTONE = 'delete:';

/** A topic's row as `_kch_topics` holds it: its record and kch's table (null for a bound topic). */
export interface TopicRow {
  readonly record: TopicRecord;
  readonly own: OwnTable | null;
}

/** What a claim says, parsed. */
export type Claim =
  | { readonly kind: 'tombstone'; readonly topicId: string; readonly version: number }
  /** `row` is null for a claim of an older kch (its version is the partition count). */
  | {
      readonly kind: 'topic';
      readonly topicId: string;
      readonly version: number;
      readonly row: TopicRow | null;
      readonly pending: boolean;
    };

/** The row part of a claim's instance. */
interface ClaimBody {
  partitionCount: number;
  configs: Record<string, string>;
  createdAt: number;
  own: OwnTable | null;
  pending?: true;
}

export function claimKey(name: string): string {
  return `t:${name}`;
}

export class TopicClaims {
  /** Claims seen without their topic (or tombstones with it), and since when: stale detection. */
  private readonly unsettled = new Map<string, { seen: string; since: number }>();

  constructor(
    private readonly staleMs = STALE_CLAIM_MS,
    /** How to wait between lost compare-and-sets (tests observe it instead of sleeping). */
    private readonly pause?: Pause,
  ) {}

  /**
   * Claims `topic.name` for `topic`, pending (the caller found no live topic of that name after
   * reading the topics again), and resolves the claim's version for {@link confirm}. TOPIC_EXISTS when
   * another creation holds it.
   */
  async create(cluster: ClusterStore, topic: TopicRecord): Promise<number> {
    const pending = encode({ record: topic, own: null }, true);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (attempt > 0) await casBackoff(attempt, this.pause);
      const current = await readOwnership(cluster, topic.name);
      if (current && parse(current).kind === 'topic' && !this.stale(current)) {
        throw new StorageError(
          'TOPIC_EXISTS',
          `topic ${topic.name} already exists (another broker is creating it)`,
        );
      }
      const version = (current?.epoch ?? 0) + 1;
      if (await cluster.setOwner(current?.epoch ?? null, claim(topic.name, pending, version))) {
        this.unsettled.delete(claimKey(topic.name));
        return version;
      }
    }
    throw contended(topic.name);
  }

  /**
   * Ends a creation: sets the topic's row (its table now made) in the claim at `version` by
   * compare-and-set, and resolves the new version; null when the claim is no longer this creation's
   * (it was taken over as stale while this creator was slow), which must then write nothing. The
   * change also restarts every other broker's stale clock, so the row's insert has the whole stale
   * time to land.
   */
  async confirm(cluster: ClusterStore, row: TopicRow, version: number): Promise<number | null> {
    const next = claim(row.record.name, encode(row), version + 1);
    return (await cluster.setOwner(version, next)) ? version + 1 : null;
  }

  /**
   * Changes the topic's row by compare-and-set on its claim: `change` gets the row the claim holds
   * (or `base`, the caller's view, for a topic without a claim of this form yet) and returns the new
   * row, or null when there is nothing to change. A lost compare-and-set is made again on the winner's
   * row. Resolves the row the topic has now and the claim's version when this call changed it.
   * UNKNOWN_TOPIC_OR_PARTITION when the topic was deleted (or its name taken by another) meanwhile.
   */
  async update(
    cluster: ClusterStore,
    base: TopicRow,
    change: (row: TopicRow) => TopicRow | null,
  ): Promise<{ row: TopicRow; version: number | null }> {
    const { name, topicId } = base.record;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (attempt > 0) await casBackoff(attempt, this.pause);
      const current = await readOwnership(cluster, name);
      const c = current ? parse(current) : null;
      if (c && (c.kind !== 'topic' || c.topicId !== topicId)) {
        throw new StorageError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
      }
      // An older kch's claim: its epoch is the partition count, which may be ahead of our view.
      const from = c?.row ?? {
        ...base,
        record: { ...base.record, partitionCount: Math.max(base.record.partitionCount, c?.version ?? 0) },
      };
      const next = change(from);
      if (!next) return { row: from, version: null };
      const version = (current?.epoch ?? 0) + 1;
      if (await cluster.setOwner(current?.epoch ?? null, claim(name, encode(next), version)))
        return { row: next, version };
    }
    throw contended(name);
  }

  /**
   * Marks the topic deleted (a tombstone): resolves false when another broker deleted it first, or
   * another topic has the name by now.
   */
  async delete(cluster: ClusterStore, topic: TopicRecord): Promise<boolean> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (attempt > 0) await casBackoff(attempt, this.pause);
      const current = await readOwnership(cluster, topic.name);
      // Random, so that two deletes setting the same epoch do not both read back what they wrote.
      const next = (epoch: number) =>
        claim(topic.name, `${TOMBSTONE}${topic.topicId}:${randomBytes(6).toString('hex')}`, epoch);
      // A topic created before names were claimed: its first claim is its tombstone.
      if (!current) {
        if (await cluster.setOwner(null, next(1))) return true;
        continue;
      }
      const c = parse(current);
      const ours = c.topicId === topic.topicId;
      if (!ours || (c.kind === 'tombstone' && !this.stale(current))) return false;
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

  /** What the name's claim says now, or undefined when it has none. */
  async read(cluster: ClusterStore, name: string): Promise<Claim | undefined> {
    const current = await readOwnership(cluster, name);
    return current && parse(current);
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

function encode(row: TopicRow, pending = false): string {
  const { topicId, partitionCount, configs, createdAt } = row.record;
  const body: ClaimBody = { partitionCount, configs, createdAt, own: row.own };
  if (pending) body.pending = true;
  return `${topicId} ${JSON.stringify(body)}`;
}

export function parse(o: Ownership): Claim {
  const name = o.key.slice(2);
  if (o.instance.startsWith(TOMBSTONE)) {
    const topicId = o.instance.slice(TOMBSTONE.length, o.instance.lastIndexOf(':'));
    return { kind: 'tombstone', topicId, version: o.epoch };
  }
  const space = o.instance.indexOf(' ');
  if (space < 0) return { kind: 'topic', topicId: o.instance, version: o.epoch, row: null, pending: false };
  const topicId = o.instance.slice(0, space);
  const body = JSON.parse(o.instance.slice(space + 1)) as ClaimBody;
  const { partitionCount, configs, createdAt, own } = body;
  const row = { record: { name, topicId, partitionCount, configs, createdAt }, own };
  return { kind: 'topic', topicId, version: o.epoch, row, pending: body.pending === true };
}

function claim(name: string, instance: string, epoch: number): Ownership {
  return { key: claimKey(name), nodeId: -1, instance, epoch, epochStarts: [] };
}

async function readOwnership(cluster: ClusterStore, name: string): Promise<Ownership | undefined> {
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
