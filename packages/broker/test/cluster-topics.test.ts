/**
 * One topic catalog for several brokers: two TopicManagers over one storage, as two brokers over one
 * database. On memory storage (with a MemoryClusterStore, so the managers know others share it) and on
 * two ClickHouse storages over one shared ClickHouse whose Keeper is a ZooKeeper (the KeeperMap claims
 * of topic names; skipped without ZooKeeper here, failing under CI).
 */
import { KafkaProtocolError } from '@kch/protocol';
import {
  type ClickHouseStorage,
  type ClickHouseTransport,
  clickhouseStorage,
  MemoryClusterStore,
  memoryStorage,
  type Storage,
} from '@kch/storage';
import { EventEmitter } from 'eventemitter3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type SharedClickHouse, startSharedClickHouse } from '../../storage/test/shared-clickhouse.js';
import { startZooKeeper, type ZooKeeper, zookeeperRequirement } from '../../storage/test/zookeeper.js';
import type { BrokerEvents } from '../src/events.js';
import { TopicManager } from '../src/log/topics.js';
import { skipEachUnless } from './helpers/skip.js';

interface Manager {
  topics: TopicManager;
  created: string[];
  deleted: { topic: string; via: string }[];
}

async function manager(storage: Storage): Promise<Manager> {
  const events = new EventEmitter<BrokerEvents>();
  const m: Manager = { topics: new TopicManager(storage, 1 << 20, events), created: [], deleted: [] };
  events.on('topic-created', (e) => m.created.push(e.topic));
  events.on('topic-deleted', (e) => m.deleted.push({ topic: e.topic, via: e.by.via }));
  await m.topics.load();
  return m;
}

