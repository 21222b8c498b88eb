/**
 * Dynamic broker configs through real clients over TCP: kafkajs's AlterConfigs and DescribeConfigs on
 * BROKER resources (the cluster-wide default "" and this broker's id), a change applied to the next
 * Produce without a restart, Kafka's refusals; and a broker on embedded ClickHouse that keeps them
 * across a restart.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawClient } from '@kch/kafka-connection';
import { ErrorCode } from '@kch/protocol';
import { clickhouseStorage, MemoryClusterStore, memoryStorage } from '@kch/storage';
import { Admin as PlatformaticAdmin } from '@platformatic/kafka';
import { type Admin, ConfigResourceTypes, Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBroker, silentLogger } from '../src/index.js';
import { ConfigSource } from '../src/topic-configs.js';
import { type RunningBroker, startBroker, startChdbBroker } from './helpers/broker.js';
import { eventually, shared } from './helpers/cluster.js';
import { run } from './helpers/run.js';
import { skipEachUnless } from './helpers/skip.js';
import { confluentKafka, PYTHON } from './helpers/tools.js';

const { BROKER, TOPIC } = ConfigResourceTypes;
const BROKER_LOGGER = 8;
const [SET, DELETE, APPEND] = [0, 1, 2] as const;
type IncrementalConfig =
  | { name: string; configOperation: typeof DELETE }
  | { name: string; configOperation: typeof SET | typeof APPEND; value: string };
const TOPIC_NAME = 'dyn-configs';
/** kafkajs's message for MESSAGE_TOO_LARGE. */
const TOO_LARGE = /larger than the max message size/;

let b: RunningBroker;
let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  b = await startBroker({ messageMaxBytes: 1_000_000 });
  const kafka = new Kafka({ clientId: 'kch-test', brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC_NAME, numPartitions: 1 }] });
  producer = kafka.producer({ retry: { retries: 0 } });
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await b?.close();
});

const send = (bytes: number) =>
  producer.send({ topic: TOPIC_NAME, messages: [{ value: Buffer.alloc(bytes, 0x61) }] });

const alter = (name: string, configEntries: { name: string; value: string }[], validateOnly = false) =>
  admin.alterConfigs({ validateOnly, resources: [{ type: BROKER, name, configEntries }] });

async function describeBroker(name: string, keys?: string[]) {
  const res = await admin.describeConfigs({
    includeSynonyms: true,
    resources: [{ type: BROKER, name, ...(keys ? { configNames: keys } : {}) }],
  });
  return res.resources[0]!.configEntries;
}

const synonym = (configValue: string, configSource: number) => ({
  configName: 'message.max.bytes',
  configValue,
  configSource,
});

describe('dynamic broker configs through kafkajs (AlterConfigs)', () => {
  it("this broker's message.max.bytes is applied to the next Produce and described with its synonyms", async () => {
    await send(3000);

    // validateOnly checks and changes nothing.
    await alter('1', [{ name: 'message.max.bytes', value: '2000' }], true);
    await send(3000);

    await alter('1', [{ name: 'message.max.bytes', value: '2000' }]);
    await expect(send(3000)).rejects.toThrow(TOO_LARGE);
    await send(1500);
    const [own] = await describeBroker('1', ['message.max.bytes']);
    expect(own).toMatchObject({
      configValue: '2000',
      configSource: ConfigSource.DYNAMIC_BROKER_CONFIG,
      readOnly: false,
      configSynonyms: [
        synonym('2000', ConfigSource.DYNAMIC_BROKER_CONFIG),
        synonym('1000000', ConfigSource.STATIC_BROKER_CONFIG),
        synonym('1048588', ConfigSource.DEFAULT_CONFIG),
      ],
    });
    // A topic without its own max.message.bytes reports the broker's value and where it comes from.
    const topic = await admin.describeConfigs({
      includeSynonyms: true,
      resources: [{ type: TOPIC, name: TOPIC_NAME, configNames: ['max.message.bytes'] }],
    });
    expect(topic.resources[0]!.configEntries[0]).toMatchObject({
      configValue: '2000',
      configSource: ConfigSource.DYNAMIC_BROKER_CONFIG,
      configSynonyms: [
        synonym('2000', ConfigSource.DYNAMIC_BROKER_CONFIG),
        synonym('1000000', ConfigSource.STATIC_BROKER_CONFIG),
        synonym('1048588', ConfigSource.DEFAULT_CONFIG),
      ],
    });

    // AlterConfigs replaces a resource's whole set: an empty one removes the value.
    await alter('1', []);
    await send(3000);
    const [back] = await describeBroker('1', ['message.max.bytes']);
    expect(back).toMatchObject({ configValue: '1000000', configSource: ConfigSource.STATIC_BROKER_CONFIG });
  });

  it('refuses a read-only config with INVALID_REQUEST', async () => {
    await expect(alter('1', [{ name: 'offsets.retention.minutes', value: '1' }])).rejects.toMatchObject({
      type: 'INVALID_REQUEST',
    });
  });
});

