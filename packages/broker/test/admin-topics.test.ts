/** CreateTopics, DeleteTopics and CreatePartitions, called directly over memory storage. */
import { ErrorCode, ZERO_UUID } from '@kch/protocol';
import { describe, expect, it } from 'vitest';
import createPartitions from '../src/handlers/create-partitions.js';
import createTopics from '../src/handlers/create-topics.js';
import deleteTopics from '../src/handlers/delete-topics.js';
import { ConfigSource, TOPIC_CONFIGS } from '../src/topic-configs.js';
import { adminBroker, call, UNSET, versionsOf } from './admin-helpers.js';

const topic = (name: string, numPartitions = 1, more: Record<string, unknown> = {}) => ({
  name,
  numPartitions,
  replicationFactor: -1,
  assignments: [],
  configs: [],
  ...more,
});

describe('CreateTopics', () => {
  it('creates a topic and answers with its id, partitions and effective configs (v7)', async () => {
    const { broker, storage, events } = await adminBroker({ topicDefaults: { 'retention.bytes': '1000' } });
    const res = await call(broker, createTopics, 7, {
      topics: [
        topic('orders', 3, {
          replicationFactor: 1,
          configs: [
            { name: 'retention.ms', value: ' 60000 ' },
            { name: 'cleanup.policy', value: 'delete, compact' },
          ],
        }),
      ],
      timeoutMs: 5000,
    });
    const [r] = res.topics;
    expect(r).toMatchObject({
      name: 'orders',
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      numPartitions: 3,
      replicationFactor: 1,
    });
    const created = broker.topics.get('orders')!;
    expect(r!.topicId).toBe(created.record.topicId);
    expect(created.logs).toHaveLength(3);
    // Stored in Kafka's canonical form.
    expect(created.record.configs).toEqual({ 'retention.ms': '60000', 'cleanup.policy': 'delete,compact' });
    expect((await storage.listTopics()).map((t) => t.name)).toEqual(['orders']);
    expect(events).toEqual([
      {
        name: 'topic-created',
        info: {
          topic: 'orders',
          topicId: created.record.topicId,
          partitions: 3,
          // Who asked, for the broker's log.
          by: { via: 'CreateTopics', clientId: 'admin-test', address: '127.0.0.1:50000' },
        },
      },
    ]);

    const configs = new Map(r!.configs!.map((c) => [c.name, c]));
    expect(configs.get('retention.ms')).toMatchObject({
      value: '60000',
      configSource: ConfigSource.TOPIC_CONFIG,
      readOnly: false,
      isSensitive: false,
    });
    expect(configs.get('cleanup.policy')).toMatchObject({
      value: 'delete,compact',
      configSource: ConfigSource.TOPIC_CONFIG,
    });
    expect(configs.get('retention.bytes')).toMatchObject({
      value: '1000',
      configSource: ConfigSource.STATIC_BROKER_CONFIG,
    });
    expect(configs.get('segment.bytes')).toMatchObject({
      value: '1073741824',
      configSource: ConfigSource.DEFAULT_CONFIG,
    });
    expect([...configs.keys()]).toEqual([...configs.keys()].sort());
  });

  it('uses the broker default for -1 partitions and accepts replication factor -1 or 1', async () => {
    const { broker } = await adminBroker({ defaultPartitions: 4 });
    const res = await call(broker, createTopics, 5, {
      topics: [topic('a', -1), topic('b', 2, { replicationFactor: 1 })],
      timeoutMs: 0,
    });
    expect(res.topics.map((t) => [t.name, t.errorCode, t.numPartitions, t.replicationFactor])).toEqual([
      ['a', 0, 4, 1],
      ['b', 0, 2, 1],
    ]);
    expect(broker.topics.get('a')!.logs).toHaveLength(4);
  });

  it('validateOnly checks everything and creates nothing', async () => {
    const { broker, storage, events } = await adminBroker();
    const res = await call(broker, createTopics, 7, {
      topics: [
        topic('dry', 2, { configs: [{ name: 'retention.ms', value: '1000' }] }),
        topic('bad', 1, { replicationFactor: 3 }),
      ],
      timeoutMs: 0,
      validateOnly: true,
    });
    expect(res.topics[0]).toMatchObject({
      name: 'dry',
      errorCode: 0,
      numPartitions: 2,
      replicationFactor: 1,
      topicId: ZERO_UUID,
    });
    expect(res.topics[0]!.configs!.find((c) => c.name === 'retention.ms')).toMatchObject({
      value: '1000',
      configSource: ConfigSource.TOPIC_CONFIG,
    });
    expect(res.topics[1]!.errorCode).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
    expect(broker.topics.get('dry')).toBeUndefined();
    expect(await storage.listTopics()).toEqual([]);
    expect(events).toEqual([]);
  });

  it('answers each bad topic with the error and message Kafka gives', async () => {
    const { broker } = await adminBroker();
    await broker.topics.create('exists', 1, {});
    await broker.topics.create('metrics.a', 1, {});
    const res = await call(broker, createTopics, 7, {
      topics: [
        topic('rf3', 1, { replicationFactor: 3 }),
        topic('rf0', 1, { replicationFactor: 0 }),
        topic('p0', 0),
        topic('p-2', -2),
        topic('bad name!'),
        topic('exists'),
        topic('metrics_a'),
        topic('unknown-config', 1, { configs: [{ name: 'no.such.config', value: '1' }] }),
        topic('bad-value', 1, { configs: [{ name: 'retention.ms', value: 'abc' }] }),
        topic('below-min', 1, { configs: [{ name: 'retention.ms', value: '-5' }] }),
        topic('null-value', 1, { configs: [{ name: 'retention.ms', value: null }] }),
        topic('bad-enum', 1, { configs: [{ name: 'cleanup.policy', value: 'delete,shred' }] }),
        topic('tiered', 1, { configs: [{ name: 'remote.storage.enable', value: 'true' }] }),
        topic('huge', 20_000),
      ],
      timeoutMs: 0,
    });
    const byName = new Map(res.topics.map((t) => [t.name, t]));
    const expectError = (name: string, code: number, message: string | RegExp) => {
      const r = byName.get(name)!;
      expect(r.errorCode, name).toBe(code);
      if (typeof message === 'string') expect(r.errorMessage, name).toBe(message);
      else expect(r.errorMessage, name).toMatch(message);
      expect(r.numPartitions).toBe(-1);
      expect(r.replicationFactor).toBe(-1);
      expect(broker.topics.get(name) === undefined || name === 'exists' || name === 'metrics.a').toBe(true);
    };
    expectError(
      'rf3',
      ErrorCode.INVALID_REPLICATION_FACTOR,
      /^Unable to replicate the partition 3 time\(s\): The target replication factor of 3 cannot be reached because only 1 broker\(s\) are registered\. kch keeps one replica .*storage provides the durability/,
    );
    expectError(
      'rf0',
      ErrorCode.INVALID_REPLICATION_FACTOR,
      'Replication factor must be larger than 0, or -1 to use the default value.',
    );
    expectError(
      'p0',
      ErrorCode.INVALID_PARTITIONS,
      'Number of partitions was set to an invalid non-positive value.',
    );
    expectError(
      'p-2',
      ErrorCode.INVALID_PARTITIONS,
      'Number of partitions was set to an invalid non-positive value.',
    );
    expectError('bad name!', ErrorCode.INVALID_TOPIC_EXCEPTION, /bad name!/);
    expectError('exists', ErrorCode.TOPIC_ALREADY_EXISTS, "Topic 'exists' already exists.");
    expectError(
      'metrics_a',
      ErrorCode.INVALID_TOPIC_EXCEPTION,
      "Topic 'metrics_a' collides with existing topic: metrics.a",
    );
    expectError('unknown-config', ErrorCode.INVALID_CONFIG, 'Unknown topic config name: no.such.config');
    expectError(
      'bad-value',
      ErrorCode.INVALID_CONFIG,
      'Invalid value abc for configuration retention.ms: Not a number of type LONG',
    );
    expectError(
      'below-min',
      ErrorCode.INVALID_CONFIG,
      'Invalid value -5 for configuration retention.ms: Value must be at least -1',
    );
    expectError(
      'null-value',
      ErrorCode.INVALID_CONFIG,
      'Null value not supported for topic configs: retention.ms',
    );
    expectError(
      'bad-enum',
      ErrorCode.INVALID_CONFIG,
      'Invalid value shred for configuration cleanup.policy: String must be one of: compact, delete',
    );
    expectError('tiered', ErrorCode.INVALID_CONFIG, /Tiered Storage functionality is disabled in the broker/);
    expectError('huge', ErrorCode.POLICY_VIOLATION, 'Unable to perform excessively large batch operation.');
  });

  it('answers a name given twice with one INVALID_REQUEST and still creates the others', async () => {
    const { broker } = await adminBroker();
    const res = await call(broker, createTopics, 4, {
      topics: [topic('twice'), topic('once'), topic('twice', 2)],
      timeoutMs: 0,
    });
    expect(res.topics.map((t) => [t.name, t.errorCode, t.errorMessage])).toEqual([
      ['twice', ErrorCode.INVALID_REQUEST, 'Duplicate topic name.'],
      ['once', ErrorCode.NONE, null],
    ]);
    expect(broker.topics.get('twice')).toBeUndefined();
    expect(broker.topics.get('once')).toBeDefined();
  });

  it('accepts manual assignments only onto this broker', async () => {
    const { broker } = await adminBroker({ nodeId: 7 });
    const assign = (...lists: number[][]) =>
      lists.map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds }));
    const res = await call(broker, createTopics, 7, {
      topics: [
        topic('manual', -1, { assignments: assign([7], [7]) }),
        topic('other-broker', -1, { assignments: assign([7], [8]) }),
        topic('twice-on-one', -1, { assignments: assign([7, 7]) }),
        topic('empty', -1, { assignments: assign([]) }),
        topic('gap', -1, { assignments: [{ partitionIndex: 1, brokerIds: [7] }] }),
        topic('dup-index', -1, {
          assignments: [
            { partitionIndex: 0, brokerIds: [7] },
            { partitionIndex: 0, brokerIds: [7] },
          ],
        }),
        topic('with-count', 2, { assignments: assign([7]) }),
        topic('with-rf', -1, { replicationFactor: 1, assignments: assign([7]) }),
      ],
      timeoutMs: 0,
    });
    const byName = new Map(res.topics.map((t) => [t.name, t]));
    expect(byName.get('manual')).toMatchObject({ errorCode: 0, numPartitions: 2, replicationFactor: 1 });
    expect(broker.topics.get('manual')!.logs).toHaveLength(2);
    expect(byName.get('other-broker')).toMatchObject({ errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT });
    expect(byName.get('other-broker')!.errorMessage).toMatch(
      /includes broker 8, but no such broker is registered/,
    );
    expect(byName.get('twice-on-one')).toMatchObject({
      errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      errorMessage: 'The manual partition assignment includes the broker 7 more than once.',
    });
    expect(byName.get('empty')).toMatchObject({
      errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      errorMessage: 'The manual partition assignment includes an empty replica list.',
    });
    expect(byName.get('gap')).toMatchObject({
      errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      errorMessage: 'partitions should be a consecutive 0-based integer sequence',
    });
    expect(byName.get('dup-index')).toMatchObject({
      errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      errorMessage: 'Found multiple manual partition assignments for partition 0',
    });
    expect(byName.get('with-count')).toMatchObject({
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: 'A manual partition assignment was specified, but numPartitions was not set to -1.',
    });
    expect(byName.get('with-rf')).toMatchObject({
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: 'A manual partition assignment was specified, but replication factor was not set to -1.',
    });
  });

  it('answers at every version', async () => {
    const { broker } = await adminBroker();
    for (const v of versionsOf('CreateTopics')) {
      const res = await call(broker, createTopics, v, {
        topics: [topic(`v${v}`, 2), topic(`v${v}`.repeat(0))],
        timeoutMs: 0,
      });
      expect(res.topics[0]).toMatchObject({ name: `v${v}`, errorCode: 0 });
      expect(res.topics[1]!.errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
      // The message travels from v1 on, the configs from v5, the topic id from v7.
      if (v >= 1) expect(res.topics[1]!.errorMessage).toMatch(/empty/);
      expect(res.topics[0]!.configs?.length ?? 0).toBe(v >= 5 ? TOPIC_CONFIGS.length - UNSET.size : 0);
      expect(res.topics[0]!.topicId === ZERO_UUID).toBe(v < 7);
    }
  });
});

