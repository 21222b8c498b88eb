/** kafkajs, unchanged, against a broker over TCP: admin, producers with every codec, consumer groups. */
import { CompressionType, compress, decompress } from '@kch/protocol';
import { type Admin, CompressionCodecs, CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBroker, startBroker } from './helpers/broker.js';
import { consumeMessages } from './helpers/kafkajs.js';

// kafkajs ships gzip only and takes other codecs as plugins: these use kch's own codecs.
const plugin = (type: number) => () => ({
  compress: async (encoder: { buffer: Buffer }) => compress(type, encoder.buffer),
  decompress: async (buffer: Buffer) => decompress(type, buffer),
});
CompressionCodecs[CompressionTypes.Snappy] = plugin(CompressionType.Snappy);
CompressionCodecs[CompressionTypes.LZ4] = plugin(CompressionType.Lz4);
CompressionCodecs[CompressionTypes.ZSTD] = plugin(CompressionType.Zstd);

let b: RunningBroker;
let kafka: Kafka;
let admin: Admin;

beforeAll(async () => {
  b = await startBroker();
  kafka = new Kafka({
    clientId: 'kch-test',
    brokers: [b.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8 },
  });
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await admin?.disconnect();
  await b?.close();
});

describe('kafkajs admin', () => {
  it('creates, lists, describes and deletes topics', async () => {
    expect(
      await admin.createTopics({
        topics: [
          { topic: 'admin-a', numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '3600000' }] },
        ],
      }),
    ).toBe(true);
    expect(await admin.listTopics()).toContain('admin-a');
    const meta = await admin.fetchTopicMetadata({ topics: ['admin-a'] });
    expect(meta.topics[0]!.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2]);
    expect(meta.topics[0]!.partitions.every((p) => p.leader === 1)).toBe(true);
    await expect(admin.createTopics({ topics: [{ topic: 'admin-a' }] })).resolves.toBe(false);
    await admin.deleteTopics({ topics: ['admin-a'] });
    expect(await admin.listTopics()).not.toContain('admin-a');
  });

  it('describes and alters topic configs', async () => {
    await admin.createTopics({ topics: [{ topic: 'admin-configs', numPartitions: 1 }] });
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        { type: 2, name: 'admin-configs', configEntries: [{ name: 'retention.ms', value: '123456' }] },
      ],
    });
    const described = await admin.describeConfigs({
      resources: [{ type: 2, name: 'admin-configs', configNames: ['retention.ms', 'cleanup.policy'] }],
      includeSynonyms: false,
    });
    const entries = Object.fromEntries(described.resources[0]!.configEntries.map((e) => [e.configName, e]));
    expect(entries['retention.ms']).toMatchObject({ configValue: '123456', isDefault: false });
    expect(entries['cleanup.policy']).toMatchObject({ configValue: 'delete', isDefault: true });
  });
});