/**
 * IncrementalAlterConfigs through @platformatic/kafka for this broker's id. The cluster-wide resource ""
 * goes through kch's own client over TCP: kafkajs refuses an empty name, and @platformatic/kafka sends
 * it to a broker with id 0.
 */
describe('dynamic broker configs through IncrementalAlterConfigs', () => {
  let pAdmin: PlatformaticAdmin;
  let raw: RawClient;
  beforeAll(async () => {
    pAdmin = new PlatformaticAdmin({ clientId: 'kch-test', bootstrapBrokers: [b.bootstrap] });
    raw = await RawClient.connect(b.host, b.port);
  });
  afterAll(async () => {
    raw?.close();
    await pAdmin?.close();
  });
  const incremental = (resourceName: string, configs: IncrementalConfig[], validateOnly = false) =>
    pAdmin.incrementalAlterConfigs({
      validateOnly,
      resources: [{ resourceType: BROKER, resourceName, configs }],
    });
  /** The cluster-wide resource, whose answer is returned rather than thrown. */
  const incrementalDefault = async (configs: IncrementalConfig[], validateOnly = false) => {
    const res = await raw.send('IncrementalAlterConfigs', 1, {
      validateOnly,
      resources: [
        {
          resourceType: BROKER,
          resourceName: '',
          configs: configs.map((c) => ({ ...c, value: 'value' in c ? c.value : null })),
        },
      ],
    });
    const [r] = res.responses;
    return [r!.errorCode, r!.errorMessage];
  };
  const describeDefault = async () => {
    const res = await raw.send('DescribeConfigs', 4, {
      includeSynonyms: true,
      includeDocumentation: false,
      resources: [{ resourceType: BROKER, resourceName: '', configurationKeys: null }],
    });
    return res.results[0]!.configs.map((c) => [
      c.name,
      c.value,
      c.configSource,
      c.synonyms.map((s) => s.source),
    ]);
  };
  const describeOwn = async (name: string) => {
    const [d] = await pAdmin.describeConfigs({
      includeSynonyms: true,
      resources: [{ resourceType: BROKER, resourceName: '1', configurationKeys: [name] }],
    });
    return d!.configs.map((c) => [c.name, c.value, c.configSource, c.synonyms.map((s) => s.source)]);
  };

  it("sets cluster-wide defaults that the next Produce applies, under this broker's own values", async () => {
    const [first] = await send(10);
    expect(first!.logAppendTime).toBe('-1');
    const timestampType = {
      name: 'log.message.timestamp.type',
      configOperation: SET,
      value: 'LogAppendTime',
    } as const;
    // validateOnly changes nothing.
    expect(await incrementalDefault([timestampType], true)).toEqual([0, null]);
    expect(await describeDefault()).toEqual([]);

    expect(
      await incrementalDefault([
        timestampType,
        { name: 'log.cleanup.policy', configOperation: APPEND, value: 'compact' },
      ]),
    ).toEqual([0, null]);
    expect(await describeDefault()).toEqual([
      ['log.cleanup.policy', 'delete,compact', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, [3, 5]],
      ['log.message.timestamp.type', 'LogAppendTime', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, [3, 5]],
    ]);
    // LogAppendTime: the broker stamps the batch and says so in the Produce response.
    const [stamped] = await producer.send({
      topic: TOPIC_NAME,
      messages: [{ key: 'k', value: 'v', timestamp: '1000' }],
    });
    expect(Number(stamped!.logAppendTime)).toBeGreaterThan(1000);
    // compact: a record without a key is refused.
    await expect(send(10)).rejects.toThrow(/failed the validation/);

    // This broker's value wins over the cluster-wide one; DELETE removes one key.
    await incremental('1', [
      { name: 'log.message.timestamp.type', configOperation: SET, value: 'CreateTime' },
    ]);
    expect(await incrementalDefault([{ name: 'log.cleanup.policy', configOperation: DELETE }])).toEqual([
      0,
      null,
    ]);
    const [created] = await send(10);
    expect(created!.logAppendTime).toBe('-1');
    expect(await describeOwn('log.message.timestamp.type')).toEqual([
      ['log.message.timestamp.type', 'CreateTime', ConfigSource.DYNAMIC_BROKER_CONFIG, [2, 3, 5]],
    ]);

    await incremental('1', [{ name: 'log.message.timestamp.type', configOperation: DELETE }]);
    expect(
      await incrementalDefault([{ name: 'log.message.timestamp.type', configOperation: DELETE }]),
    ).toEqual([0, null]);
    expect(await describeDefault()).toEqual([]);
  });

  it("refuses read-only configs, bad values and broker loggers with Kafka's errors", async () => {
    /** The broker's messages in the client's error (nested AggregateErrors). */
    const messages = (e: unknown): string[] => {
      const x = e as { serverErrorMessage?: string; errors?: unknown[] };
      return [...(x.serverErrorMessage ? [x.serverErrorMessage] : []), ...(x.errors ?? []).flatMap(messages)];
    };
    const refusal = (alter: () => Promise<unknown>) =>
      alter().then(
        () => 'accepted',
        (e: unknown) => messages(e).join('; '),
      );
    expect(
      await refusal(() =>
        incremental('1', [
          { name: 'offsets.retention.minutes', configOperation: SET, value: '1' },
          { name: 'num.partitions', configOperation: SET, value: '3' },
        ]),
      ),
    ).toContain('Cannot update these configs dynamically: Set(offsets.retention.minutes, num.partitions)');
    expect(
      await refusal(() =>
        incremental('1', [{ name: 'message.max.bytes', configOperation: SET, value: 'big' }]),
      ),
    ).toContain('Invalid value big for configuration message.max.bytes: Not a number of type INT');
    expect(
      await incrementalDefault([{ name: 'message.max.bytes', configOperation: APPEND, value: '1' }]),
    ).toEqual([
      ErrorCode.INVALID_REQUEST,
      'Config value append is not allowed for config key: message.max.bytes',
    ]);
    // BROKER_LOGGER stays unsupported: every logger is unknown, as Kafka answers for one it lacks.
    expect(
      await refusal(() =>
        pAdmin.incrementalAlterConfigs({
          resources: [
            {
              resourceType: BROKER_LOGGER,
              resourceName: '1',
              configs: [{ name: 'kafka', configOperation: SET, value: 'DEBUG' }],
            },
          ],
        }),
      ),
    ).toContain('Logger kafka does not exist!');
    expect(await describeDefault()).toEqual([]);
    expect(await describeOwn('message.max.bytes')).toEqual([
      ['message.max.bytes', '1000000', ConfigSource.STATIC_BROKER_CONFIG, [4, 5]],
    ]);
  });
});

