/**
 * @platformatic/kafka, unchanged, against a broker over TCP: admin, an idempotent producer, and a
 * consumer group read through the library's message stream, commit and leave. One more client that
 * reads Kafka's protocol its own way (the CLI is built on it, but these tests use none of kch's code).
 */
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBroker, startBroker } from './helpers/broker.js';

let b: RunningBroker;
let admin: Admin;
const clientOptions = () => ({ clientId: 'platformatic-test', bootstrapBrokers: [b.bootstrap], retries: 5 });

beforeAll(async () => {
  b = await startBroker();
  admin = new Admin(clientOptions());
});

afterAll(async () => {
  await admin?.close();
  await b?.close();
});

describe('@platformatic/kafka', () => {
  it('creates, lists, describes and deletes topics', async () => {
    const [created] = await admin.createTopics({
      topics: ['pk-admin'],
      partitions: 3,
      configs: [{ name: 'retention.ms', value: '3600000' }],
    });
    expect(created).toMatchObject({ name: 'pk-admin', partitions: 3, replicas: 1 });
    expect(await admin.listTopics()).toContain('pk-admin');
    const [described] = await admin.describeConfigs({
      resources: [{ resourceType: 2, resourceName: 'pk-admin', configurationKeys: ['retention.ms'] }],
    });
    expect(described!.configs.find((c) => c.name === 'retention.ms')?.value).toBe('3600000');
    await admin.deleteTopics({ topics: ['pk-admin'] });
    expect(await admin.listTopics()).not.toContain('pk-admin');
  });

  it('produces idempotently and consumes in a group that commits, then leaves', async () => {
    await admin.createTopics({ topics: ['pk-orders'], partitions: 2 });
    const producer = new Producer({ ...clientOptions(), idempotent: true, serializers: stringSerializers });
    const sent = await producer.send({
      messages: Array.from({ length: 6 }, (_, i) => ({
        topic: 'pk-orders',
        key: `k${i % 3}`,
        value: `v${i}`,
        headers: new Map([['n', String(i)]]),
      })),
    });
    await producer.close();
    expect(sent.offsets?.map((o) => o.offset)).toEqual(sent.offsets?.map(() => 0n));

    const consumer = new Consumer({
      ...clientOptions(),
      groupId: 'pk-group',
      deserializers: stringDeserializers,
      autocommit: false,
    });
    const stream = await consumer.consume({ topics: ['pk-orders'], mode: 'earliest' });
    const seen: string[] = [];
    for await (const message of stream) {
      expect(message.headers.get('n')).toBe(message.value.slice(1));
      seen.push(message.value);
      await message.commit();
      if (seen.length === 6) break;
    }
    await stream.close();
    expect(seen.sort()).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5']);

    const groups = await admin.describeGroups({ groups: ['pk-group'] });
    expect(groups.get('pk-group')?.protocolType).toBe('consumer');
    await consumer.close();
    // Closed: the member left, and its commits stay.
    expect((await admin.describeGroups({ groups: ['pk-group'] })).get('pk-group')?.members.size).toBe(0);
    const [offsets] = await admin.listConsumerGroupOffsets({ groups: ['pk-group'] });
    const committed = offsets!.topics[0]!.partitions.map((p) => p.committedOffset);
    expect(committed.reduce((a, c) => a + c, 0n)).toBe(6n);
  });
});