describe('kafkajs producer', () => {
  const codecs: [string, CompressionTypes][] = [
    ['none', CompressionTypes.None],
    ['gzip', CompressionTypes.GZIP],
    ['snappy', CompressionTypes.Snappy],
    ['lz4', CompressionTypes.LZ4],
    ['zstd', CompressionTypes.ZSTD],
  ];
  for (const [name, compression] of codecs) {
    it(`produces with ${name}: keys, values and headers come back at dense offsets`, async () => {
      const topic = `kafkajs-${name}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
      const producer = kafka.producer();
      await producer.connect();
      const messages = Array.from({ length: 20 }, (_, i) => ({
        key: `k${i}`,
        value: `v${i}-${'y'.repeat(i * 30)}`,
        headers: { trace: `t${i}`, empty: '' },
      }));
      const [meta] = await producer.send({ topic, compression, messages: messages.slice(0, 10), acks: -1 });
      await producer.send({ topic, compression, messages: messages.slice(10), acks: 1 });
      expect(meta).toMatchObject({ partition: 0, errorCode: 0, baseOffset: '0' });
      await producer.disconnect();
      const consumer = kafka.consumer({ groupId: `g-${name}` });
      await consumer.connect();
      const got = await consumeMessages(consumer, topic, 20);
      await consumer.disconnect();
      expect(got.map((m) => m.message.offset)).toEqual(messages.map((_, i) => String(i)));
      expect(got.map((m) => m.message.key?.toString())).toEqual(messages.map((m) => m.key));
      expect(got.map((m) => m.message.value?.toString())).toEqual(messages.map((m) => m.value));
      expect(got[3]!.message.headers).toEqual({ trace: Buffer.from('t3'), empty: Buffer.alloc(0) });
    });
  }

  it('an idempotent producer writes each message once', async () => {
    const topic = 'kafkajs-idempotent';
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let i = 0; i < 10; i++) await producer.send({ topic, messages: [{ key: `k${i}`, value: `v${i}` }] });
    await producer.disconnect();
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.reduce((n, p) => n + Number(p.high), 0)).toBe(10);
  });
});

describe('kafkajs consumers', () => {
  it('a group of three shares a 6-partition topic, rebalances, and commits', async () => {
    const topic = 'kafkajs-group';
    await admin.createTopics({ topics: [{ topic, numPartitions: 6 }] });
    const producer = kafka.producer();
    await producer.connect();
    const total = 300;
    await producer.send({
      topic,
      messages: Array.from({ length: total }, (_, i) => ({ key: `key-${i}`, value: `value-${i}` })),
    });
    const seen = new Map<string, number>();
    const byMember = new Map<number, Set<number>>();
    const consumers = [0, 1, 2].map(() =>
      kafka.consumer({
        groupId: 'kafkajs-three',
        sessionTimeout: 10_000,
        heartbeatInterval: 500,
        rebalanceTimeout: 10_000,
        // kafkajs heartbeats, and so learns of a rebalance or leaves the group, only between fetches:
        // with its default 5 s long poll on caught-up partitions, each join of the next member and
        // each disconnect waited seconds for it (20 s for the test, 2.7 s with 100 ms).
        maxWaitTimeInMs: 100,
      }),
    );
    let done: () => void = () => undefined;
    const all = new Promise<void>((resolve) => {
      done = resolve;
    });
    for (const [i, c] of consumers.entries()) {
      await c.connect();
      await c.subscribe({ topic, fromBeginning: true });
      byMember.set(i, new Set());
      await c.run({
        eachMessage: async ({ partition, message }) => {
          byMember.get(i)!.add(partition);
          seen.set(message.value!.toString(), (seen.get(message.value!.toString()) ?? 0) + 1);
          if (seen.size === total) done();
        },
      });
    }
    await all;
    expect(seen.size).toBe(total);
    // The group settles with the six partitions spread over the three members.
    await new Promise((r) => setTimeout(r, 1500));
    const description = await admin.describeGroups(['kafkajs-three']);
    expect(description.groups[0]!.state).toBe('Stable');
    expect(description.groups[0]!.members).toHaveLength(3);
    for (const c of consumers) await c.disconnect();
    // Every record was committed: the group's offsets reach the end of each partition.
    const committed = await admin.fetchOffsets({ groupId: 'kafkajs-three', topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    const endOf = new Map(ends.map((p) => [p.partition, p.high]));
    for (const p of committed[0]!.partitions) expect(p.offset).toBe(endOf.get(p.partition));
  });

  it('seeks, pauses and resumes', async () => {
    const topic = 'kafkajs-seek';
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}` })) });
    await producer.disconnect();
    // A short long poll: the seek and the resume take effect at the next fetch.
    const consumer = kafka.consumer({ groupId: 'kafkajs-seek', maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got: string[] = [];
    let paused = false;
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          got.push(message.value!.toString());
          if (got.length === 2 && !paused) {
            paused = true;
            consumer.pause([{ topic }]);
            consumer.seek({ topic, partition: 0, offset: '7' });
            setTimeout(() => consumer.resume([{ topic }]), 300);
          }
          if (got.includes('m9')) resolve();
        },
      });
    });
    await consumer.disconnect();
    expect(got.slice(0, 2)).toEqual(['m0', 'm1']);
    expect(got.slice(-3)).toEqual(['m7', 'm8', 'm9']);
  });
});