/** The error code a rejected change answers with. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof KafkaProtocolError) return String(e.code);
    throw e;
  }
}

const codes = { exists: 36, unknown: 3 };

/** The suite, over two storages of one database (the same object for memory). */
function sharedCatalogSuite(storages: () => [Storage, Storage]): void {
  let a: Manager;
  let b: Manager;
  let n = 0;
  let name: string;

  beforeAll(async () => {
    const [sa, sb] = storages();
    a = await manager(sa);
    b = await manager(sb);
  });

  // Each test its own topic names: the storages are shared by the whole file.
  const fresh = () => {
    name = `t${++n}-${Date.now()}`;
    return name;
  };

  it('sees a topic another broker created, on a lookup that missed, with its id', async () => {
    const created = await a.topics.create(fresh(), 2, {});
    expect(await b.topics.lookup(name)).toMatchObject({ record: { topicId: created!.record.topicId } });
    expect(await b.topics.lookupById(created!.record.topicId)).toBe(b.topics.get(name));
    // Auto-creation uses the topic that exists.
    expect((await b.topics.getOrCreate(name, 5)).record).toMatchObject({
      topicId: created!.record.topicId,
      partitionCount: 2,
    });
    expect(b.created).not.toContain(name);
  });

  it('keeps the partition logs of unchanged topics, adds grown partitions, replaces configs', async () => {
    await a.topics.create(fresh(), 1, {});
    const topic = (await b.topics.lookup(name))!;
    const log0 = topic.logs[0];
    await a.topics.setPartitionCount(name, 3);
    await a.topics.setConfigs(name, { 'retention.ms': '60000' });
    await b.topics.refresh();
    expect(b.topics.get(name)).toBe(topic);
    expect(topic.logs[0]).toBe(log0);
    expect(topic.logs).toHaveLength(3);
    expect(topic.record).toMatchObject({ partitionCount: 3, configs: { 'retention.ms': '60000' } });
    expect(b.topics.log(name, 2)).toBe(topic.logs[2]);
  });

  it('drops a topic another broker deleted, once, with its logs closed', async () => {
    await a.topics.create(fresh(), 1, {});
    const log = (await b.topics.lookup(name))!.logs[0]!;
    // A closed log wakes its waiters (long-polling fetches), which then find the topic gone.
    let woken = false;
    log.onAppend(() => {
      woken = true;
    });
    await a.topics.delete(name);
    await b.topics.refresh();
    await b.topics.refresh();
    expect(b.topics.get(name)).toBeUndefined();
    expect(b.deleted.filter((d) => d.topic === name)).toEqual([{ topic: name, via: 'another broker' }]);
    expect(woken).toBe(true);
  });

  it('one topic of two creations of a name at once; the loser answers TOPIC_ALREADY_EXISTS', async () => {
    fresh();
    const results = await Promise.all([
      outcome(a.topics.create(name, 1, {})),
      outcome(b.topics.create(name, 1, {})),
    ]);
    expect(results.sort()).toEqual([String(codes.exists), 'ok'].sort());
    await Promise.all([a.topics.refresh(), b.topics.refresh()]);
    expect(a.topics.get(name)!.record.topicId).toBe(b.topics.get(name)!.record.topicId);
  });

  it('auto-creations of one name at once use one topic', async () => {
    fresh();
    const [ta, tb] = await Promise.all([a.topics.getOrCreate(name, 1), b.topics.getOrCreate(name, 1)]);
    expect(ta.record.topicId).toBe(tb.record.topicId);
    const stored = (await storages()[1].listTopics()).filter((t) => t.name === name);
    expect(stored.map((t) => t.topicId)).toEqual([ta.record.topicId]);
  });

  it('of two deletions at once, the second answers UNKNOWN_TOPIC_OR_PARTITION; the name can be made again', async () => {
    await a.topics.create(fresh(), 1, {});
    await b.topics.lookup(name);
    const results = await Promise.all([outcome(a.topics.delete(name)), outcome(b.topics.delete(name))]);
    expect(results.sort()).toEqual([String(codes.unknown), 'ok'].sort());
    // The loser too has let go of the topic: the winner's deletion row may land after its answer.
    for (const m of [a, b]) expect(m.topics.list().map((t) => t.record.name)).not.toContain(name);
    const again = await b.topics.create(name, 2, {});
    expect((await a.topics.lookup(name))!.record.topicId).toBe(again!.record.topicId);
  });

  it('partition counts raised by two brokers at once never go back', async () => {
    await a.topics.create(fresh(), 1, {});
    await b.topics.lookup(name);
    await Promise.all([
      outcome(a.topics.setPartitionCount(name, 4)),
      outcome(b.topics.setPartitionCount(name, 3)),
    ]);
    await Promise.all([a.topics.refresh(), b.topics.refresh()]);
    const counts = [a.topics.get(name)!.logs.length, b.topics.get(name)!.logs.length];
    expect(counts).toEqual([4, 4]);
    // A smaller count asked later is refused, against the count the other broker set.
    expect(await outcome(b.topics.setPartitionCount(name, 2))).not.toBe('ok');
  });

  it('refreshes on its timer, and after a miss in the background', async () => {
    await a.topics.create(fresh(), 1, {});
    expect(b.topics.get(name)).toBeUndefined();
    await vi.waitFor(() => expect(b.topics.get(name)).toBeDefined(), { timeout: 5000, interval: 100 });
    await a.topics.create(fresh(), 1, {});
    b.topics.startRefreshing(50);
    try {
      await vi.waitFor(() => expect(b.topics.list().map((t) => t.record.name)).toContain(name), {
        timeout: 5000,
      });
    } finally {
      b.topics.stopRefreshing();
    }
  });
}

describe('topics shared by two brokers, memory storage', () => {
  // One storage object is one database here; the cluster store tells the managers others share it.
  const storage = Object.assign(memoryStorage(), { cluster: new MemoryClusterStore() });
  sharedCatalogSuite(() => [storage, storage]);
});

