/**
 * kafkajs transactions, unchanged, over TCP: a transactional producer commits and aborts, read_committed
 * and read_uncommitted consumers read what Kafka gives them, offsets sent in a transaction are
 * committed with it, a second producer with the same transactional id fences the first, and the lag
 * of a read_committed group is measured against the last stable offset.
 */
import { brokerMetrics } from '@kch/broker';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBroker, startBroker } from './helpers/broker.js';
import { consumeMessages } from './helpers/kafkajs.js';

let b: RunningBroker;
let kafka: Kafka;

beforeAll(async () => {
  b = await startBroker();
  kafka = new Kafka({
    clientId: 'kch-txn',
    brokers: [b.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8 },
  });
});

afterAll(async () => {
  await b?.close();
});

async function createTopic(topic: string, numPartitions = 1): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions }] });
  await admin.disconnect();
}

function transactionalProducer(transactionalId: string) {
  return kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
}

describe('kafkajs transactions', () => {
  it('read_committed consumers get committed records only, in order', async () => {
    const topic = 'kjs-txn';
    await createTopic(topic, 2);
    const producer = transactionalProducer('kjs-tx-1');
    await producer.connect();
    const committed = await producer.transaction();
    await committed.send({
      topic,
      messages: [0, 1, 2].map((i) => ({ key: `k${i}`, value: `committed-${i}`, partition: i % 2 })),
    });
    await committed.commit();
    const aborted = await producer.transaction();
    await aborted.send({
      topic,
      messages: [0, 1].map((i) => ({ key: `a${i}`, value: `aborted-${i}`, partition: i % 2 })),
    });
    await aborted.abort();
    const last = await producer.transaction();
    await last.send({ topic, messages: [{ key: 'z', value: 'committed-last', partition: 0 }] });
    await last.commit();
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: 'kjs-txn-committed', readUncommitted: false });
    await consumer.connect();
    const got = await consumeMessages(consumer, topic, 4);
    await consumer.disconnect();
    const byPartition = (p: number) =>
      got.filter((m) => m.partition === p).map((m) => m.message.value!.toString());
    expect(byPartition(0)).toEqual(['committed-0', 'committed-2', 'committed-last']);
    expect(byPartition(1)).toEqual(['committed-1']);
    expect(got.some((m) => m.message.value!.toString().startsWith('aborted'))).toBe(false);
  });

  it('read_uncommitted consumers see an open transaction; read_committed ones read it, and what follows, once committed', async () => {
    const topic = 'kjs-txn-open';
    await createTopic(topic);
    const producer = transactionalProducer('kjs-tx-open');
    await producer.connect();
    const plain = kafka.producer();
    await plain.connect();
    const txn = await producer.transaction();
    await txn.send({ topic, messages: [{ value: 'inside' }] });
    await plain.send({ topic, messages: [{ value: 'after' }] });
    const committed = kafka.consumer({ groupId: 'kjs-open-committed' });
    const uncommitted = kafka.consumer({ groupId: 'kjs-open-uncommitted', readUncommitted: true });
    await committed.connect();
    await uncommitted.connect();
    // read_uncommitted sees both now; read_committed sees nothing until the commit.
    const early = await consumeMessages(uncommitted, topic, 2);
    expect(early.map((m) => m.message.value!.toString())).toEqual(['inside', 'after']);
    await txn.commit();
    const late = await consumeMessages(committed, topic, 2);
    expect(late.map((m) => m.message.value!.toString())).toEqual(['inside', 'after']);
    await Promise.all([
      committed.disconnect(),
      uncommitted.disconnect(),
      plain.disconnect(),
      producer.disconnect(),
    ]);
  });

  it('commits consumed offsets with the transaction (sendOffsets)', async () => {
    const input = 'kjs-eos-in';
    await createTopic(input);
    const plain = kafka.producer();
    await plain.connect();
    await plain.send({ topic: input, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
    await plain.disconnect();
    const producer = transactionalProducer('kjs-eos');
    await producer.connect();
    const txn = await producer.transaction();
    await txn.sendOffsets({
      consumerGroupId: 'kjs-eos-group',
      topics: [{ topic: input, partitions: [{ partition: 0, offset: '2' }] }],
    });
    const admin = kafka.admin();
    await admin.connect();
    const before = await admin.fetchOffsets({ groupId: 'kjs-eos-group', topics: [input] });
    expect(before[0]!.partitions[0]!.offset).toBe('-1');
    await txn.commit();
    let after = '-1';
    for (let i = 0; i < 100 && after !== '2'; i++) {
      after = (await admin.fetchOffsets({ groupId: 'kjs-eos-group', topics: [input] }))[0]!.partitions[0]!
        .offset;
      if (after !== '2') await new Promise((r) => setTimeout(r, 20));
    }
    expect(after).toBe('2');
    await admin.disconnect();
    await producer.disconnect();
  });

  it('a second producer with the same transactional id fences the first', async () => {
    const topic = 'kjs-fence';
    await createTopic(topic);
    const first = transactionalProducer('kjs-fenced');
    await first.connect();
    const zombie = await first.transaction();
    await zombie.send({ topic, messages: [{ value: 'zombie' }] });
    const second = transactionalProducer('kjs-fenced');
    await second.connect();
    const fresh = await second.transaction();
    await fresh.send({ topic, messages: [{ value: 'fresh' }] });
    await fresh.commit();
    await expect(zombie.commit()).rejects.toThrow();
    const consumer = kafka.consumer({ groupId: 'kjs-fence-read' });
    await consumer.connect();
    const got = await consumeMessages(consumer, topic, 1);
    expect(got.map((m) => m.message.value!.toString())).toEqual(['fresh']);
    await Promise.all([consumer.disconnect(), first.disconnect(), second.disconnect()]);
  });

  it("measures a read_committed group's lag against the last stable offset, a read_uncommitted one's against the high watermark", async () => {
    const topic = 'kjs-txn-lag';
    await createTopic(topic);
    const plain = kafka.producer();
    await plain.connect();
    const producer = transactionalProducer('kjs-tx-lag');
    await producer.connect();
    await plain.send({ topic, messages: [{ value: 'a' }, { value: 'b' }] }); // offsets 0, 1
    const txn = await producer.transaction();
    await txn.send({ topic, messages: [{ value: 'open' }] }); // 2: the last stable offset
    await plain.send({ topic, messages: [{ value: 'c' }] }); // 3; the high watermark is 4
    // Each group's consumers under their own client id: that is how their fetches are told apart.
    const consumerOf = (clientId: string, groupId: string, readUncommitted: boolean) =>
      new Kafka({ clientId, brokers: [b.bootstrap], logLevel: logLevel.NOTHING }).consumer({
        groupId,
        readUncommitted,
      });
    const committed = consumerOf('kjs-lag-committed', 'kjs-lag-c', false);
    const uncommitted = consumerOf('kjs-lag-uncommitted', 'kjs-lag-u', true);
    await committed.connect();
    await uncommitted.connect();
    await consumeMessages(committed, topic, 2);
    await consumeMessages(uncommitted, topic, 4);
    // Disconnecting commits what was consumed: 2 (all a read_committed consumer can read) and 4.
    await Promise.all([committed.disconnect(), uncommitted.disconnect()]);
    const metrics = brokerMetrics(b.broker);
    const lag = async (group: string) => {
      const line = (await metrics.render())
        .split('\n')
        .find((l) => l.startsWith(`kch_consumer_group_lag{group="${group}",topic="${topic}",partition="0"}`));
      return Number(line?.split(' ')[1]);
    };
    try {
      expect(await lag('kjs-lag-c')).toBe(0);
      expect(await lag('kjs-lag-u')).toBe(0);
      await txn.commit(); // the marker at 4: both ends are 5
      expect(await lag('kjs-lag-c')).toBe(3);
      expect(await lag('kjs-lag-u')).toBe(1);
    } finally {
      metrics.close();
      await Promise.all([plain.disconnect(), producer.disconnect()]);
    }
  });
});
