/**
 * Record checks on memory storage, over TCP: a JSON Schema (`kch.schema`) or a zod schema (the `topics`
 * option) per topic, in reject mode (INVALID_RECORD with per-record errors, seen by a raw client and
 * by kafkajs) and dead-letter mode (holes where the invalid records were, the dead-letter topic with
 * its headers, idempotent retries, batches left with no records), the metrics, the configs through
 * the admin APIs, and topics declared in the broker options.
 */
import {
  BrokerOptionsError,
  brokerMetrics,
  createBroker,
  DEAD_LETTER_HEADERS,
  silentLogger,
  TopicDeclarationError,
} from '@kch/broker';
import { RawClient } from '@kch/kafka-connection';
import {
  CompressionType,
  type DecodedBatch,
  decodeBatch,
  ErrorCode,
  encodeRecordBatchSync,
  type RecordInput,
  splitBatches,
} from '@kch/protocol';
import { memoryStorage, type Storage, StorageError } from '@kch/storage';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type RunningBroker, startBroker } from './helpers/broker.js';

const SCHEMA = JSON.stringify({
  type: 'object',
  properties: { id: { type: 'integer' }, name: { type: 'string' } },
  required: ['id'],
});

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

const rec = (
  value: Buffer | string | null,
  key = 'k',
  headers: RecordInput['headers'] = [],
): RecordInput => ({
  key: Buffer.from(key),
  value: typeof value === 'string' ? Buffer.from(value) : value,
  headers,
  timestamp: BigInt(Date.now()),
});

interface BatchOptions {
  producerId?: bigint;
  baseSequence?: number;
  compression?: CompressionType;
}

const batch = (records: RecordInput[], o: BatchOptions = {}) =>
  encodeRecordBatchSync({
    records,
    producerId: o.producerId ?? -1n,
    producerEpoch: o.producerId === undefined ? -1 : 0,
    baseSequence: o.baseSequence ?? -1,
    compression: o.compression,
  });

/** A raw client with the few requests these tests send. */
class Client {
  constructor(readonly raw: RawClient) {}

  static async connect(b: RunningBroker): Promise<Client> {
    return new Client(await RawClient.connect(b.host, b.port));
  }

  async createTopic(name: string, configs: Record<string, string> = {}, partitions = 1) {
    const r = await this.raw.send('CreateTopics', 7, {
      topics: [
        {
          name,
          numPartitions: partitions,
          replicationFactor: -1,
          configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })),
        },
      ],
      timeoutMs: 5000,
    });
    return r.topics[0]!;
  }

  async produce(topic: string, records: Buffer, partition = 0) {
    const r = await this.raw.send('Produce', 9, {
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
    });
    return r.responses[0]!.partitionResponses[0]!;
  }

  async fetch(topic: string, offset = 0n, partition = 0) {
    const r = await this.raw.send('Fetch', 12, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 24,
      isolationLevel: 0,
      topics: [{ topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 1 << 24 }] }],
    });
    const p = r.responses[0]!.partitions[0]!;
    const batches: DecodedBatch[] = [];
    for (const bytes of splitBatches(p.records ?? Buffer.alloc(0)).batches)
      batches.push(await decodeBatch(bytes));
    return { partition: p, batches };
  }

  /** Every record from `offset` on, with its absolute offset. */
  async records(topic: string, partition = 0) {
    const { batches } = await this.fetch(topic, 0n, partition);
    return batches.flatMap((b) =>
      b.records.map((r) => ({
        offset: Number(b.header.baseOffset) + r.offsetDelta,
        key: r.key?.toString() ?? null,
        value: r.value?.toString() ?? null,
        headers: Object.fromEntries(r.headers.map((h) => [h.key, h.value?.toString() ?? null])),
      })),
    );
  }
}