describe('topics shared by two brokers, ClickHouse with Keeper', () => {
  const zookeeper = zookeeperRequirement();
  let zk: ZooKeeper | undefined;
  let server: SharedClickHouse | undefined;
  let storages: ClickHouseStorage[] = [];

  beforeAll(async () => {
    if (!zookeeper.available) return;
    zk = await startZooKeeper();
    server = await startSharedClickHouse({ zookeeper: zk.connectString, keeperPrefix: '/kch_topics_test' });
    storages = [0, 1].map(() => clickhouseStorage({ url: server!.url, database: 'kch_topics' }));
    for (const s of storages) await s.open();
  }, 120_000);

  afterAll(async () => {
    for (const s of storages) await s.close();
    await server?.stop();
    await zk?.stop();
  });

  skipEachUnless(zookeeper);
  sharedCatalogSuite(() => [storages[0]!, storages[1]!]);

  // Two brokers whose steps are put in a chosen order: broker a's storage holds a chosen statement.
  describe('changes that interleave', () => {
    const gate = new Gate();
    let pair: ClickHouseStorage[] = [];
    let a: Manager;
    let b: Manager;
    let n = 0;

    beforeAll(async () => {
      if (!server) return;
      pair = [gate.wrap, undefined].map((wrapTransport) =>
        // A short stale time of name claims, so that a stalled creation is taken over in the test.
        clickhouseStorage({
          url: server!.url,
          database: 'kch_topics_gated',
          wrapTransport,
          topicClaimStaleMs: 300,
        }),
      );
      for (const s of pair) await s.open();
      [a, b] = [await manager(pair[0]!), await manager(pair[1]!)];
    });

    afterAll(async () => {
      gate.open();
      for (const s of pair) await s.close();
    });

    const stored = async (name: string) =>
      (await Promise.all(pair.map((s) => s.listTopics()))).map((l) => l.filter((t) => t.name === name));

    it('a config change and a partition raise at once both land, whichever view each started from', async () => {
      const name = `gated${++n}-${Date.now()}`;
      await a.topics.create(name, 1, {});
      await b.topics.lookup(name);
      // Broker a's config change is about to write the topic's row when broker b raises the count.
      const held = gate.close((sql) => sql.includes('_kch_topics'), 'before');
      const change = a.topics.setConfigs(name, { 'retention.ms': '60000' });
      await held;
      await b.topics.setPartitionCount(name, 4);
      gate.open();
      await change;
      for (const rows of await stored(name))
        expect(rows).toMatchObject([{ partitionCount: 4, configs: { 'retention.ms': '60000' } }]);
      await Promise.all([a.topics.refresh(), b.topics.refresh()]);
      for (const m of [a, b]) expect(m.topics.get(name)!.logs).toHaveLength(4);
    });

    it('a creation that stalled past the stale time is fenced: it writes nothing over the topic that took the name', async () => {
      const name = `gated${++n}-${Date.now()}`;
      // Broker a made the topic's table, then stalls before its row.
      const held = gate.close((sql) => sql.startsWith('CREATE TABLE') && sql.includes(name), 'after');
      const slow = outcome(a.topics.create(name, 1, {}));
      await held;
      // Broker b finds the name claimed, and takes the claim over once it stayed unchanged long enough.
      const created = await vi.waitFor(() => b.topics.create(name, 2, {}), {
        timeout: 10_000,
        interval: 100,
      });
      gate.open();
      expect(await slow).not.toBe('ok');
      const id = created!.record.topicId;
      for (const rows of await stored(name)) expect(rows).toMatchObject([{ topicId: id, partitionCount: 2 }]);
      expect((await a.topics.lookup(name))!.record.topicId).toBe(id);
    });
  });
});

/**
 * Holds one statement of a storage (the first that `match` picks after `close`), before or after it
 * ran, until `open`: a broker stalled at a chosen step.
 */
class Gate {
  private match: ((sql: string) => boolean) | null = null;
  private when: 'before' | 'after' = 'before';
  private reached = deferred();
  private opened = deferred();

  /** Resolves once the statement is held. */
  close(match: (sql: string) => boolean, when: 'before' | 'after'): Promise<void> {
    this.match = match;
    this.when = when;
    this.reached = deferred();
    this.opened = deferred();
    return this.reached.promise;
  }

  open(): void {
    this.match = null;
    this.opened.resolve();
  }

  private async pass<T>(sql: string, run: () => Promise<T>): Promise<T> {
    if (!this.match?.(sql)) return run();
    this.match = null;
    const when = this.when;
    const hold = async () => {
      this.reached.resolve();
      await this.opened.promise;
    };
    if (when === 'before') await hold();
    const result = await run();
    if (when === 'after') await hold();
    return result;
  }

  readonly wrap = (inner: ClickHouseTransport): ClickHouseTransport => ({
    location: inner.location,
    remote: inner.remote,
    command: (sql, settings) => this.pass(sql, () => inner.command(sql, settings)),
    selectBytes: (sql, settings) => inner.selectBytes(sql, settings),
    insertBytes: (table, columns, chunks, options) =>
      this.pass(`INSERT INTO ${table}`, () => inner.insertBytes(table, columns, chunks, options)),
    query: inner.query?.bind(inner),
    killQuery: inner.killQuery?.bind(inner),
    close: () => inner.close(),
  });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
