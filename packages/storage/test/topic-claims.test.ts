/**
 * Claims of topic names (../src/clickhouse/topic-claims.ts) over the in-memory cluster store, which the
 * contract suite holds the KeeperMap one to: what two brokers' storages decide between them, and the
 * take-over of claims left by a broker that died mid-change (with a short stale time).
 */
import { describe, expect, it } from 'vitest';
import { claimKey, TopicClaims } from '../src/clickhouse/topic-claims.js';
import { MemoryClusterStore, StorageError, type TopicRecord } from '../src/index.js';

const STALE_MS = 50;

function topic(name: string, topicId: string, partitionCount = 1): TopicRecord {
  return { name, topicId, partitionCount, configs: {}, createdAt: 0 };
}

async function kind(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof StorageError) return e.kind;
    throw e;
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('topic claims', () => {
  it('gives a name to one creation; the other is told it exists', async () => {
    const store = new MemoryClusterStore();
    const [a, b] = [new TopicClaims(STALE_MS), new TopicClaims(STALE_MS)];
    const results = await Promise.all([
      kind(a.create(store, topic('x', 'A'))),
      kind(b.create(store, topic('x', 'B'))),
    ]);
    expect(results.sort()).toEqual(['TOPIC_EXISTS', 'ok']);
  });

  it('refuses a second creation while the first holds the name', async () => {
    const store = new MemoryClusterStore();
    await new TopicClaims(STALE_MS).create(store, topic('x', 'A', 2));
    expect(await kind(new TopicClaims(STALE_MS).create(store, topic('x', 'B')))).toBe('TOPIC_EXISTS');
    expect((await store.owners()).find((o) => o.key === claimKey('x'))).toMatchObject({
      instance: 'A',
      epoch: 2,
    });
  });

  it('takes over a claim left unchanged past the stale time (its creator died before its row)', async () => {
    const store = new MemoryClusterStore();
    await new TopicClaims(STALE_MS).create(store, topic('x', 'A'));
    const b = new TopicClaims(STALE_MS);
    expect(await kind(b.create(store, topic('x', 'B')))).toBe('TOPIC_EXISTS');
    await pause(STALE_MS + 10);
    expect(await kind(b.create(store, topic('x', 'B')))).toBe('ok');
  });

  it('lets one of two deletions win, and a later creation take the tombstone over', async () => {
    const store = new MemoryClusterStore();
    const t = topic('x', 'A', 3);
    await new TopicClaims(STALE_MS).create(store, t);
    const [a, b] = [new TopicClaims(STALE_MS), new TopicClaims(STALE_MS)];
    const won = await Promise.all([a.delete(store, t), b.delete(store, t)]);
    expect(won.sort()).toEqual([false, true]);
    expect(await kind(b.grow(store, t, 5))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(await kind(b.create(store, topic('x', 'C')))).toBe('ok');
  });

  it('claims a topic stored before names were claimed when it is deleted or grown', async () => {
    const store = new MemoryClusterStore();
    const claims = new TopicClaims(STALE_MS);
    expect(await claims.grow(store, topic('old', 'A', 2), 4)).toBe(4);
    expect(await claims.claimedCount(store, topic('old', 'A'))).toBe(4);
    expect(await claims.delete(store, topic('legacy', 'L', 1))).toBe(true);
    expect(await claims.delete(store, topic('legacy', 'L', 1))).toBe(false);
  });

  it('raises partition counts only: of two raises the larger stays', async () => {
    const store = new MemoryClusterStore();
    const t = topic('x', 'A', 1);
    const [a, b] = [new TopicClaims(STALE_MS), new TopicClaims(STALE_MS)];
    await a.create(store, t);
    const counts = await Promise.all([a.grow(store, t, 4), b.grow(store, t, 3)]);
    expect(await a.claimedCount(store, t)).toBe(4);
    // Each is told the count the topic has: its own, or the larger one set first.
    expect(counts.every((c) => c === 4 || c === 3)).toBe(true);
    expect(await b.grow(store, t, 2)).toBe(4);
  });
});