describe('DeleteTopics', () => {
  it('deletes by name (v0-5) and answers unknown names with UNKNOWN_TOPIC_OR_PARTITION', async () => {
    const { broker, storage, events } = await adminBroker();
    for (const v of [0, 1, 5]) {
      const t = await broker.topics.create(`gone-${v}`, 2, {});
      const res = await call(broker, deleteTopics, v, {
        topicNames: [`gone-${v}`, 'never-was'],
        timeoutMs: 0,
      });
      expect(res.responses.map((r) => [r.name, r.errorCode])).toEqual([
        ['never-was', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        [`gone-${v}`, ErrorCode.NONE],
      ]);
      if (v >= 5)
        expect(res.responses[0]!.errorMessage).toBe('This server does not host this topic-partition.');
      expect(broker.topics.get(`gone-${v}`)).toBeUndefined();
      expect(events.at(-1)).toEqual({
        name: 'topic-deleted',
        info: {
          topic: `gone-${v}`,
          topicId: t!.record.topicId,
          by: { via: 'DeleteTopics', clientId: 'admin-test', address: '127.0.0.1:50000' },
        },
      });
    }
    expect(await storage.listTopics()).toEqual([]);
  });

  it('deletes by topic id (v6) with Kafka checks on names and ids', async () => {
    const { broker } = await adminBroker();
    const byId = (await broker.topics.create('by-id', 1, {}))!;
    const byName = (await broker.topics.create('by-name', 1, {}))!;
    const both = (await broker.topics.create('both-ways', 1, {}))!;
    const unknownId = 'AAAAAAAAAAAAAAAAAAAAAQ';
    const res = await call(broker, deleteTopics, 6, {
      topics: [
        { name: null, topicId: byId.record.topicId },
        { name: 'by-name', topicId: ZERO_UUID },
        { name: null, topicId: unknownId },
        { name: 'missing', topicId: ZERO_UUID },
        { name: 'x', topicId: unknownId },
        { name: null, topicId: ZERO_UUID },
        { name: 'dup', topicId: ZERO_UUID },
        { name: 'dup', topicId: ZERO_UUID },
        { name: null, topicId: both.record.topicId },
        { name: 'both-ways', topicId: ZERO_UUID },
      ],
      timeoutMs: 0,
    });
    const find = (name: string | null, topicId: string) =>
      res.responses.find((r) => r.name === name && r.topicId === topicId);
    expect(find('by-id', byId.record.topicId)).toMatchObject({ errorCode: 0, errorMessage: null });
    expect(find('by-name', byName.record.topicId)).toMatchObject({ errorCode: 0 });
    expect(find(null, unknownId)).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_ID });
    expect(find('missing', ZERO_UUID)).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
    expect(find('x', unknownId)).toMatchObject({
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: 'You may not specify both topic name and topic id.',
    });
    expect(find(null, ZERO_UUID)).toMatchObject({
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: 'Neither topic name nor id were specified.',
    });
    expect(res.responses.filter((r) => r.name === 'dup')).toEqual([
      expect.objectContaining({
        errorCode: ErrorCode.INVALID_REQUEST,
        errorMessage: 'Duplicate topic name.',
      }),
    ]);
    expect(find('both-ways', both.record.topicId)).toMatchObject({
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: 'The provided topic name maps to an ID that was already supplied.',
    });
    expect(res.responses).toHaveLength(8);
    expect(broker.topics.get('by-id')).toBeUndefined();
    expect(broker.topics.get('by-name')).toBeUndefined();
    expect(broker.topics.get('both-ways')).toBeDefined();
  });
});