describe('dynamic broker configs through librdkafka (python3-confluent-kafka)', () => {
  skipEachUnless(confluentKafka);
  it("AlterConfigs on this broker changes message.max.bytes at once; a read-only config is refused with Kafka's message", async () => {
    await admin.createTopics({ topics: [{ topic: 'dyn-rdkafka', numPartitions: 1 }] });
    const script = fileURLToPath(new URL('./python/confluent_broker_configs.py', import.meta.url));
    const r = await run(PYTHON, [script, b.bootstrap, 'dyn-rdkafka'], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      before: 'stored',
      altered: null,
      described: ['2000', 'DYNAMIC_BROKER_CONFIG', false],
      too_large: 'MSG_SIZE_TOO_LARGE',
      read_only: [
        'INVALID_REQUEST',
        'Cannot update these configs dynamically: Set(offsets.retention.minutes)',
      ],
      reset: null,
      after_reset: 'stored',
      described_after_reset: ['1000000', 'STATIC_BROKER_CONFIG', false],
    });
  });
});

describe('dynamic broker configs on embedded ClickHouse', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kch-dyn-configs-'));
  const start = () => startChdbBroker(dir, 'dyn');

  it('keeps the cluster-wide and per-broker values across a restart', async () => {
    const first = await start();
    const altered = await first.client.send('AlterConfigs', 2, {
      validateOnly: false,
      resources: [
        {
          resourceType: BROKER,
          resourceName: '',
          configs: [{ name: 'log.message.timestamp.type', value: 'LogAppendTime' }],
        },
        { resourceType: BROKER, resourceName: '1', configs: [{ name: 'message.max.bytes', value: '4096' }] },
      ],
    });
    expect(altered.responses.map((r) => r.errorCode)).toEqual([0, 0]);
    await first.stop();

    const second = await start();
    try {
      const res = await second.client.send('DescribeConfigs', 4, {
        includeSynonyms: false,
        includeDocumentation: false,
        resources: [
          {
            resourceType: BROKER,
            resourceName: '1',
            configurationKeys: ['log.message.timestamp.type', 'message.max.bytes'],
          },
          { resourceType: BROKER, resourceName: '', configurationKeys: null },
        ],
      });
      const [own, cluster] = res.results;
      expect(own!.configs.map((c) => [c.name, c.value, c.configSource])).toEqual([
        ['log.message.timestamp.type', 'LogAppendTime', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG],
        ['message.max.bytes', '4096', ConfigSource.DYNAMIC_BROKER_CONFIG],
      ]);
      expect(cluster!.configs.map((c) => [c.name, c.value])).toEqual([
        ['log.message.timestamp.type', 'LogAppendTime'],
      ]);
    } finally {
      await second.stop();
    }
  });
});

