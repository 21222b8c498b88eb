import { type Consumer, Kafka, logLevel, Partitioners } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../src/test-broker.js';

describe('kafkajs against a broker inside the test process', () => {
  let kch: TestBroker;
  let kafka: Kafka;

  beforeAll(async () => {
    kch = await startTestBroker();
    kafka = new Kafka({ clientId: 'example-tests', brokers: [kch.bootstrap], logLevel: logLevel.NOTHING });
  });

  afterAll(async () => {
    await kch.close();
  });

  it('produces and consumes through a consumer group', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }] });
    await admin.disconnect();

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const sent = Array.from({ length: 30 }, (_, i) => ({
      key: `customer-${i % 5}`,
      value: JSON.stringify({ order: i, amount: i * 10 }),
      headers: { source: 'test' },
    }));
    const acks = await producer.send({ topic: 'orders', messages: sent });
    await producer.disconnect();
    expect(acks.every((a) => a.errorCode === 0)).toBe(true);

    const consumer: Consumer = kafka.consumer({ groupId: 'billing' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    const received: { key: string; value: string; partition: number; source: string }[] = [];
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            received.push({
              key: message.key!.toString(),
              value: message.value!.toString(),
              partition,
              source: message.headers!.source!.toString(),
            });
            if (received.length === sent.length) resolve();
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();

    expect(received.map((r) => r.value).sort()).toEqual(sent.map((m) => m.value).sort());
    expect(received.every((r) => r.source === 'test')).toBe(true);
    // One key always lands on the same partition.
    const partitionsOf = new Map<string, Set<number>>();
    for (const r of received)
      partitionsOf.set(r.key, (partitionsOf.get(r.key) ?? new Set()).add(r.partition));
    for (const parts of partitionsOf.values()) expect(parts.size).toBe(1);
  });

  it('lets a test watch the broker through its events', async () => {
    const produced: { topic: string; records: number }[] = [];
    const listener = (e: { topic: string; records: number }) => produced.push(e);
    kch.broker.on('produce', listener);
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    await producer.send({ topic: 'audit', messages: [{ value: 'a' }, { value: 'b' }] });
    await producer.disconnect();
    kch.broker.off('produce', listener);
    expect(produced).toEqual([expect.objectContaining({ topic: 'audit', records: 2 })]);
  });
});
