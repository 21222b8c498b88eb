/**
 * Groups over brokers sharing one storage (in process, over the memory storage and its cluster
 * store): table groups are committed by their coordinator alone, for every partition of their topics;
 * coordinator slots taken in one look load their groups from one listing; and looks that fail while
 * storage is down are logged when the failures begin and when they end, not at every look.
 */
import { RawClient } from '@kch/kafka-connection';
import { ErrorCode } from '@kch/protocol';
import { type CommittedOffset, MemoryClusterStore, memoryStorage, type Storage } from '@kch/storage';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Broker,
  type BrokerOptionsInput,
  createBroker,
  type Logger,
  silentLogger,
} from '../src/index.js';
import { eventually, shared } from './helpers/cluster.js';

const opened: Broker[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((b) => b.close()));
});

async function start(storage: Storage, options: Partial<BrokerOptionsInput> = {}) {
  const broker = await createBroker({
    storage,
    groupInitialRebalanceDelayMs: 0,
    logger: silentLogger,
    ...options,
  });
  opened.push(broker);
  const { port } = await broker.listen({ host: '127.0.0.1', port: 0 });
  return { broker, port };
}

/** The storage as one broker sees it, noting the groups it commits offsets for. */
function noteCommits(storage: Storage, groups: string[]): Storage {
  return new Proxy(storage, {
    get(target, key) {
      if (key === 'commitOffsets')
        return (group: string, offsets: readonly CommittedOffset[]) => {
          groups.push(group);
          return target.commitOffsets(group, offsets);
        };
      return Reflect.get(target, key, target);
    },
  });
}

describe('table groups over two brokers', () => {
  it('are committed by the group’s coordinator alone, at the end of every partition', async () => {
    const storage = memoryStorage();
    await storage.open();
    const store = new MemoryClusterStore();
    const commits = new Map<number, string[]>([
      [1, []],
      [2, []],
    ]);
    const brokers: Awaited<ReturnType<typeof start>>[] = [];
    for (const nodeId of [1, 2]) {
      const s = noteCommits(shared(storage, store), commits.get(nodeId)!);
      brokers.push(await start(s, { nodeId, tableGroups: { sink: ['orders'] } }));
    }
    const client = await RawClient.connect('127.0.0.1', brokers[0]!.port);
    const kafka = new Kafka({
      brokers: brokers.map((b) => `127.0.0.1:${b.port}`),
      logLevel: logLevel.NOTHING,
      retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    const admin = kafka.admin();
    const producer = kafka.producer();
    await Promise.all([admin.connect(), producer.connect()]);
    try {
      await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 4 }], waitForLeaders: true });
      // Both brokers lead some partitions and agree on the group's coordinator.
      const found = await eventually(
        async () => {
          const r = await client.send('Metadata', 12, {
            topics: [{ name: 'orders', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
            allowAutoTopicCreation: false,
            includeTopicAuthorizedOperations: false,
          });
          const holders = brokers.filter((b) => b.broker.context.groups.coordinates('sink'));
          return { leaders: r.topics[0]!.partitions.map((p) => p.leaderId), holders: holders.length };
        },
        (x) => x.holders === 1 && new Set(x.leaders).size === 2 && x.leaders.every((l) => l > 0),
        'partitions led by both brokers, and one coordinator',
      );
      expect(found.leaders).toHaveLength(4);
      const coordinator = brokers.find((b) => b.broker.context.groups.coordinates('sink'))!;
      const coordinatorId = coordinator.broker.config.nodeId;
      for (const c of commits.values()) c.splice(0);

      const send = (round: number) =>
        producer.send({
          topic: 'orders',
          messages: [0, 1, 2, 3].flatMap((p) =>
            Array.from({ length: p + 1 }, (_, i) => ({ partition: p, value: `${round}-${p}-${i}` })),
          ),
        });
      const committedEnds = (ends: number[]) =>
        eventually(
          async () => (await storage.fetchOffsets('sink')).map((o) => [o.partition, o.offset]).sort(),
          (x) => JSON.stringify(x) === JSON.stringify(ends.map((e, p) => [p, e])),
          `the ends ${ends} committed for the table group`,
        );
      await send(1);
      await committedEnds([1, 2, 3, 4]);
      await send(2);
      await committedEnds([2, 4, 6, 8]);
      // The other broker leads half the partitions, yet never commits for the group.
      expect(commits.get(coordinatorId)!.filter((g) => g === 'sink').length).toBeGreaterThan(0);
      expect(commits.get(3 - coordinatorId)!.filter((g) => g === 'sink')).toEqual([]);
      const fetched = await admin.fetchOffsets({ groupId: 'sink', topics: ['orders'] });
      expect(fetched[0]!.partitions.map((p) => [p.partition, p.offset])).toEqual([
        [0, '2'],
        [1, '4'],
        [2, '6'],
        [3, '8'],
      ]);
    } finally {
      client.close();
      await Promise.all([admin.disconnect(), producer.disconnect()]);
    }
  }, 60_000);
});