describe('reject mode', () => {
  let b: RunningBroker;
  let c: Client;
  beforeAll(async () => {
    b = await startBroker({
      topics: {
        'zod-orders': { schema: z.object({ sku: z.string().min(1), qty: z.number().int().positive() }) },
      },
    });
    c = await Client.connect(b);
  });
  afterAll(async () => {
    c?.raw.close();
    await b?.close();
  });

  it('fails the batch with INVALID_RECORD, an error per failed record, and stores nothing', async () => {
    expect((await c.createTopic('rj', { 'kch.schema': SCHEMA })).errorCode).toBe(0);
    const r = await c.produce(
      'rj',
      batch([rec(json({ id: 1 })), rec('{"id": 2'), rec(json({ id: 'three' })), rec(json({ id: 4 }))]),
    );
    expect(r.errorCode).toBe(ErrorCode.INVALID_RECORD);
    expect(r.baseOffset).toBe(-1n);
    expect(r.recordErrors).toEqual([
      {
        batchIndex: 1,
        batchIndexErrorMessage: expect.stringMatching(/^the value is not valid JSON: .*\(kch\.schema\)$/),
      },
      {
        batchIndex: 2,
        batchIndexErrorMessage: 'the value does not match kch.schema: id: expected integer, got "three"',
      },
    ]);
    expect(r.errorMessage).toMatch(/^2 of 4 records were rejected; the first: the value is not valid JSON/);
    expect(await c.records('rj')).toEqual([]);
    const ok = await c.produce('rj', batch([rec(json({ id: 1, name: 'a' })), rec(json({ id: 2 }))]));
    expect(ok).toMatchObject({ errorCode: 0, baseOffset: 0n });
  });

  it('checks compressed batches, and tombstones as JSON null', async () => {
    const nullable = JSON.stringify({ type: ['object', 'null'], required: ['id'] });
    await c.createTopic('rj-null', { 'kch.schema': nullable });
    const compressed = batch([rec(json({ id: 1 })), rec(null), rec(json({}))], {
      compression: CompressionType.Gzip,
    });
    const r = await c.produce('rj-null', compressed);
    expect(r.recordErrors).toEqual([
      { batchIndex: 2, batchIndexErrorMessage: expect.stringContaining('id') },
    ]);
    await c.createTopic('rj-strict', { 'kch.schema': SCHEMA });
    const t = await c.produce('rj-strict', batch([rec(null), rec(Buffer.from([0xff, 0xfe]))]));
    expect(t.recordErrors).toEqual([
      { batchIndex: 0, batchIndexErrorMessage: expect.stringContaining('expected object') },
      { batchIndex: 1, batchIndexErrorMessage: expect.stringContaining('not UTF-8') },
    ]);
  });

  it('applies a zod schema given in the topics option, as kafkajs sees it: INVALID_RECORD', async () => {
    const kafka = new Kafka({ clientId: 'kch-test', brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ retry: { retries: 0 } });
    await producer.connect();
    try {
      await producer.send({
        topic: 'zod-orders',
        messages: [{ value: JSON.stringify({ sku: 'a', qty: 1 }) }],
      });
      const failure = await producer
        .send({
          topic: 'zod-orders',
          messages: [
            { value: JSON.stringify({ sku: 'b', qty: 2 }) },
            { value: JSON.stringify({ sku: '', qty: 0 }) },
          ],
        })
        .then(
          () => null,
          (e: unknown) => e as { type?: string; name: string; message: string },
        );
      expect(failure).not.toBeNull();
      expect(failure!.type).toBe('INVALID_RECORD');
      const r = await c.produce('zod-orders', batch([rec(json({ sku: '', qty: 0 }))]));
      expect(r.recordErrors).toEqual([
        {
          batchIndex: 0,
          batchIndexErrorMessage: expect.stringMatching(
            /^the value does not match the schema of topics\.zod-orders in the broker options: sku: .*; qty: /,
          ),
        },
      ]);
    } finally {
      await producer.disconnect();
    }
    expect((await c.records('zod-orders')).map((r) => r.value)).toEqual([
      JSON.stringify({ sku: 'a', qty: 1 }),
    ]);
  });
});