describe('retention by the broker defaults on embedded ClickHouse', () => {
  it('gives topics without their own retention.ms the TTL of the broker default, live as log.retention.ms and log.cleanup.policy change', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kch-retention-defaults-'));
    const storage = clickhouseStorage({ chdb: dir, database: 'ret' });
    const broker = await createBroker({
      storage,
      logger: silentLogger,
      topicDefaults: { 'retention.ms': '3600000' },
    });
    const { port } = await broker.listen({ host: '127.0.0.1', port: 0 });
    const client = await RawClient.connect('127.0.0.1', port);
    try {
      const created = await client.send('CreateTopics', 5, {
        timeoutMs: 10_000,
        validateOnly: false,
        topics: [
          { name: 'by-default', numPartitions: 1, replicationFactor: -1, assignments: [], configs: [] },
          {
            name: 'own-retention',
            numPartitions: 1,
            replicationFactor: -1,
            assignments: [],
            configs: [{ name: 'retention.ms', value: '86400000' }],
          },
        ],
      });
      expect(created.topics.map((t) => t.errorCode)).toEqual([0, 0]);
      const ttl = async (topic: string) =>
        /TTL timestamp \+ toIntervalMillisecond\((\d+)\)/.exec(
          (await storage.query(`SHOW CREATE TABLE ret.\`${topic}\``)).toString(),
        )?.[1] ?? null;
      expect([await ttl('by-default'), await ttl('own-retention')]).toEqual(['3600000', '86400000']);
      const policy = async (op: typeof SET | typeof DELETE) => {
        const res = await client.send('IncrementalAlterConfigs', 1, {
          validateOnly: false,
          resources: [
            {
              resourceType: BROKER,
              resourceName: '',
              configs: [
                { name: 'log.cleanup.policy', configOperation: op, value: op === SET ? 'compact' : null },
              ],
            },
          ],
        });
        expect(res.responses.map((r) => r.errorCode)).toEqual([0]);
      };
      // A topic that compacts and does not delete keeps its records whatever retention.ms says.
      await policy(SET);
      expect([await ttl('by-default'), await ttl('own-retention')]).toEqual([null, null]);
      await policy(DELETE);
      expect([await ttl('by-default'), await ttl('own-retention')]).toEqual(['3600000', '86400000']);
      // log.retention.ms is dynamic as on Kafka: the tables of topics without their own follow it.
      const retention = (value: string) =>
        client.send('IncrementalAlterConfigs', 1, {
          validateOnly: false,
          resources: [
            {
              resourceType: BROKER,
              resourceName: '',
              configs: [{ name: 'log.retention.ms', configOperation: SET, value }],
            },
          ],
        });
      expect((await retention('60000')).responses.map((r) => r.errorCode)).toEqual([0]);
      expect([await ttl('by-default'), await ttl('own-retention')]).toEqual(['60000', '86400000']);
      expect((await retention('0')).responses.map((r) => [r.errorCode, r.errorMessage])).toEqual([
        [ErrorCode.INVALID_REQUEST, 'log.retention.ms must be unlimited (-1) or, greater than or equal to 1'],
      ]);
      expect((await retention('-1')).responses.map((r) => r.errorCode)).toEqual([0]);
      expect([await ttl('by-default'), await ttl('own-retention')]).toEqual([null, '86400000']);
    } finally {
      client.close();
      await broker.close();
    }
  });
});

