/**
 * What Kafka clients see of kch's rule that it never touches what it did not create (embedded
 * ClickHouse, real TCP): a topic whose table name a user's table has is refused with
 * INVALID_TOPIC_EXCEPTION and the reason, whether created or auto-created; deleting a topic keeps a
 * table that is not kch's; topic creation and deletion are logged with who asked; a 249-character topic
 * works end to end with kafkajs and SQL; a storage fault is KAFKA_STORAGE_ERROR with its reason once,
 * and logged with its cause.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Broker, createBroker, type Logger } from '@kch/broker';
import { RawClient } from '@kch/kafka-connection';
import { ErrorCode, encodeRecordBatchSync, ZERO_UUID } from '@kch/protocol';
import { type ClickHouseStorage, clickhouseStorage, StorageError } from '@kch/storage';
import { Session } from 'chdb';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumeMessages } from './helpers/kafkajs.js';

const dir = mkdtempSync(join(tmpdir(), 'kch-topic-tables-'));
const database = 'tt';
const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
const logger: Logger = {
  debug() {},
  info: (msg, fields = {}) => lines.push({ level: 'info', msg, fields }),
  warn: (msg, fields = {}) => lines.push({ level: 'warn', msg, fields }),
  error: (msg, fields = {}) => lines.push({ level: 'error', msg, fields }),
};
let broker: Broker;
let storage: ClickHouseStorage;
let client: RawClient;
let sql: Session;
let bootstrap: string;
let port: number;

beforeAll(async () => {
  storage = clickhouseStorage({ chdb: dir, database });
  broker = await createBroker({ storage, logger, groupInitialRebalanceDelayMs: 0 });
  ({ port } = await broker.listen({ host: '127.0.0.1', port: 0 }));
  bootstrap = `127.0.0.1:${port}`;
  client = await RawClient.connect('127.0.0.1', port);
  sql = new Session(dir);
});

afterAll(async () => {
  client?.close();
  await broker?.close();
  sql?.close();
  rmSync(dir, { recursive: true, force: true });
});

const q = async (text: string) => (await sql.queryAsync(text, { format: 'TabSeparated' })).text();
const logged = (msg: string, topic: string) => lines.filter((l) => l.msg === msg && l.fields.topic === topic);

describe("a topic over a user's table", () => {
  it('CreateTopics is refused with INVALID_TOPIC_EXCEPTION and the reason; nothing is registered', async () => {
    await q(`CREATE TABLE ${database}.customers (id UInt32, name String) ENGINE = MergeTree ORDER BY id`);
    await q(`INSERT INTO ${database}.customers VALUES (1, 'ann')`);
    const r = await client.send('CreateTopics', 7, {
      topics: [{ name: 'customers', numPartitions: 1, replicationFactor: 1 }],
    });
    expect(r.topics[0]).toMatchObject({ name: 'customers', errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION });
    expect(r.topics[0]!.errorMessage).toContain(`${database}.customers is a table that kch did not create`);
    expect(r.topics[0]!.errorMessage).toContain(`kch.table=${database}.customers`);
    expect((await storage.listTopics()).map((t) => t.name)).not.toContain('customers');
    expect(logged('topic not created', 'customers')[0]?.fields).toMatchObject({
      via: 'CreateTopics',
      error: expect.stringContaining('kch did not create'),
    });
  });

  it('auto-creation by Metadata (a producer) is refused the same way, the reason in the log', async () => {
    const r = await client.send('Metadata', 12, {
      topics: [{ name: 'customers', topicId: ZERO_UUID }],
      allowAutoTopicCreation: true,
      includeTopicAuthorizedOperations: false,
    });
    expect(r.topics[0]).toMatchObject({ name: 'customers', errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION });
    expect(logged('topic not created', 'customers').at(-1)?.fields).toMatchObject({
      via: 'Metadata',
      clientId: expect.any(String),
      address: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    });
    expect(await q(`SELECT name FROM ${database}.customers`)).toBe('ann\n');
    expect(await q(`SELECT count() FROM ${database}._kch_topics FINAL WHERE name = 'customers'`)).toBe('0\n');
  });

  it('deleting a topic whose table was replaced keeps the table and logs why', async () => {
    await client.send('CreateTopics', 7, {
      topics: [{ name: 'replaced', numPartitions: 1, replicationFactor: 1 }],
    });
    await q(`DROP TABLE ${database}.replaced SYNC`);
    await q(`CREATE TABLE ${database}.replaced (id UInt32) ENGINE = MergeTree ORDER BY id`);
    await q(`INSERT INTO ${database}.replaced VALUES (42)`);
    const r = await client.send('DeleteTopics', 6, {
      topics: [{ name: 'replaced', topicId: ZERO_UUID }],
      timeoutMs: 0,
    });
    expect(r.responses[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(await q(`SELECT id FROM ${database}.replaced`)).toBe('42\n');
    expect(logged('topic deleted, table kept', 'replaced')[0]?.fields.detail).toContain(
      `${database}.replaced was left in place`,
    );
  });
});

describe('topic creation and deletion are logged with who asked', () => {
  it('CreateTopics, Metadata auto-creation and DeleteTopics, with client id and address', async () => {
    const c = await RawClient.connect('127.0.0.1', port);
    try {
      await c.send('CreateTopics', 7, {
        topics: [{ name: 'asked', numPartitions: 1, replicationFactor: 1 }],
      });
      await c.send('Metadata', 12, {
        topics: [{ name: 'auto', topicId: ZERO_UUID }],
        allowAutoTopicCreation: true,
        includeTopicAuthorizedOperations: false,
      });
      await c.send('DeleteTopics', 6, { topics: [{ name: 'asked', topicId: ZERO_UUID }], timeoutMs: 0 });
    } finally {
      c.close();
    }
    const who = { clientId: expect.any(String), address: expect.stringMatching(/^127\.0\.0\.1:\d+$/) };
    expect(logged('topic created', 'asked')[0]?.fields).toMatchObject({ via: 'CreateTopics', ...who });
    expect(logged('topic created', 'auto')[0]?.fields).toMatchObject({
      via: 'Metadata',
      partitions: 1,
      ...who,
    });
    expect(logged('topic deleted', 'asked')[0]?.fields).toMatchObject({ via: 'DeleteTopics', ...who });
  });
});

describe('every Kafka topic name works', () => {
  it('a 249-character topic: kafkajs produces and consumes it, DescribeConfigs names its table, SQL reads it', async () => {
    const topic = `very.long-${'topic_name.'.repeat(30)}`.slice(0, 249);
    expect(topic.length).toBe(249);
    const kafka = new Kafka({ clientId: 'long-names', brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'k', value: 'v1' }, { value: 'v2' }] });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: 'long-names' });
    await consumer.connect();
    try {
      const got = await consumeMessages(consumer, topic, 2);
      expect(got.map((m) => m.message.value?.toString())).toEqual(['v1', 'v2']);
    } finally {
      await consumer.disconnect();
    }
    const described = await client.send('DescribeConfigs', 4, {
      resources: [{ resourceType: 2, resourceName: topic, configurationKeys: ['kch.storage.table'] }],
      includeSynonyms: false,
      includeDocumentation: false,
    });
    const table = described.results[0]!.configs[0]!;
    expect(table).toMatchObject({ name: 'kch.storage.table', readOnly: true });
    expect(table.value).toMatch(
      new RegExp(`^${database}\\.very_long_topic_name_[A-Za-z0-9_]*_[0-9a-f]{16}$`),
    );
    expect(await q(`SELECT value FROM ${table.value} ORDER BY offset`)).toBe('v1\nv2\n');
  });

  it('kch.storage.table cannot be set', async () => {
    const r = await client.send('CreateTopics', 7, {
      topics: [
        {
          name: 'set-table',
          numPartitions: 1,
          replicationFactor: 1,
          configs: [{ name: 'kch.storage.table', value: 'kafka.elsewhere' }],
        },
      ],
    });
    expect(r.topics[0]).toMatchObject({ errorCode: ErrorCode.INVALID_CONFIG });
    expect(r.topics[0]!.errorMessage).toContain('kch.storage.table: it is read-only');
  });
});

describe('storage faults', () => {
  it("are KAFKA_STORAGE_ERROR with ClickHouse's reason once, and logged with the topic, partition and cause", async () => {
    await client.send('CreateTopics', 7, {
      topics: [{ name: 'guarded', numPartitions: 1, replicationFactor: 1 }],
    });
    await q(`ALTER TABLE ${database}.guarded ADD CONSTRAINT refuse CHECK 0`);
    const r = await client.send('Produce', 9, {
      acks: -1,
      timeoutMs: 5000,
      topicData: [
        {
          name: 'guarded',
          partitionData: [
            { index: 0, records: encodeRecordBatchSync({ records: [{ value: Buffer.from('x') }] }) },
          ],
        },
      ],
    });
    const p = r.responses[0]!.partitionResponses[0]!;
    expect(p.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(p.errorMessage).toMatch(/VIOLATED_CONSTRAINT \(\d+\): Constraint `refuse`/);
    expect(p.errorMessage!.match(/retry/g)).toHaveLength(1);
    expect(p.errorMessage).not.toMatch(/Code: \d+|\(VIOLATED_CONSTRAINT\)/);
    const log = logged('produce failed', 'guarded')[0];
    expect(log?.level).toBe('error');
    expect(log?.fields).toMatchObject({ partition: 0, address: expect.stringMatching(/^127\.0\.0\.1:/) });
    const error = log?.fields.error as Error;
    expect(error.message).toContain('VIOLATED_CONSTRAINT');
    expect(error.cause).toBeInstanceOf(StorageError);
    await q(`ALTER TABLE ${database}.guarded DROP CONSTRAINT refuse`);
  });
});