describe('dead-letter mode', () => {
  let b: RunningBroker;
  let c: Client;
  const errors: { msg: string; fields?: Record<string, unknown> }[] = [];
  beforeAll(async () => {
    b = await startBroker({
      logger: { ...silentLogger, error: (msg, fields) => errors.push({ msg, fields }) },
    });
    c = await Client.connect(b);
  });
  afterAll(async () => {
    c?.raw.close();
    await b?.close();
  });
  const deadLetter = { 'kch.schema': SCHEMA, 'kch.invalid.records': 'dead-letter' };

  it('stores the valid records at their offsets, with holes, and the invalid ones in <topic>.dlq', async () => {
    await c.createTopic('dl', deadLetter, 2);
    const sent = [
      rec(json({ id: 1 }), 'k0', [{ key: 'h', value: Buffer.from('v0') }]),
      rec('nope', 'k1', [{ key: 'trace', value: Buffer.from('t1') }]),
      rec(json({ id: 2 }), 'k2'),
      rec(json({ id: 'x' }), 'k3'),
      rec(json({ id: 3 }), 'k4'),
    ];
    const r = await c.produce('dl', batch(sent), 1);
    expect(r).toMatchObject({ errorCode: 0, baseOffset: 0n, recordErrors: [] });
    const { partition, batches } = await c.fetch('dl', 0n, 1);
    expect(partition.highWatermark).toBe(5n);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.header).toMatchObject({ baseOffset: 0n, lastOffsetDelta: 4, recordCount: 3 });
    expect((await c.records('dl', 1)).map((x) => [x.offset, x.key])).toEqual([
      [0, 'k0'],
      [2, 'k2'],
      [4, 'k4'],
    ]);
    const dlq = await c.records('dl.dlq', 1);
    expect(dlq).toEqual([
      {
        offset: 0,
        key: 'k1',
        value: 'nope',
        headers: {
          trace: 't1',
          [DEAD_LETTER_HEADERS.reason]: expect.stringContaining('not valid JSON'),
          [DEAD_LETTER_HEADERS.topic]: 'dl',
          [DEAD_LETTER_HEADERS.partition]: '1',
          [DEAD_LETTER_HEADERS.offset]: '1',
        },
      },
      {
        offset: 1,
        key: 'k3',
        value: JSON.stringify({ id: 'x' }),
        headers: {
          [DEAD_LETTER_HEADERS.reason]: 'the value does not match kch.schema: id: expected integer, got "x"',
          [DEAD_LETTER_HEADERS.topic]: 'dl',
          [DEAD_LETTER_HEADERS.partition]: '1',
          [DEAD_LETTER_HEADERS.offset]: '3',
        },
      },
    ]);
    // The dead-letter topic was created with the partitions of its source.
    expect(b.broker.context.topics.get('dl.dlq')!.logs).toHaveLength(2);
    // The next batch follows the whole offset range of the previous one.
    expect(await c.produce('dl', batch([rec(json({ id: 5 }))]), 1)).toMatchObject({ baseOffset: 5n });
  });

  it('keeps the timestamps of dead-lettered records, and a compressed batch stays compressed', async () => {
    await c.createTopic('dl-gzip', { ...deadLetter, 'kch.dead.letter.topic': 'dl-gzip-bad' });
    const old = Date.now() - 60_000;
    const sent: RecordInput[] = [
      { value: json({ id: 1 }), timestamp: BigInt(old) },
      { value: Buffer.from('x'), timestamp: BigInt(old + 5) },
    ];
    expect(await c.produce('dl-gzip', batch(sent, { compression: CompressionType.Gzip }))).toMatchObject({
      errorCode: 0,
    });
    const [kept] = (await c.fetch('dl-gzip')).batches;
    expect(kept!.header).toMatchObject({
      compression: CompressionType.Gzip,
      recordCount: 1,
      lastOffsetDelta: 1,
    });
    expect(kept!.header.baseTimestamp).toBe(BigInt(old));
    const [bad] = (await c.fetch('dl-gzip-bad')).batches;
    expect(bad!.header.baseTimestamp + BigInt(bad!.records[0]!.timestampDelta)).toBe(BigInt(old + 5));
  });

  it('stores a batch whose records all failed with none; offsets, fetches and the next batch go on', async () => {
    await c.createTopic('dl-all', deadLetter);
    expect(await c.produce('dl-all', batch([rec(json({ id: 1 })), rec(json({ id: 2 }))]))).toMatchObject({
      baseOffset: 0n,
    });
    expect(await c.produce('dl-all', batch([rec('a'), rec('b'), rec('c')]))).toMatchObject({
      errorCode: 0,
      baseOffset: 2n,
    });
    expect(await c.produce('dl-all', batch([rec(json({ id: 6 }))]))).toMatchObject({ baseOffset: 5n });
    const { partition, batches } = await c.fetch('dl-all', 2n);
    expect(partition.highWatermark).toBe(6n);
    expect(batches.map((x) => [x.header.baseOffset, x.header.lastOffsetDelta, x.records.length])).toEqual([
      [2n, 2, 0],
      [5n, 0, 1],
    ]);
    expect(
      (await c.records('dl-all.dlq')).map((x) => [x.value, x.headers[DEAD_LETTER_HEADERS.offset]]),
    ).toEqual([
      ['a', '2'],
      ['b', '3'],
      ['c', '4'],
    ]);
  });

  it('an idempotent producer: a retried batch is a duplicate, acknowledged once and dead-lettered once', async () => {
    await c.createTopic('dl-idem', deadLetter);
    const init = await c.raw.send('InitProducerId', 4, {
      transactionalId: null,
      transactionTimeoutMs: 60000,
    });
    const producerId = init.producerId;
    const first = () =>
      batch([rec(json({ id: 1 })), rec('bad'), rec(json({ id: 3 }))], { producerId, baseSequence: 0 });
    expect(await c.produce('dl-idem', first())).toMatchObject({ errorCode: 0, baseOffset: 0n });
    // The retry: same sequence numbers; the broker answers with the original offset and stores nothing.
    expect(await c.produce('dl-idem', first())).toMatchObject({ errorCode: 0, baseOffset: 0n });
    // The next batch continues the sequence after the whole of the first (3 records, one of them a hole).
    const next = batch([rec('bad again'), rec(json({ id: 5 }))], { producerId, baseSequence: 3 });
    expect(await c.produce('dl-idem', next)).toMatchObject({ errorCode: 0, baseOffset: 3n });
    // A sequence that skips the hole is out of order, as for any batch.
    const gap = batch([rec(json({ id: 6 }))], { producerId, baseSequence: 6 });
    expect((await c.produce('dl-idem', gap)).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect((await c.records('dl-idem')).map((x) => x.offset)).toEqual([0, 2, 4]);
    expect(
      (await c.records('dl-idem.dlq')).map((x) => [x.value, x.headers[DEAD_LETTER_HEADERS.offset]]),
    ).toEqual([
      ['bad', '1'],
      ['bad again', '3'],
    ]);
    const producers = await c.raw.send('DescribeProducers', 0, {
      topics: [{ name: 'dl-idem', partitionIndexes: [0] }],
    });
    expect(producers.topics[0]!.partitions[0]!.activeProducers).toEqual([
      expect.objectContaining({ producerId, lastSequence: 4 }),
    ]);
  });

  it('counts rejected, dead-lettered and lost records in the metrics, and logs a loss with its offsets', async () => {
    const metrics = brokerMetrics(b.broker);
    try {
      await c.createTopic('dl-metrics', { ...deadLetter, 'kch.dead.letter.topic': 'dl-metrics-bad' }, 2);
      // The dead-letter topic exists with one partition: partition 1 has no partition to go to.
      await c.createTopic('dl-metrics-bad', {}, 1);
      await c.produce('dl-metrics', batch([rec('x'), rec(json({ id: 1 })), rec('y')]), 0);
      await c.produce('dl-metrics', batch([rec('z'), rec(json({ id: 2 }))]), 1);
      await c.createTopic('rj-metrics', { 'kch.schema': SCHEMA });
      await c.produce('rj-metrics', batch([rec('x'), rec('y'), rec(json({ id: 1 }))]));
      const text = await metrics.render();
      expect(text).toContain('kch_records_dead_lettered_total{topic="dl-metrics"} 2');
      expect(text).toContain('kch_dead_letter_failures_total{topic="dl-metrics"} 1');
      expect(text).toContain('kch_records_rejected_total{topic="rj-metrics"} 2');
      const loss = errors.find((e) => e.fields?.topic === 'dl-metrics');
      expect(loss?.msg).toMatch(/dead-letter/);
      expect(loss?.fields).toMatchObject({ partition: 1, offsets: [0], deadLetterTopic: 'dl-metrics-bad' });
      // The producer was answered with success: the valid record is stored.
      expect((await c.records('dl-metrics', 1)).map((x) => x.offset)).toEqual([1]);
    } finally {
      metrics.close();
    }
  });

  it('emits invalid-records events', async () => {
    const seen: unknown[] = [];
    const listener = (e: unknown) => seen.push(e);
    b.broker.on('invalid-records', listener);
    try {
      await c.createTopic('dl-events', deadLetter);
      await c.produce('dl-events', batch([rec('x')]));
    } finally {
      b.broker.off('invalid-records', listener);
    }
    expect(seen).toEqual([
      {
        topic: 'dl-events',
        partition: 0,
        records: 1,
        outcome: 'dead-lettered',
        reason: expect.stringContaining('not valid JSON'),
        deadLetterTopic: 'dl-events.dlq',
      },
    ]);
  });
});

