/**
 * Partition leadership over two brokers sharing one storage (in one process, over the memory storage
 * and its cluster store): partitions spread over both, Metadata names every broker and each leader,
 * a broker that does not lead a partition answers NOT_LEADER_OR_FOLLOWER with the leader (KIP-951),
 * real clients follow the leaders, and a broker that stops hands its partitions over with a new epoch,
 * offsets going on densely where they stopped.
 */
import { performance } from 'node:perf_hooks';
import { RawClient } from '@kch/kafka-connection';
import { decodeBatch, ErrorCode, encodeRecordBatchSync, splitBatches } from '@kch/protocol';
import { MemoryClusterStore, memoryStorage, type Storage, StorageError } from '@kch/storage';
import { testTopic } from '@kch/storage/testing';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Broker, createBroker, silentLogger } from '../src/index.js';
import { eventually, shared } from './helpers/cluster.js';
import { consumeMessages } from './helpers/kafkajs.js';

const opened: Broker[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((b) => b.close()));
});

async function cluster(size: number, store = new MemoryClusterStore(), storage: Storage = memoryStorage()) {
  await storage.open();
  const brokers: { broker: Broker; port: number; nodeId: number }[] = [];
  for (let nodeId = 1; nodeId <= size; nodeId++) {
    const broker = await createBroker({
      storage: shared(storage, store),
      nodeId,
      groupInitialRebalanceDelayMs: 0,
      logger: silentLogger,
    });
    opened.push(broker);
    const { port } = await broker.listen({ host: '127.0.0.1', port: 0 });
    brokers.push({ broker, port, nodeId });
  }
  return { brokers, storage, store };
}

/** Metadata of `topic` as `client`'s broker answers it. */
async function metadata(client: RawClient, topic: string) {
  const r = await client.send('Metadata', 12, {
    topics: [{ name: topic, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
    allowAutoTopicCreation: false,
    includeTopicAuthorizedOperations: false,
  });
  return { brokers: r.brokers, partitions: r.topics[0]!.partitions };
}

function records(values: string[]): Buffer {
  return encodeRecordBatchSync({ records: values.map((v) => ({ value: Buffer.from(v) })) });
}

async function produce(client: RawClient, topic: string, partition: number, values: string[]) {
  const r = await client.send('Produce', 10, {
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records: records(values) }] }],
  });
  return { partition: r.responses[0]!.partitionResponses[0]!, nodeEndpoints: r.nodeEndpoints };
}

async function fetchValues(client: RawClient, topic: string, partition: number) {
  const r = await client.send('Fetch', 12, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1 << 24,
    isolationLevel: 0,
    topics: [{ topic, partitions: [{ partition, fetchOffset: 0n, partitionMaxBytes: 1 << 24 }] }],
  });
  const p = r.responses[0]!.partitions[0]!;
  const out: { offset: number; value: string; leaderEpoch: number }[] = [];
  for (const bytes of splitBatches(p.records ?? Buffer.alloc(0)).batches) {
    const batch = await decodeBatch(bytes);
    for (const rec of batch.records)
      out.push({
        offset: Number(batch.header.baseOffset) + rec.offsetDelta,
        value: rec.value!.toString(),
        leaderEpoch: batch.header.partitionLeaderEpoch,
      });
  }
  return { partition: p, values: out };
}

