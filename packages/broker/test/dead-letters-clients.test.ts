/**
 * A topic in dead-letter mode with real clients (kafkajs; librdkafka through python3-confluent-kafka),
 * on memory storage and on embedded ClickHouse (the "chdb" project): idempotent producers are answered
 * with success, consumers read the valid records at their offsets across the holes the invalid ones
 * left, and the dead-letter topic holds the invalid ones with their key, value and headers plus the
 * kch.dlq.* headers. On ClickHouse this proves the topic table stores and reads batches with holes.
 */
import { fileURLToPath } from 'node:url';
import { DEAD_LETTER_HEADERS } from '@kch/broker';
import { type EachMessagePayload, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBroker, startBroker } from './helpers/broker.js';
import { consumeMessages } from './helpers/kafkajs.js';
import { run } from './helpers/run.js';
import { skipEachUnless } from './helpers/skip.js';
import { confluentKafka, PYTHON } from './helpers/tools.js';

const SCHEMA = JSON.stringify({
  type: 'object',
  properties: { sku: { type: 'string' }, qty: { type: 'integer', minimum: 1 } },
  required: ['sku', 'qty'],
});

let b: RunningBroker;
let kafka: Kafka;

beforeAll(async () => {
  b = await startBroker();
  kafka = new Kafka({ clientId: 'kch-test', brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
});

afterAll(async () => {
  await b?.close();
});

const text = (b: Buffer | string | (Buffer | string)[] | null | undefined) =>
  b === null || b === undefined ? null : Array.isArray(b) ? b.map(String) : b.toString();

describe('dead-letter mode with kafkajs', () => {
  it('acknowledges every record; valid ones are read at their offsets, invalid ones from <topic>.dlq', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        {
          topic: 'kj-orders',
          configEntries: [
            { name: 'kch.schema', value: SCHEMA },
            { name: 'kch.invalid.records', value: 'dead-letter' },
          ],
        },
      ],
    });
    await admin.disconnect();

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const order = (sku: string, qty: unknown) => JSON.stringify({ sku, qty });
    // Two requests: invalid records inside the first batch and at the end of the second.
    const first = await producer.send({
      topic: 'kj-orders',
      acks: -1,
      messages: [
        { key: 'a', value: order('a', 1) },
        { key: 'b', value: order('b', 0), headers: { trace: 't-b' } },
        { key: 'c', value: order('c', 3) },
        { key: 'd', value: '{"sku": "d"' },
        { key: 'e', value: order('e', 5) },
      ],
    });
    const second = await producer.send({
      topic: 'kj-orders',
      acks: -1,
      messages: [
        { key: 'f', value: order('f', 6) },
        { key: 'g', value: order('g', 'seven') },
      ],
    });
    await producer.disconnect();
    expect(first[0]).toMatchObject({ errorCode: 0, baseOffset: '0' });
    expect(second[0]).toMatchObject({ errorCode: 0, baseOffset: '5' });

    const consumer = kafka.consumer({ groupId: 'kj-orders-reader' });
    await consumer.connect();
    const valid = await consumeMessages(consumer, 'kj-orders', 4);
    await consumer.disconnect();
    expect(valid.map((m) => [m.message.offset, text(m.message.key)])).toEqual([
      ['0', 'a'],
      ['2', 'c'],
      ['4', 'e'],
      ['5', 'f'],
    ]);

    const dlqConsumer = kafka.consumer({ groupId: 'kj-orders-dlq-reader' });
    await dlqConsumer.connect();
    const dead = await consumeMessages(dlqConsumer, 'kj-orders.dlq', 3);
    await dlqConsumer.disconnect();
    const headers = (m: EachMessagePayload) =>
      Object.fromEntries(Object.entries(m.message.headers ?? {}).map(([k, v]) => [k, text(v)]));
    expect(
      dead.map((m) => ({ key: text(m.message.key), value: text(m.message.value), headers: headers(m) })),
    ).toEqual([
      {
        key: 'b',
        value: order('b', 0),
        headers: {
          trace: 't-b',
          [DEAD_LETTER_HEADERS.reason]: expect.stringMatching(/^the value does not match kch\.schema: qty: /),
          [DEAD_LETTER_HEADERS.topic]: 'kj-orders',
          [DEAD_LETTER_HEADERS.partition]: '0',
          [DEAD_LETTER_HEADERS.offset]: '1',
        },
      },
      {
        key: 'd',
        value: '{"sku": "d"',
        headers: expect.objectContaining({
          [DEAD_LETTER_HEADERS.reason]: expect.stringContaining('not valid JSON'),
          [DEAD_LETTER_HEADERS.offset]: '3',
        }),
      },
      {
        key: 'g',
        value: order('g', 'seven'),
        headers: expect.objectContaining({ [DEAD_LETTER_HEADERS.offset]: '6' }),
      },
    ]);
  });
});

describe('dead-letter mode with confluent-kafka', () => {
  skipEachUnless(confluentKafka);
  it('an idempotent librdkafka producer and consumer work across the holes', async () => {
    const script = fileURLToPath(new URL('./python/confluent_dead_letters.py', import.meta.url));
    const r = await run(PYTHON, [script, b.bootstrap, 'ck-dl'], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const invalid = (i: number) => i % 5 === 4;
    const indexes = Array.from({ length: 51 }, (_, i) => i);
    expect(out).toMatchObject({
      errors: [],
      delivered_at_index: true,
      high: 51,
      offsets: indexes.filter((i) => !invalid(i)),
      values: indexes.filter((i) => !invalid(i)),
      dlq_high: 10,
    });
    expect(out.dead).toHaveLength(10);
    expect(out.dead[0]).toEqual({
      offset: 0,
      key: 'k4',
      value: 'not json 4',
      headers: {
        i: '4',
        [DEAD_LETTER_HEADERS.reason]: expect.stringContaining('not valid JSON'),
        [DEAD_LETTER_HEADERS.topic]: 'ck-dl',
        [DEAD_LETTER_HEADERS.partition]: '0',
        [DEAD_LETTER_HEADERS.offset]: '4',
      },
    });
    expect(
      out.dead.map((d: { headers: Record<string, string> }) => d.headers[DEAD_LETTER_HEADERS.offset]),
    ).toEqual(indexes.filter(invalid).map(String));
  });
});
