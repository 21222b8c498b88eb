/**
 * Claims of topic names (../src/clickhouse/topic-claims.ts) over the in-memory cluster store, which the
 * contract suite holds the KeeperMap one to: what two brokers' storages decide between them, and the
 * take-over of claims left by a broker that died mid-change (with a short stale time).
 */
import { describe, expect, it } from 'vitest';
import { claimKey, TopicClaims, type TopicRow } from '../src/clickhouse/topic-claims.js';
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
    expect(await new TopicClaims(STALE_MS).read(store, 'x')).toMatchObject({
      kind: 'topic',
      topicId: 'A',
      pending: true,
      row: { record: { partitionCount: 2 } },
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

  it('fences a creator that was only slow: its confirmation fails once the claim was taken over', async () => {
    const store = new MemoryClusterStore();
    const a = new TopicClaims(STALE_MS);
    const b = new TopicClaims(STALE_MS);
    const slow = await a.create(store, topic('x', 'A'));
    await b.create(store, topic('x', 'B')).catch(() => {});
    await pause(STALE_MS + 10);
    const taken = await b.create(store, topic('x', 'B'));
    expect(await a.confirm(store, row(topic('x', 'A')), slow)).toBeNull();
    expect(await b.confirm(store, row(topic('x', 'B')), taken)).toBe(taken + 1);
    expect(await b.read(store, 'x')).toMatchObject({ topicId: 'B', pending: false });
    // Nor can the slow creator change the topic that has the name now.
    expect(await kind(a.update(store, row(topic('x', 'A')), (r) => r))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('lets one of two deletions win, and a later creation take the tombstone over', async () => {
    const store = new MemoryClusterStore();
    const t = topic('x', 'A', 3);
    await new TopicClaims(STALE_MS).create(store, t);
    const [a, b] = [new TopicClaims(STALE_MS), new TopicClaims(STALE_MS)];
    const won = await Promise.all([a.delete(store, t), b.delete(store, t)]);
    expect(won.sort()).toEqual([false, true]);
    expect(await kind(b.update(store, row(t), grow(5)))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(await kind(b.create(store, topic('x', 'C')))).toBe('ok');
  });

  it('claims a topic stored before names were claimed when it is deleted or changed', async () => {
    const store = new MemoryClusterStore();
    const claims = new TopicClaims(STALE_MS);
    expect((await claims.update(store, row(topic('old', 'A', 2)), grow(4))).row.record.partitionCount).toBe(
      4,
    );
    expect(await claims.read(store, 'old')).toMatchObject({
      version: 1,
      row: { record: { partitionCount: 4 } },
    });
    expect(await claims.delete(store, topic('legacy', 'L', 1))).toBe(true);
    expect(await claims.delete(store, topic('legacy', 'L', 1))).toBe(false);
  });

  it("takes an older kch's claim (its epoch the partition count) as the count to build on", async () => {
    const store = new MemoryClusterStore();
    const old = { key: claimKey('x'), nodeId: -1, instance: 'A', epoch: 3, epochStarts: [] };
    await store.setOwner(null, old);
    const claims = new TopicClaims(STALE_MS);
    const { row: now, version } = await claims.update(store, row(topic('x', 'A', 1)), configs({ a: '1' }));
    expect(now.record).toMatchObject({ partitionCount: 3, configs: { a: '1' } });
    expect(version).toBe(4);
  });

  it('raises partition counts only: of two raises the larger stays', async () => {
    const store = new MemoryClusterStore();
    const t = topic('x', 'A', 1);
    const [a, b] = [new TopicClaims(STALE_MS), new TopicClaims(STALE_MS)];
    await a.confirm(store, row(t), await a.create(store, t));
    await Promise.all([a.update(store, row(t), grow(4)), b.update(store, row(t), grow(3))]);
    expect(await a.read(store, 'x')).toMatchObject({ row: { record: { partitionCount: 4 } } });
    expect((await b.update(store, row(t), grow(2))).version).toBeNull();
  });

  it('a config change and a partition raise at once, each from an old view, both land', async () => {
    const store = new MemoryClusterStore();
    const t = topic('x', 'A', 1);
    const [a, b] = [new TopicClaims(STALE_MS), new TopicClaims(STALE_MS)];
    await a.confirm(store, row(t), await a.create(store, t));
    await Promise.all([
      a.update(store, row(t), configs({ 'retention.ms': '1000' })),
      b.update(store, row(t), grow(6)),
      a.update(store, row(t), configs({ 'retention.ms': '2000' })),
    ]);
    const now = await a.read(store, 'x');
    expect(now).toMatchObject({ row: { record: { partitionCount: 6 } } });
    expect(['1000', '2000']).toContain(now?.kind === 'topic' && now.row?.record.configs['retention.ms']);
    // Every change bumped the version once, after the confirmation.
    expect(now?.version).toBe(5);
  });
});

function row(record: TopicRecord): TopicRow {
  return { record, own: null };
}

function grow(partitionCount: number): (r: TopicRow) => TopicRow | null {
  return (r) =>
    r.record.partitionCount >= partitionCount ? null : { ...r, record: { ...r.record, partitionCount } };
}

function configs(c: Record<string, string>): (r: TopicRow) => TopicRow {
  return (r) => ({ ...r, record: { ...r.record, configs: c } });
}