describe('configs through the admin APIs', () => {
  let b: RunningBroker;
  let c: Client;
  let kafka: Kafka;
  beforeAll(async () => {
    b = await startBroker();
    c = await Client.connect(b);
    kafka = new Kafka({ clientId: 'kch-test', brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
  });
  afterAll(async () => {
    c?.raw.close();
    await b?.close();
  });

  it('DescribeConfigs shows the kch.* configs; AlterConfigs sets them and refuses bad values', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'cfg' }] });
      const describe = async () => {
        const r = await admin.describeConfigs({
          includeSynonyms: false,
          resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg' }],
        });
        return Object.fromEntries(r.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
      };
      const described = await describe();
      expect(described).toMatchObject({ 'kch.format': 'JSONEachRow', 'kch.invalid.records': 'reject' });
      // Unset kch configs are left out (only a sensitive config has a null value on Kafka).
      expect(Object.keys(described)).not.toContain('kch.schema');
      expect(Object.keys(described)).not.toContain('kch.dead.letter.topic');
      expect(Object.values(described)).not.toContain(null);
      const alter = (configEntries: { name: string; value: string }[]) =>
        admin.alterConfigs({
          validateOnly: false,
          resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg', configEntries }],
        });
      // kafkajs shows the error type; the raw client below shows the broker's message.
      const refused = await alter([{ name: 'kch.schema', value: '{"type": "object",' }]).then(
        () => null,
        (e: { type?: string }) => e,
      );
      expect(refused?.type).toBe('INVALID_CONFIG');
      const refusal = async (name: string, value: string) => {
        const r = await c.raw.send('AlterConfigs', 2, {
          resources: [{ resourceType: 2, resourceName: 'cfg', configs: [{ name, value }] }],
          validateOnly: false,
        });
        expect(r.responses[0]!.errorCode).toBe(ErrorCode.INVALID_CONFIG);
        return r.responses[0]!.errorMessage;
      };
      expect(await refusal('kch.schema', '{"type": "object",')).toMatch(
        /^Invalid value \{"type": "object", for configuration kch\.schema: not valid JSON: /,
      );
      expect(await refusal('kch.schema', '{"type": "strin"}')).toMatch(
        /not a JSON Schema kch can enforce: #\/type: expected one of .*"string", got "strin"$/,
      );
      // A misspelt keyword, which JSON Schema would ignore, loosening the schema.
      expect(await refusal('kch.schema', '{"type": "object", "require": ["id"]}')).toMatch(
        /not a JSON Schema kch can enforce: unknown keyword "require"/,
      );
      expect(await refusal('kch.schema', '[1]')).toMatch(/must be a JSON object/);
      expect(await refusal('kch.invalid.records', 'drop')).toMatch(/one of: reject, dead-letter/);
      expect(await refusal('kch.format', 'Parquet')).toMatch(/JSONEachRow, CSV, TabSeparated, TSV/);
      expect(await refusal('kch.dead.letter.topic', 'cfg')).toMatch(/its own dead-letter topic/);
      expect(await refusal('kch.dead.letter.topic', 'bad name')).toMatch(/not a usable topic name/);
      expect(await refusal('kch.table', '')).toMatch(/must name a ClickHouse table/);
      await alter([
        { name: 'kch.schema', value: SCHEMA },
        { name: 'kch.invalid.records', value: 'dead-letter' },
      ]);
      expect(await describe()).toMatchObject({ 'kch.schema': SCHEMA, 'kch.invalid.records': 'dead-letter' });
    } finally {
      await admin.disconnect();
    }
    // The new configs apply to the next Produce.
    expect(await c.produce('cfg', batch([rec('x'), rec(json({ id: 1 }))]))).toMatchObject({ errorCode: 0 });
    expect((await c.records('cfg.dlq')).map((x) => x.value)).toEqual(['x']);
  });

  it('IncrementalAlterConfigs and CreateTopics validate kch.schema too', async () => {
    const created = await c.createTopic('cfg-bad', { 'kch.schema': 'nope' });
    expect(created.errorCode).toBe(ErrorCode.INVALID_CONFIG);
    expect(created.errorMessage).toMatch(/^Invalid value nope for configuration kch\.schema: not valid JSON/);
    await c.createTopic('cfg-inc');
    const r = await c.raw.send('IncrementalAlterConfigs', 1, {
      resources: [
        {
          resourceType: 2,
          resourceName: 'cfg-inc',
          configs: [
            { name: 'kch.schema', configOperation: 0, value: '{"$ref": "https://example.com/s.json"}' },
          ],
        },
      ],
      validateOnly: false,
    });
    expect(r.responses[0]).toMatchObject({
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage: expect.stringContaining('$ref "https://example.com/s.json" is not in the schema'),
    });
  });
});