describe('CreatePartitions', () => {
  it('raises the partition count, or with validateOnly only checks', async () => {
    const { broker, storage } = await adminBroker();
    await broker.topics.create('grow', 1, {});
    const dry = await call(broker, createPartitions, 3, {
      topics: [{ name: 'grow', count: 3, assignments: null }],
      timeoutMs: 0,
      validateOnly: true,
    });
    expect(dry.results).toEqual([
      expect.objectContaining({ name: 'grow', errorCode: 0, errorMessage: null }),
    ]);
    expect(broker.topics.get('grow')!.logs).toHaveLength(1);

    const res = await call(broker, createPartitions, 0, {
      topics: [{ name: 'grow', count: 3, assignments: null }],
      timeoutMs: 0,
      validateOnly: false,
    });
    expect(res.results[0]!.errorCode).toBe(0);
    expect(broker.topics.get('grow')!.logs).toHaveLength(3);
    expect((await storage.listTopics())[0]!.partitionCount).toBe(3);
    expect(await broker.topics.log('grow', 2)!.read(0, 1024)).toMatchObject({
      highWatermark: 0,
      batches: [],
    });
  });

  it('answers Kafka errors for counts that do not grow, unknown topics and bad assignments', async () => {
    const { broker } = await adminBroker();
    await broker.topics.create('two', 2, {});
    const res = await call(broker, createPartitions, 3, {
      topics: [
        { name: 'missing', count: 3, assignments: null },
        { name: 'two', count: 2, assignments: null },
        { name: 'dup', count: 2, assignments: null },
        { name: 'dup', count: 3, assignments: null },
      ],
      timeoutMs: 0,
      validateOnly: false,
    });
    expect(res.results.map((r) => [r.name, r.errorCode, r.errorMessage])).toEqual([
      ['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'This server does not host this topic-partition.'],
      ['two', ErrorCode.INVALID_PARTITIONS, 'Topic already has 2 partition(s).'],
      ['dup', ErrorCode.INVALID_REQUEST, 'Duplicate topic name.'],
    ]);
    const attempt = async (count: number, assignments: number[][] | null) =>
      (
        await call(broker, createPartitions, 3, {
          topics: [
            { name: 'two', count, assignments: assignments?.map((brokerIds) => ({ brokerIds })) ?? null },
          ],
          timeoutMs: 0,
          validateOnly: true,
        })
      ).results[0]!;
    expect(await attempt(1, null)).toMatchObject({
      errorCode: ErrorCode.INVALID_PARTITIONS,
      errorMessage: 'The topic two currently has 2 partition(s); 1 would not be an increase.',
    });
    expect(await attempt(4, [[1]])).toMatchObject({
      errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      errorMessage: 'Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.',
    });
    expect(await attempt(3, [[2]])).toMatchObject({ errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT });
    expect(await attempt(4, [[1], [1]])).toMatchObject({ errorCode: 0 });
    expect(broker.topics.get('two')!.logs).toHaveLength(2);
  });
});