describe('partition leadership over two brokers', () => {
  it('spreads partitions, lists both brokers, and points clients to the leader', async () => {
    const { brokers } = await cluster(2);
    const [a, b] = brokers as [(typeof brokers)[0], (typeof brokers)[0]];
    const clientA = await RawClient.connect('127.0.0.1', a.port);
    const clientB = await RawClient.connect('127.0.0.1', b.port);
    try {
      const created = await clientA.send('CreateTopics', 7, {
        topics: [{ name: 'spread', numPartitions: 4, replicationFactor: -1, configs: [] }],
        timeoutMs: 5000,
      });
      expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
      // Broker B learns of the topic when it looks at the cluster (the catalog is shared storage).
      // Each broker learns the other's claims at its next look at the cluster: wait until both agree.
      const settled = (x: Awaited<ReturnType<typeof metadata>>) =>
        x.partitions.length === 4 && x.partitions.every((p) => p.leaderId > 0) && x.brokers.length === 2;
      const m = await eventually(() => metadata(clientB, 'spread'), settled, 'leaders for every partition');
      await eventually(
        () => metadata(clientA, 'spread'),
        (x) => settled(x) && JSON.stringify(x.partitions) === JSON.stringify(m.partitions),
        'both brokers agreeing on the leaders',
      );
      expect(m.brokers.map((x) => [x.nodeId, x.port]).sort()).toEqual([
        [1, a.port],
        [2, b.port],
      ]);
      const leaders = m.partitions.map((p) => p.leaderId);
      expect(leaders.filter((l) => l === 1)).toHaveLength(2);
      expect(leaders.filter((l) => l === 2)).toHaveLength(2);
      expect(m.partitions.every((p) => p.leaderEpoch === 0)).toBe(true);

      // Each broker takes the partitions it leads and points to the other for the rest.
      for (const p of m.partitions) {
        const [mine, other] = p.leaderId === 1 ? [clientA, clientB] : [clientB, clientA];
        const wrong = await produce(other, 'spread', p.partitionIndex, ['x']);
        expect(wrong.partition.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
        expect(wrong.partition.currentLeader).toEqual({ leaderId: p.leaderId, leaderEpoch: 0 });
        const leaderPort = p.leaderId === 1 ? a.port : b.port;
        expect(wrong.nodeEndpoints).toEqual([
          { nodeId: p.leaderId, host: '127.0.0.1', port: leaderPort, rack: null },
        ]);
        const fetched = await fetchValues(other, 'spread', p.partitionIndex);
        expect(fetched.partition.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
        expect(fetched.partition.currentLeader).toEqual({ leaderId: p.leaderId, leaderEpoch: 0 });
        const right = await produce(mine, 'spread', p.partitionIndex, [`v${p.partitionIndex}`]);
        expect(right.partition.errorCode).toBe(ErrorCode.NONE);
        expect(right.partition.baseOffset).toBe(0n);
      }
    } finally {
      clientA.close();
      clientB.close();
    }
  }, 30_000);

  it('lets kafkajs produce to every partition through either broker', async () => {
    const { brokers } = await cluster(2);
    const kafka = new Kafka({
      clientId: 'leadership-test',
      brokers: [`127.0.0.1:${brokers[1]!.port}`],
      logLevel: logLevel.NOTHING,
      retry: { retries: 10, initialRetryTime: 100 },
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'routed', numPartitions: 6 }], waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    const messages = Array.from({ length: 60 }, (_, i) => ({ partition: i % 6, value: `m${i}` }));
    await producer.send({ topic: 'routed', messages });
    const offsets = await admin.fetchTopicOffsets('routed');
    await producer.disconnect();
    await admin.disconnect();
    expect(offsets.map((o) => [o.partition, o.high]).sort()).toEqual(
      Array.from({ length: 6 }, (_, p) => [p, '10']),
    );
  }, 60_000);

  it('moves a stopped broker’s partitions to the other with a new epoch, offsets going on densely', async () => {
    const { brokers } = await cluster(2);
    const [a, b] = brokers as [(typeof brokers)[0], (typeof brokers)[0]];
    const clientA = await RawClient.connect('127.0.0.1', a.port);
    try {
      await clientA.send('CreateTopics', 7, {
        topics: [{ name: 'moved', numPartitions: 2, replicationFactor: -1, configs: [] }],
        timeoutMs: 5000,
      });
      const before = await eventually(
        () => metadata(clientA, 'moved'),
        (x) => x.partitions.every((p) => p.leaderId > 0),
        'leaders',
      );
      const onB = before.partitions.find((p) => p.leaderId === 2)!.partitionIndex;
      const clientB = await RawClient.connect('127.0.0.1', b.port);
      expect((await produce(clientB, 'moved', onB, ['b0', 'b1'])).partition.errorCode).toBe(ErrorCode.NONE);
      clientB.close();
      await b.broker.close();

      const after = await eventually(
        () => metadata(clientA, 'moved'),
        (x) => x.brokers.length === 1 && x.partitions.every((p) => p.leaderId === 1),
        'the takeover',
      );
      const moved = after.partitions.find((p) => p.partitionIndex === onB)!;
      expect(moved.leaderEpoch).toBe(1);
      const next = await produce(clientA, 'moved', onB, ['a2']);
      expect(next.partition.errorCode).toBe(ErrorCode.NONE);
      expect(next.partition.baseOffset).toBe(2n);
      const { values } = await fetchValues(clientA, 'moved', onB);
      expect(values).toEqual([
        { offset: 0, value: 'b0', leaderEpoch: 0 },
        { offset: 1, value: 'b1', leaderEpoch: 0 },
        { offset: 2, value: 'a2', leaderEpoch: 1 },
      ]);
      // A client still at epoch 0 is told it is fenced; OffsetForLeaderEpoch says where epoch 0 ended.
      const stale = await clientA.send('ListOffsets', 7, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [
          { name: 'moved', partitions: [{ partitionIndex: onB, currentLeaderEpoch: 0, timestamp: -1n }] },
        ],
      });
      expect(stale.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
      const ends = await clientA.send('OffsetForLeaderEpoch', 4, {
        replicaId: -1,
        topics: [
          {
            topic: 'moved',
            partitions: [{ partition: onB, currentLeaderEpoch: 1, leaderEpoch: 0 }],
          },
        ],
      });
      expect(ends.topics[0]!.partitions[0]).toMatchObject({ errorCode: 0, leaderEpoch: 0, endOffset: 2n });
    } finally {
      clientA.close();
    }
  }, 30_000);
});

describe('a broker that died without handing over', () => {
  it('has its partitions taken once its registration expired, the takeover fencing it first', async () => {
    const store = new MemoryClusterStore();
    // What a killed broker leaves: a registration nobody renews, and the partition it led.
    const storage = memoryStorage();
    await storage.open();
    const topicId = 'orphanedAAAAAAAAAAAAAA';
    await storage.createTopic({ name: 'orphaned', topicId, partitionCount: 1, configs: {}, createdAt: 0 });
    await store.register({ nodeId: 2, instance: 'killed', rack: null, endpoints: [] }, 1_500);
    const dead = { key: `p:${topicId}:0`, nodeId: 2, instance: 'killed', epoch: 3, epochStarts: [] };
    expect(await store.setOwner(null, dead)).toBe(true);
    const { brokers } = await cluster(1, store, storage);
    const client = await RawClient.connect('127.0.0.1', brokers[0]!.port);
    try {
      // Led by a broker still registered: nobody else serves it until the registration expires.
      const before = await metadata(client, 'orphaned');
      expect(before.partitions[0]).toMatchObject({ leaderId: 2, leaderEpoch: 3 });
      expect((await produce(client, 'orphaned', 0, ['early'])).partition.errorCode).toBe(
        ErrorCode.NOT_LEADER_OR_FOLLOWER,
      );
      const m = await eventually(
        () => metadata(client, 'orphaned'),
        (x) => x.partitions[0]!.leaderId === 1,
        'the takeover',
      );
      expect(m.partitions[0]!.leaderEpoch).toBe(4);
      // The dead broker's registration was fenced: it can never be renewed.
      expect(await store.renew(2, 'killed', 10_000)).toBe(false);
      const r = await produce(client, 'orphaned', 0, ['after']);
      expect(r.partition.errorCode).toBe(ErrorCode.NONE);
    } finally {
      client.close();
    }
  }, 30_000);

  it('lets a broker restarted under the same node id join once its earlier registration expired', async () => {
    const store = new MemoryClusterStore();
    await store.register({ nodeId: 1, instance: 'earlier-life', rack: null, endpoints: [] }, 1_000);
    const { brokers } = await cluster(1, store);
    const view = await store.view();
    expect(view.members.map((m) => m.nodeId)).toEqual([1]);
    expect(view.members[0]!.instance).not.toBe('earlier-life');
    expect(brokers[0]!.broker.listeningOn).toBeDefined();
  }, 30_000);
});

describe('group coordinators over two brokers', () => {
  it('answers FindCoordinator with the slot holder, refuses elsewhere, and moves groups with their offsets', async () => {
    const { brokers } = await cluster(2);
    const bootstrap = brokers.map((b) => `127.0.0.1:${b.port}`);
    const kafka = new Kafka({
      clientId: 'coordinator-test',
      brokers: bootstrap,
      logLevel: logLevel.NOTHING,
      retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'work', numPartitions: 4 }], waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: 'work',
      messages: Array.from({ length: 40 }, (_, i) => ({ partition: i % 4, value: `w${i}` })),
    });

    // Both brokers name the same coordinator once each has seen the other's claims.
    const clients = await Promise.all(brokers.map((b) => RawClient.connect('127.0.0.1', b.port)));
    try {
      const find = (c: RawClient) => c.send('FindCoordinator', 3, { key: 'g1', keyType: 0 });
      const [fromA] = await Promise.all([
        eventually(
          () => Promise.all(clients.map(find)),
          (rs) => rs.every((r) => r.errorCode === 0 && r.nodeId === rs[0]!.nodeId),
          'agreement on the coordinator',
        ),
      ]);
      const coordinator = fromA[0]!.nodeId;
      expect(fromA[0]!.port).toBe(brokers.find((b) => b.nodeId === coordinator)!.port);
      const other = clients[brokers.findIndex((b) => b.nodeId !== coordinator)]!;
      const join = await other.send('JoinGroup', 5, {
        groupId: 'g1',
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        memberId: '',
        groupInstanceId: null,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
      });
      expect(join.errorCode).toBe(ErrorCode.NOT_COORDINATOR);

      const first = kafka.consumer({ groupId: 'g1' });
      await first.connect();
      expect(await consumeMessages(first, 'work', 40)).toHaveLength(40);
      await first.disconnect();

      // The coordinator stops; its slots go to the other broker, which reloads the offsets.
      await brokers.find((b) => b.nodeId === coordinator)!.broker.close();
      await producer.send({
        topic: 'work',
        messages: Array.from({ length: 8 }, (_, i) => ({ partition: i % 4, value: `late${i}` })),
      });
      const second = kafka.consumer({ groupId: 'g1' });
      await second.connect();
      const rest = await consumeMessages(second, 'work', 8);
      await second.disconnect();
      expect(rest.map((m) => m.message.value!.toString()).sort()).toEqual(
        Array.from({ length: 8 }, (_, i) => `late${i}`).sort(),
      );
    } finally {
      for (const c of clients) c.close();
      await producer.disconnect();
      await admin.disconnect();
    }
  }, 90_000);
});