describe('topics declared in the broker options', () => {
  /** Memory storage that outlives its broker, as a persistent storage outlives a restart. */
  const persistent = (): Storage => Object.assign(memoryStorage(), { close: async () => {} });

  it('creates them at start, and brings their configs in line at the next start', async () => {
    const storage = persistent();
    const orderSchema = { type: 'object', required: ['id'] };
    const first = await createBroker({
      storage,
      logger: silentLogger,
      topics: {
        orders: {
          partitions: 2,
          onInvalid: 'dead-letter',
          schema: orderSchema,
          configs: { 'retention.ms': 3600000 },
        },
        events: { schema: z.object({ type: z.string() }) },
      },
    });
    const topic = (name: string) => first.context.topics.get(name)!;
    expect(topic('orders').logs).toHaveLength(2);
    expect(topic('orders').record.configs).toEqual({
      'kch.invalid.records': 'dead-letter',
      'kch.schema': JSON.stringify(orderSchema),
      'retention.ms': '3600000',
    });
    // A zod schema is not stored: it lives in this broker.
    expect(topic('events').record.configs).toEqual({});
    const { port } = await first.listen({ host: '127.0.0.1', port: 0 });
    const c = new Client(await RawClient.connect('127.0.0.1', port));
    expect((await c.produce('events', batch([rec(json({ type: 1 }))]))).errorCode).toBe(
      ErrorCode.INVALID_RECORD,
    );
    expect((await c.produce('orders', batch([rec(json({}))]))).errorCode).toBe(0);
    expect((await c.records('orders.dlq')).length).toBe(1);
    // An operator's change to a config the declaration does not name survives restarts.
    await first.context.topics.setConfigs('orders', {
      ...topic('orders').record.configs,
      'segment.ms': '60000',
    });
    c.raw.close();
    await first.close();

    const second = await createBroker({
      storage,
      logger: silentLogger,
      topics: {
        orders: { partitions: 3, deadLetterTopic: 'orders-bad', configs: { 'retention.ms': '7200000' } },
      },
    });
    const orders = second.context.topics.get('orders')!;
    expect(orders.logs).toHaveLength(3);
    expect(orders.record.configs).toEqual({
      'kch.dead.letter.topic': 'orders-bad',
      'retention.ms': '7200000',
      'segment.ms': '60000',
    });
    // A topic no longer declared keeps what it has.
    expect(second.context.topics.get('events')).toBeDefined();
    await second.close();
  });

  it('refuses bad declarations when the broker is created, naming the topic', async () => {
    const create = (topics: Record<string, unknown>) =>
      createBroker({ storage: memoryStorage(), logger: silentLogger, topics: topics as never });
    await expect(create({ orders: { schema: { type: 'strin' } } })).rejects.toThrow(
      new BrokerOptionsError(
        'invalid broker options: topics.orders: Invalid value {"type":"strin"} for configuration kch.schema: not a JSON Schema kch can enforce: #/type: expected one of "array"|"boolean"|"integer"|"null"|"number"|"object"|"string", got "strin"',
      ),
    );
    await expect(
      create({ orders: { onInvalid: 'dead-letter', configs: { 'kch.invalid.records': 'reject' } } }),
    ).rejects.toThrow(/topics\.orders: onInvalid and configs\["kch\.invalid\.records"\] say the same thing/);
    await expect(create({ 'bad name': {} })).rejects.toThrow(/topics: topic name "bad name" has characters/);
    await expect(create({ orders: { deadLetterTopic: 'orders' } })).rejects.toThrow(
      /its own dead-letter topic/,
    );
    await expect(create({ orders: { schema: 'text' } })).rejects.toThrow(
      /must be a zod schema .* or a JSON Schema object/,
    );
    await expect(create({ orders: { format: 'Avro' } })).rejects.toThrow(BrokerOptionsError);
  });

  it("fails the start when the storage refuses a declaration, saying which topic and the storage's reason", async () => {
    // A storage without table bindings, as memory storage is.
    const storage = memoryStorage();
    const createTopic = storage.createTopic.bind(storage);
    storage.createTopic = async (t) => {
      if (t.configs['kch.table'] !== undefined)
        throw new StorageError('INVALID_REQUEST', 'this storage cannot bind topics to tables', false);
      return createTopic(t);
    };
    const failure = await createBroker({
      storage,
      logger: silentLogger,
      topics: { orders: { table: 'shop.orders' } },
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(TopicDeclarationError);
    expect(failure).toMatchObject({
      topic: 'orders',
      message:
        'topic orders (declared in the topics option): cannot create it: topic orders: this storage cannot bind topics to tables',
    });
  });
});