describe('dynamic broker configs shared by two brokers over one database', () => {
  it("a cluster-wide value set through one broker applies to the other's Produce; a per-broker one only to its broker", async () => {
    const storage = memoryStorage();
    const cluster = new MemoryClusterStore();
    const brokers = await Promise.all(
      [1, 2].map((nodeId) => startBroker({ nodeId, storage: shared(storage, cluster) })),
    );
    const kafka = new Kafka({ brokers: brokers.map((b) => b.bootstrap), logLevel: logLevel.NOTHING });
    const p = kafka.producer({ retry: { retries: 0 } });
    const a = kafka.admin();
    let raw: RawClient | undefined;
    try {
      await Promise.all([p.connect(), a.connect()]);
      const produce = () =>
        p.send({ topic: 'shared-dyn', messages: [{ value: Buffer.alloc(3000, 0x61) }] }).then(
          () => 'stored',
          (e: Error) => e.message,
        );
      await eventually(produce, (r) => r === 'stored', 'a first produce');
      // The change goes through the broker that does not lead the partition Produce writes to.
      const { topics } = await a.fetchTopicMetadata({ topics: ['shared-dyn'] });
      const leader = topics[0]!.partitions[0]!.leader;
      const other = brokers.find((b) => b.broker.config.nodeId !== leader)!;
      raw = await RawClient.connect(other.host, other.port);
      const alter = async (resourceName: string, value: string) => {
        const res = await raw!.send('IncrementalAlterConfigs', 1, {
          validateOnly: false,
          resources: [
            {
              resourceType: BROKER,
              resourceName,
              configs: [{ name: 'message.max.bytes', configOperation: SET, value }],
            },
          ],
        });
        expect(res.responses[0]!.errorCode).toBe(0);
      };
      await alter('', '2000');
      await eventually(produce, (r) => TOO_LARGE.test(r), 'the cluster-wide message.max.bytes on the leader');
      // The other broker's own value does not apply to the leader.
      await alter(String(other.broker.config.nodeId), '10000');
      expect(await produce()).toMatch(TOO_LARGE);
    } finally {
      raw?.close();
      await Promise.all([p.disconnect(), a.disconnect()]);
      await Promise.all(brokers.map((b) => b.close()));
    }
  });
});