describe('coordinator slots taken in one look', () => {
  it('load their groups from one listing of the stored groups, and none at start', async () => {
    const storage = memoryStorage();
    await storage.open();
    await storage.createTopic({
      name: 't',
      topicId: 'tAAAAAAAAAAAAAAAAAAAAA',
      partitionCount: 1,
      configs: {},
      createdAt: 0,
    });
    const stored = { topic: 't', partition: 0, offset: 7, leaderEpoch: -1, metadata: '', commitTimestamp: 1 };
    for (const group of ['old-a', 'old-b', 'old-c']) await storage.commitOffsets(group, [stored]);
    // A counting wrapper over the real method.
    let listings = 0;
    const list = storage.listOffsetGroups.bind(storage);
    storage.listOffsetGroups = () => {
      listings++;
      return list();
    };
    const { broker } = await start(shared(storage, new MemoryClusterStore()), { nodeId: 1 });
    // Alone, the broker took the 50 slots in its first look (listen waits for it).
    expect(['old-a', 'old-b', 'old-c'].every((g) => broker.context.groups.coordinates(g))).toBe(true);
    expect(listings).toBe(1);
    for (const group of ['old-a', 'old-b', 'old-c'])
      expect(broker.context.groups.committedOffsets(group)).toEqual([stored]);
    const client = await RawClient.connect('127.0.0.1', broker.listeningOn!.port);
    try {
      const r = await client.send('OffsetFetch', 7, {
        groupId: 'old-b',
        topics: [{ name: 't', partitionIndexes: [0] }],
        requireStable: false,
      });
      expect(r.errorCode).toBe(ErrorCode.NONE);
      expect(r.topics[0]!.partitions[0]!.committedOffset).toBe(7n);
    } finally {
      client.close();
    }
  }, 30_000);
});

describe('looks at the cluster while storage is down', () => {
  it('log a warning when they begin to fail and an info when they work again', async () => {
    const storage = memoryStorage();
    await storage.open();
    const real = new MemoryClusterStore();
    let down = false;
    // The real store, whose reads of the cluster fail while `down` (ClickHouse or Keeper unreachable).
    const store = new Proxy(real, {
      get(target, key) {
        const value = Reflect.get(target, key, target);
        if (typeof value !== 'function') return value;
        if (key === 'view' || key === 'owners')
          return (...args: unknown[]) =>
            down ? Promise.reject(new Error('storage unreachable')) : value.apply(target, args);
        return value.bind(target);
      },
    });
    const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
    const logger: Logger = {
      debug: () => {},
      info: (msg, fields) => lines.push({ level: 'info', msg, fields }),
      warn: (msg, fields) => lines.push({ level: 'warn', msg, fields }),
      error: (msg, fields) => lines.push({ level: 'error', msg, fields }),
    };
    await start(shared(storage, store), { nodeId: 1, logger });
    const about = (level: string, word: string) =>
      lines.filter((l) => l.level === level && l.msg.includes(word) && l.msg.includes('look'));
    down = true;
    await new Promise((r) => setTimeout(r, 3_500));
    down = false;
    await eventually(
      async () => about('info', 'again'),
      (l) => l.length === 1,
      'the info that looks work again',
    );
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.fields).toEqual({ error: 'storage unreachable' });
    expect(about('info', 'again')[0]!.fields!.failedLooks).toBeGreaterThanOrEqual(3);
  }, 30_000);
});
