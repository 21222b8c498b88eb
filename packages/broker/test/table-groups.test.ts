/**
 * tableGroups: a group standing for a table keeps its committed offsets at the ends of its topics,
 * as seen by a real admin client (kafkajs); a group with real members is left alone.
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningBroker, startBroker } from './helpers/broker.js';

const running: RunningBroker[] = [];
afterEach(async () => {
  for (const b of running.splice(0)) await b.close();
});

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('tableGroups', () => {
  it('commits the ends of the topics for the group after records arrive, and at close', async () => {
    const b = await startBroker({
      topics: { orders: { partitions: 2 }, refunds: {} },
      tableGroups: { 'orders-sink': ['orders', 'refunds'] },
    });
    running.push(b);
    const kafka = new Kafka({ brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    const producer = kafka.producer();
    await Promise.all([admin.connect(), producer.connect()]);
    try {
      // At start the group exists, at the (empty) ends.
      const initial = await until(
        () => admin.fetchOffsets({ groupId: 'orders-sink', topics: ['orders', 'refunds'] }),
        (r) => r.every((t) => t.partitions.every((p) => p.offset === '0')),
      );
      expect(initial.flatMap((t) => t.partitions.map((p) => p.offset))).toEqual(['0', '0', '0']);

      await producer.send({
        topic: 'orders',
        messages: [
          { partition: 0, value: 'a' },
          { partition: 0, value: 'b' },
          { partition: 1, value: 'c' },
        ],
      });
      await producer.send({ topic: 'refunds', messages: [{ value: 'r' }] });
      const committed = await until(
        () => admin.fetchOffsets({ groupId: 'orders-sink', topics: ['orders', 'refunds'] }),
        (r) => r.find((t) => t.topic === 'refunds')?.partitions[0]?.offset === '1',
      );
      const byTopic = Object.fromEntries(
        committed.map((t) => [t.topic, t.partitions.map((p) => [p.partition, p.offset])]),
      );
      expect(byTopic).toEqual({
        orders: [
          [0, '2'],
          [1, '1'],
        ],
        refunds: [[0, '1']],
      });
      const lag = await admin.fetchTopicOffsets('orders');
      expect(lag.map((p) => [p.partition, p.high])).toEqual([
        [0, '2'],
        [1, '1'],
      ]);
    } finally {
      await Promise.all([admin.disconnect(), producer.disconnect()]);
    }
  });

  it('leaves a group with members alone', async () => {
    const b = await startBroker({ topics: { t: {} }, tableGroups: { busy: ['t'] } });
    running.push(b);
    const kafka = new Kafka({ brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    const consumer = kafka.consumer({ groupId: 'busy' });
    const admin = kafka.admin();
    await Promise.all([producer.connect(), consumer.connect(), admin.connect()]);
    try {
      await consumer.subscribe({ topic: 't', fromBeginning: true });
      const seen: string[] = [];
      // autoCommit off: the member commits nothing, so any commit would be the broker's.
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ message }) => void seen.push(String(message.value)),
      });
      await until(
        async () => (await admin.describeGroups(['busy'])).groups[0]?.state,
        (s) => s === 'Stable',
      );
      await producer.send({ topic: 't', messages: [{ value: 'x' }] });
      await until(
        async () => seen.length,
        (n) => n === 1,
      );
      await new Promise((r) => setTimeout(r, 1500));
      // The broker's commit at start (the group was empty then) stays; with a member, it commits no more.
      const offsets = await admin.fetchOffsets({ groupId: 'busy', topics: ['t'] });
      expect(offsets[0]!.partitions[0]!.offset).toBe('0');
    } finally {
      await Promise.all([producer.disconnect(), consumer.disconnect(), admin.disconnect()]);
    }
  });
});