describe('a partition whose storage refuses every leadership', () => {
  it('gets no leader, the refusal is logged once, and it is tried ever more rarely', async () => {
    // As the ClickHouse storage refuses a topic bound to a table without _leader_epoch.
    const memory = memoryStorage();
    const refusal = 'topic unfenced cannot be led: table db.t has no _leader_epoch column';
    const tries: number[] = [];
    const storage = new Proxy(memory, {
      get(target, key) {
        if (key === 'openPartition')
          return (tp: { topic: string }, leadership?: unknown) => {
            if (tp.topic !== 'unfenced' || !leadership)
              return target.openPartition(tp as never, leadership as never);
            tries.push(performance.now());
            return Promise.reject(new StorageError('INTERNAL', refusal, false));
          };
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    await storage.open();
    await storage.createTopic({ ...testTopic(1), name: 'unfenced' });
    const warnings: Record<string, unknown>[] = [];
    const broker = await createBroker({
      storage: shared(storage, new MemoryClusterStore()),
      nodeId: 1,
      logger: {
        ...silentLogger,
        warn: (msg, fields) => void (msg.includes('not taken up') && warnings.push(fields!)),
      },
    });
    opened.push(broker);
    const { port } = await broker.listen({ host: '127.0.0.1', port: 0 });
    const client = await RawClient.connect('127.0.0.1', port);
    try {
      // Won again, refused and released: at the next look, then after 1 s, 2 s, ... (each try raises
      // the leader epoch).
      await vi.waitFor(() => expect(tries.length).toBeGreaterThanOrEqual(4), {
        timeout: 15_000,
        interval: 100,
      });
      expect(tries[3]! - tries[2]!).toBeGreaterThanOrEqual(1_900);
      expect(warnings).toEqual([{ topic: 'unfenced', partition: 0, error: refusal }]);
      const { partitions } = await metadata(client, 'unfenced');
      expect(partitions[0]!.errorCode).toBe(ErrorCode.LEADER_NOT_AVAILABLE);
    } finally {
      client.close();
    }
  }, 30_000);
});
