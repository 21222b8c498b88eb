/** Config knowledge (configs.ts) and DescribeConfigs, AlterConfigs, IncrementalAlterConfigs. */
import { ErrorCode, KafkaProtocolError } from '@kch/protocol';
import { describe, expect, it } from 'vitest';
import alterConfigs from '../src/handlers/alter-configs.js';
import describeConfigs from '../src/handlers/describe-configs.js';
import incrementalAlterConfigs from '../src/handlers/incremental-alter-configs.js';
import {
  AlterConfigOp,
  ConfigResourceType,
  ConfigSource,
  javaDoubleString,
  normalizeTopicConfigs,
  parseConfigValue,
  TOPIC_CONFIGS,
  topicConfigDefinition,
} from '../src/topic-configs.js';
import { adminBroker, call, UNSET, versionsOf } from './admin-helpers.js';

const { TOPIC, BROKER, BROKER_LOGGER } = ConfigResourceType;

function configError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(KafkaProtocolError);
    expect((e as KafkaProtocolError).code).toBe(ErrorCode.INVALID_CONFIG);
    return (e as Error).message;
  }
  throw new Error('expected INVALID_CONFIG');
}

describe('configs.ts', () => {
  const def = (name: string) => topicConfigDefinition(name)!;

  it("parses values as Kafka's ConfigDef and keeps its canonical form", () => {
    expect(parseConfigValue(def('retention.ms'), ' 60000 ')).toBe('60000');
    expect(parseConfigValue(def('retention.ms'), '+5')).toBe('5');
    expect(parseConfigValue(def('retention.ms'), '-1')).toBe('-1');
    expect(parseConfigValue(def('flush.messages'), '9223372036854775807')).toBe('9223372036854775807');
    expect(parseConfigValue(def('preallocate'), 'TRUE')).toBe('true');
    expect(parseConfigValue(def('cleanup.policy'), ' delete , compact ')).toBe('delete,compact');
    expect(parseConfigValue(def('cleanup.policy'), '')).toBe('');
    expect(parseConfigValue(def('min.cleanable.dirty.ratio'), '1')).toBe('1.0');
    expect(parseConfigValue(def('min.cleanable.dirty.ratio'), '.25')).toBe('0.25');
    expect(parseConfigValue(def('min.cleanable.dirty.ratio'), '1e-4')).toBe('1.0E-4');
    expect(parseConfigValue(def('compression.type'), ' zstd ')).toBe('zstd');
    expect(parseConfigValue(def('compression.gzip.level'), '-1')).toBe('-1');
    expect(parseConfigValue(def('leader.replication.throttled.replicas'), '0:1, 1:1')).toBe('0:1,1:1');
    expect(parseConfigValue(def('leader.replication.throttled.replicas'), '*')).toBe('*');
  });

  it("refuses bad values with Kafka's messages", () => {
    expect(configError(() => parseConfigValue(def('retention.ms'), '1.5'))).toBe(
      'Invalid value 1.5 for configuration retention.ms: Not a number of type LONG',
    );
    expect(configError(() => parseConfigValue(def('retention.ms'), '9223372036854775808'))).toBe(
      'Invalid value 9223372036854775808 for configuration retention.ms: Not a number of type LONG',
    );
    expect(configError(() => parseConfigValue(def('segment.bytes'), '2147483648'))).toBe(
      'Invalid value 2147483648 for configuration segment.bytes: Not a number of type INT',
    );
    expect(configError(() => parseConfigValue(def('segment.bytes'), '13'))).toBe(
      'Invalid value 13 for configuration segment.bytes: Value must be at least 14',
    );
    expect(configError(() => parseConfigValue(def('min.cleanable.dirty.ratio'), '1.5'))).toBe(
      'Invalid value 1.5 for configuration min.cleanable.dirty.ratio: Value must be no more than 1',
    );
    expect(configError(() => parseConfigValue(def('min.cleanable.dirty.ratio'), 'half'))).toBe(
      'Invalid value half for configuration min.cleanable.dirty.ratio: Not a number of type DOUBLE',
    );
    expect(configError(() => parseConfigValue(def('preallocate'), 'yes'))).toBe(
      'Invalid value yes for configuration preallocate: Expected value to be either true or false',
    );
    expect(configError(() => parseConfigValue(def('compression.type'), 'brotli'))).toBe(
      'Invalid value brotli for configuration compression.type: String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer',
    );
    expect(configError(() => parseConfigValue(def('compression.gzip.level'), '0'))).toBe(
      'Invalid value 0 for configuration compression.gzip.level: Value must be between 1 and 9 or equal to -1',
    );
    expect(configError(() => parseConfigValue(def('compression.zstd.level'), '23'))).toBe(
      'Invalid value 23 for configuration compression.zstd.level: Value must be no more than 22',
    );
    expect(configError(() => parseConfigValue(def('leader.replication.throttled.replicas'), '0-1'))).toMatch(
      /leader.replication.throttled.replicas must be the literal '\*' or a list of replicas/,
    );
  });

  it('validates a set of overrides as a whole', () => {
    expect(normalizeTopicConfigs({ 'retention.ms': ' 10 ', 'cleanup.policy': 'compact' })).toEqual({
      'retention.ms': '10',
      'cleanup.policy': 'compact',
    });
    expect(configError(() => normalizeTopicConfigs({ 'retention.ms': '1', 'log.retention.ms': '1' }))).toBe(
      'Unknown topic config name: log.retention.ms',
    );
    expect(
      configError(() =>
        normalizeTopicConfigs({ 'min.compaction.lag.ms': '10', 'max.compaction.lag.ms': '5' }),
      ),
    ).toBe('conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)');
    // The broker defaults count in the conflict check.
    expect(() =>
      normalizeTopicConfigs({ 'min.compaction.lag.ms': '10' }, { 'max.compaction.lag.ms': '5' }),
    ).toThrow(/conflict topic config setting/);
    expect(normalizeTopicConfigs({ 'remote.storage.enable': 'false' })).toEqual({
      'remote.storage.enable': 'false',
    });
  });

  it('prints doubles as Java does', () => {
    expect(javaDoubleString(0.5)).toBe('0.5');
    expect(javaDoubleString(0)).toBe('0.0');
    expect(javaDoubleString(12345678)).toBe('1.2345678E7');
    expect(javaDoubleString(1e-4)).toBe('1.0E-4');
    expect(javaDoubleString(1.5e21)).toBe('1.5E21');
  });

  it('every default is valid and in canonical form, and the table is in name order', () => {
    for (const d of TOPIC_CONFIGS) {
      if (d.defaultValue !== null) expect(parseConfigValue(d, d.defaultValue), d.name).toBe(d.defaultValue);
    }
    const names = TOPIC_CONFIGS.map((d) => d.name);
    expect(names).toEqual([...names].sort());
  });
});

describe('DescribeConfigs', () => {
  it('describes a topic: values, sources, synonyms, types and documentation', async () => {
    const { broker } = await adminBroker({
      topicDefaults: { 'retention.ms': '86400000' },
      messageMaxBytes: 2_000_000,
    });
    await broker.topics.create('t', 1, { 'retention.ms': '1000', 'segment.bytes': '1048576' });
    const res = await call(broker, describeConfigs, 4, {
      resources: [{ resourceType: TOPIC, resourceName: 't', configurationKeys: null }],
      includeSynonyms: true,
      includeDocumentation: true,
    });
    const [r] = res.results;
    expect(r).toMatchObject({ errorCode: 0, errorMessage: null, resourceType: TOPIC, resourceName: 't' });
    // Every config but kch's unset ones (no table on memory storage, no schema, table or dead-letter
    // topic set): none with a null value, so that a client can write them back.
    expect(r!.configs.map((x) => x.name)).toEqual(
      TOPIC_CONFIGS.map((d) => d.name).filter((n) => !UNSET.has(n)),
    );
    expect(r!.configs.filter((x) => x.value === null)).toEqual([]);
    const c = new Map(r!.configs.map((x) => [x.name, x]));
    expect(c.get('retention.ms')).toMatchObject({
      value: '1000',
      readOnly: false,
      configSource: ConfigSource.TOPIC_CONFIG,
      isSensitive: false,
      configType: 5,
      synonyms: [
        { name: 'retention.ms', value: '1000', source: ConfigSource.TOPIC_CONFIG },
        { name: 'log.retention.ms', value: '86400000', source: ConfigSource.STATIC_BROKER_CONFIG },
        { name: 'log.retention.ms', value: '-1', source: ConfigSource.DEFAULT_CONFIG },
      ],
    });
    expect(c.get('retention.ms')!.documentation).toMatch(/TTL/);
    expect(c.get('segment.bytes')).toMatchObject({
      value: '1048576',
      configSource: ConfigSource.TOPIC_CONFIG,
      configType: 3,
    });
    expect(c.get('max.message.bytes')).toMatchObject({
      value: '2000000',
      configSource: ConfigSource.STATIC_BROKER_CONFIG,
      synonyms: [
        { name: 'message.max.bytes', value: '2000000', source: ConfigSource.STATIC_BROKER_CONFIG },
        { name: 'message.max.bytes', value: '1048588', source: ConfigSource.DEFAULT_CONFIG },
      ],
    });
    expect(c.get('cleanup.policy')).toMatchObject({
      value: 'delete',
      configSource: ConfigSource.DEFAULT_CONFIG,
      configType: 7,
      synonyms: [{ name: 'log.cleanup.policy', value: 'delete', source: ConfigSource.DEFAULT_CONFIG }],
    });
    // No broker synonym in Kafka: no synonyms at all unless overridden.
    expect(c.get('remote.storage.enable')).toMatchObject({
      value: 'false',
      configSource: ConfigSource.DEFAULT_CONFIG,
      synonyms: [],
    });
  });

  it('leaves out synonyms and documentation unless asked, and filters by key', async () => {
    const { broker } = await adminBroker();
    await broker.topics.create('t', 1, { 'retention.ms': '1000' });
    const res = await call(broker, describeConfigs, 4, {
      resources: [
        {
          resourceType: TOPIC,
          resourceName: 't',
          configurationKeys: ['retention.ms', 'no.such.key', 'cleanup.policy'],
        },
        { resourceType: TOPIC, resourceName: 't', configurationKeys: [] },
      ],
      includeSynonyms: false,
      includeDocumentation: false,
    });
    expect(res.results[0]!.configs.map((x) => [x.name, x.value, x.synonyms, x.documentation])).toEqual([
      ['cleanup.policy', 'delete', [], null],
      ['retention.ms', '1000', [], null],
    ]);
    // An empty key list means all, as in Kafka.
    expect(res.results[1]!.configs).toHaveLength(TOPIC_CONFIGS.length - UNSET.size);
  });

  it('answers v0 with isDefault and every version in its own shape', async () => {
    const { broker } = await adminBroker({ topicDefaults: { 'retention.bytes': '5' } });
    await broker.topics.create('t', 1, { 'retention.ms': '1000' });
    for (const v of versionsOf('DescribeConfigs')) {
      const res = await call(broker, describeConfigs, v, {
        resources: [
          {
            resourceType: TOPIC,
            resourceName: 't',
            configurationKeys: ['retention.ms', 'retention.bytes', 'segment.ms'],
          },
        ],
        includeSynonyms: v >= 1,
        includeDocumentation: v >= 3,
      });
      const c = new Map(res.results[0]!.configs.map((x) => [x.name, x]));
      expect(c.get('retention.ms')!.value).toBe('1000');
      if (v === 0) {
        expect(c.get('retention.ms')!.isDefault).toBe(false);
        expect(c.get('retention.bytes')!.isDefault).toBe(true);
        expect(c.get('segment.ms')!.isDefault).toBe(true);
      } else {
        expect(c.get('retention.bytes')!.configSource).toBe(ConfigSource.STATIC_BROKER_CONFIG);
        expect(c.get('retention.ms')!.synonyms).toHaveLength(2);
      }
      expect(c.get('segment.ms')!.configType).toBe(v >= 3 ? 5 : 0);
      if (v >= 3) expect(c.get('segment.ms')!.documentation).toMatch(/compatibility/);
    }
  });

  it('answers missing and invalid topics per resource', async () => {
    const { broker } = await adminBroker();
    const res = await call(broker, describeConfigs, 1, {
      resources: [
        { resourceType: TOPIC, resourceName: 'missing', configurationKeys: null },
        { resourceType: TOPIC, resourceName: 'bad/name', configurationKeys: null },
        { resourceType: ConfigResourceType.GROUP, resourceName: 'g', configurationKeys: null },
      ],
      includeSynonyms: false,
    });
    expect(res.results.map((r) => [r.resourceName, r.errorCode, r.configs.length])).toEqual([
      ['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0],
      ['bad/name', ErrorCode.INVALID_TOPIC_EXCEPTION, 0],
      ['g', ErrorCode.INVALID_REQUEST, 0],
    ]);
    expect(res.results[0]!.errorMessage).toBeNull();
    expect(res.results[1]!.errorMessage).toMatch(/bad\/name/);
  });

  it('fails the whole request for a resource type Kafka does not know', async () => {
    const { broker } = await adminBroker();
    await broker.topics.create('t', 1, {});
    const res = await call(broker, describeConfigs, 2, {
      resources: [
        { resourceType: TOPIC, resourceName: 't', configurationKeys: null },
        { resourceType: 99, resourceName: 'x', configurationKeys: null },
      ],
    });
    expect(res.results.map((r) => [r.resourceType, r.errorCode, r.configs.length])).toEqual([
      [TOPIC, ErrorCode.INVALID_REQUEST, 0],
      [99, ErrorCode.INVALID_REQUEST, 0],
    ]);
  });

  it("describes this broker's configs under Kafka's names, read-only but the dynamic ones", async () => {
    const { broker } = await adminBroker({
      nodeId: 3,
      defaultPartitions: 6,
      topicDefaults: { 'retention.ms': '3600000' },
      rack: 'r1',
    });
    const res = await call(broker, describeConfigs, 4, {
      resources: [
        { resourceType: BROKER, resourceName: '3', configurationKeys: null },
        { resourceType: BROKER, resourceName: '', configurationKeys: null },
        { resourceType: BROKER, resourceName: '4', configurationKeys: null },
        { resourceType: BROKER, resourceName: 'one', configurationKeys: null },
      ],
      includeSynonyms: true,
      includeDocumentation: false,
    });
    const [own, dflt, other, notNumber] = res.results;
    expect(own!.errorCode).toBe(0);
    const c = new Map(own!.configs.map((x) => [x.name, x]));
    expect(own!.configs.filter((x) => !x.readOnly).map((x) => x.name)).toEqual([
      'log.cleanup.policy',
      'log.message.timestamp.after.max.ms',
      'log.message.timestamp.before.max.ms',
      'log.message.timestamp.type',
      'log.retention.ms',
      'message.max.bytes',
    ]);
    expect(c.get('broker.id')).toMatchObject({
      value: '3',
      configSource: ConfigSource.STATIC_BROKER_CONFIG,
      configType: 3,
      synonyms: [
        { name: 'broker.id', value: '3', source: ConfigSource.STATIC_BROKER_CONFIG },
        { name: 'broker.id', value: '-1', source: ConfigSource.DEFAULT_CONFIG },
      ],
    });
    expect(c.get('num.partitions')).toMatchObject({
      value: '6',
      configSource: ConfigSource.STATIC_BROKER_CONFIG,
    });
    expect(c.get('default.replication.factor')).toMatchObject({
      value: '1',
      configSource: ConfigSource.DEFAULT_CONFIG,
    });
    expect(c.get('auto.create.topics.enable')).toMatchObject({
      value: 'true',
      configSource: ConfigSource.DEFAULT_CONFIG,
    });
    expect(c.get('advertised.listeners')).toMatchObject({
      value: 'PLAINTEXT://kch.test:19092',
      configSource: ConfigSource.STATIC_BROKER_CONFIG,
    });
    expect(c.get('broker.rack')!.value).toBe('r1');
    expect(c.get('log.retention.ms')).toMatchObject({
      value: '3600000',
      configSource: ConfigSource.STATIC_BROKER_CONFIG,
    });
    expect(c.get('log.segment.bytes')).toMatchObject({
      value: '1073741824',
      configSource: ConfigSource.DEFAULT_CONFIG,
    });
    expect(c.get('message.max.bytes')).toMatchObject({
      value: '1048588',
      configSource: ConfigSource.DEFAULT_CONFIG,
    });
    expect(c.get('log.dirs')!.value).toBe(broker.storage.location);
    const names = own!.configs.map((x) => x.name);
    expect(names).toEqual([...names].sort());
    expect(new Set(names).size).toBe(names.length);

    expect(dflt).toMatchObject({ errorCode: 0, configs: [] });
    expect(other).toMatchObject({
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: 'Unexpected broker id, expected 3 or empty string, but received 4',
    });
    expect(notNumber).toMatchObject({
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: 'Broker id must be an integer, but it is: one',
    });
  });

  it('has no broker loggers to list', async () => {
    const { broker } = await adminBroker();
    const res = await call(broker, describeConfigs, 4, {
      resources: [
        { resourceType: BROKER_LOGGER, resourceName: '1', configurationKeys: null },
        { resourceType: BROKER_LOGGER, resourceName: '', configurationKeys: null },
      ],
    });
    expect(res.results.map((r) => [r.errorCode, r.errorMessage, r.configs.length])).toEqual([
      [0, null, 0],
      [ErrorCode.INVALID_REQUEST, 'Broker id must not be empty', 0],
    ]);
  });
});

describe('AlterConfigs', () => {
  it("replaces the topic's whole set of overrides", async () => {
    const { broker, storage } = await adminBroker();
    await broker.topics.create('t', 1, { 'retention.ms': '1000', 'cleanup.policy': 'compact' });
    const res = await call(broker, alterConfigs, 2, {
      resources: [
        { resourceType: TOPIC, resourceName: 't', configs: [{ name: 'segment.bytes', value: ' 1048576 ' }] },
      ],
      validateOnly: false,
    });
    expect(res.responses).toEqual([
      expect.objectContaining({ resourceType: TOPIC, resourceName: 't', errorCode: 0, errorMessage: null }),
    ]);
    expect(broker.topics.get('t')!.record.configs).toEqual({ 'segment.bytes': '1048576' });
    expect((await storage.listTopics())[0]!.configs).toEqual({ 'segment.bytes': '1048576' });

    const described = await call(broker, describeConfigs, 1, {
      resources: [
        { resourceType: TOPIC, resourceName: 't', configurationKeys: ['retention.ms', 'segment.bytes'] },
      ],
      includeSynonyms: false,
    });
    expect(described.results[0]!.configs.map((x) => [x.name, x.value, x.configSource])).toEqual([
      ['retention.ms', '-1', ConfigSource.DEFAULT_CONFIG],
      ['segment.bytes', '1048576', ConfigSource.TOPIC_CONFIG],
    ]);
  });

  it('validateOnly changes nothing', async () => {
    const { broker } = await adminBroker();
    await broker.topics.create('t', 1, { 'retention.ms': '1000' });
    const res = await call(broker, alterConfigs, 0, {
      resources: [{ resourceType: TOPIC, resourceName: 't', configs: [] }],
      validateOnly: true,
    });
    expect(res.responses[0]!.errorCode).toBe(0);
    expect(broker.topics.get('t')!.record.configs).toEqual({ 'retention.ms': '1000' });
  });

  it('answers each resource with its own error', async () => {
    const { broker } = await adminBroker();
    await broker.topics.create('t', 1, { 'retention.ms': '1000' });
    const res = await call(broker, alterConfigs, 1, {
      resources: [
        { resourceType: TOPIC, resourceName: 'missing', configs: [{ name: 'retention.ms', value: '1' }] },
        { resourceType: TOPIC, resourceName: 't', configs: [{ name: 'retention.ms', value: 'soon' }] },
        { resourceType: TOPIC, resourceName: '', configs: [] },
        { resourceType: TOPIC, resourceName: 'bad name', configs: [] },
        {
          resourceType: BROKER,
          resourceName: '1',
          configs: [{ name: 'offsets.retention.minutes', value: '1' }],
        },
        { resourceType: BROKER, resourceName: '', configs: [] },
        { resourceType: BROKER, resourceName: '2', configs: [] },
        { resourceType: BROKER_LOGGER, resourceName: '1', configs: [] },
        { resourceType: TOPIC, resourceName: 'twice', configs: [] },
        { resourceType: TOPIC, resourceName: 'twice', configs: [] },
      ],
      validateOnly: false,
    });
    expect(res.responses.map((r) => [r.resourceName, r.errorCode, r.errorMessage])).toEqual([
      ['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "The topic 'missing' does not exist."],
      [
        't',
        ErrorCode.INVALID_CONFIG,
        'Invalid value soon for configuration retention.ms: Not a number of type LONG',
      ],
      ['', ErrorCode.INVALID_REQUEST, 'Default topic resources are not allowed.'],
      ['bad name', ErrorCode.INVALID_TOPIC_EXCEPTION, expect.stringMatching(/bad name/)],
      [
        '1',
        ErrorCode.INVALID_REQUEST,
        'Cannot update these configs dynamically: Set(offsets.retention.minutes)',
      ],
      ['', ErrorCode.NONE, null],
      ['2', ErrorCode.INVALID_REQUEST, 'Unexpected broker id, expected 1, but received 2'],
      ['1', ErrorCode.INVALID_REQUEST, 'Unknown resource type 8'],
      ['twice', ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.'],
      ['twice', ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.'],
    ]);
    expect(broker.topics.get('t')!.record.configs).toEqual({ 'retention.ms': '1000' });
  });

  it('refuses null values and repeated keys', async () => {
    const { broker } = await adminBroker();
    await broker.topics.create('t', 1, {});
    const res = await call(broker, alterConfigs, 2, {
      resources: [
        { resourceType: TOPIC, resourceName: 't', configs: [{ name: 'retention.ms', value: null }] },
        {
          resourceType: TOPIC,
          resourceName: 'u',
          configs: [
            { name: 'retention.ms', value: '1' },
            { name: 'retention.ms', value: '2' },
          ],
        },
      ],
      validateOnly: false,
    });
    expect(res.responses.map((r) => [r.errorCode, r.errorMessage])).toEqual([
      [ErrorCode.INVALID_REQUEST, 'Null value not supported for : retention.ms'],
      [ErrorCode.INVALID_REQUEST, 'Error due to duplicate config keys'],
    ]);
  });
});

describe('IncrementalAlterConfigs', () => {
  const op = (name: string, configOperation: number, value: string | null = null) => ({
    name,
    configOperation,
    value,
  });

  it('sets and deletes keys, keeping the other overrides', async () => {
    const { broker, storage } = await adminBroker();
    await broker.topics.create('t', 1, { 'retention.ms': '1000', 'segment.bytes': '1048576' });
    const res = await call(broker, incrementalAlterConfigs, 1, {
      resources: [
        {
          resourceType: TOPIC,
          resourceName: 't',
          configs: [
            op('retention.ms', AlterConfigOp.DELETE),
            op('max.message.bytes', AlterConfigOp.SET, '2000'),
          ],
        },
      ],
      validateOnly: false,
    });
    expect(res.responses[0]).toMatchObject({ errorCode: 0, errorMessage: null });
    expect(broker.topics.get('t')!.record.configs).toEqual({
      'segment.bytes': '1048576',
      'max.message.bytes': '2000',
    });
    expect((await storage.listTopics())[0]!.configs).toEqual({
      'segment.bytes': '1048576',
      'max.message.bytes': '2000',
    });
  });

  it('appends to and subtracts from list configs, starting from the default', async () => {
    const { broker } = await adminBroker();
    await broker.topics.create('t', 1, {});
    const alter = async (...configs: ReturnType<typeof op>[]) =>
      (
        await call(broker, incrementalAlterConfigs, 0, {
          resources: [{ resourceType: TOPIC, resourceName: 't', configs }],
          validateOnly: false,
        })
      ).responses[0]!;
    expect(await alter(op('cleanup.policy', AlterConfigOp.APPEND, 'compact'))).toMatchObject({
      errorCode: 0,
    });
    expect(broker.topics.get('t')!.record.configs['cleanup.policy']).toBe('delete,compact');
    expect(await alter(op('cleanup.policy', AlterConfigOp.APPEND, 'compact'))).toMatchObject({
      errorCode: 0,
    });
    expect(broker.topics.get('t')!.record.configs['cleanup.policy']).toBe('delete,compact');
    expect(await alter(op('cleanup.policy', AlterConfigOp.SUBTRACT, 'delete'))).toMatchObject({
      errorCode: 0,
    });
    expect(broker.topics.get('t')!.record.configs['cleanup.policy']).toBe('compact');
    expect(await alter(op('retention.ms', AlterConfigOp.APPEND, '5'))).toMatchObject({
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage: "Can't APPEND to key retention.ms because its type is not LIST.",
    });
    expect(await alter(op('cleanup.policy', AlterConfigOp.APPEND, 'shred'))).toMatchObject({
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage:
        'Invalid value shred for configuration cleanup.policy: String must be one of: compact, delete',
    });
    expect(await alter(op('retention.ms', 7, '5'))).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST });
    expect(broker.topics.get('t')!.record.configs).toEqual({ 'cleanup.policy': 'compact' });
  });

  it('applies all operations of a resource or none, and validateOnly none', async () => {
    const { broker } = await adminBroker();
    await broker.topics.create('t', 1, { 'retention.ms': '1000' });
    const bad = await call(broker, incrementalAlterConfigs, 1, {
      resources: [
        {
          resourceType: TOPIC,
          resourceName: 't',
          configs: [
            op('retention.ms', AlterConfigOp.SET, '2000'),
            op('segment.bytes', AlterConfigOp.SET, '1'),
          ],
        },
      ],
      validateOnly: false,
    });
    expect(bad.responses[0]).toMatchObject({
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage: 'Invalid value 1 for configuration segment.bytes: Value must be at least 14',
    });
    const dry = await call(broker, incrementalAlterConfigs, 1, {
      resources: [
        { resourceType: TOPIC, resourceName: 't', configs: [op('retention.ms', AlterConfigOp.SET, '2000')] },
      ],
      validateOnly: true,
    });
    expect(dry.responses[0]!.errorCode).toBe(0);
    expect(broker.topics.get('t')!.record.configs).toEqual({ 'retention.ms': '1000' });
  });

  it('refuses broker and logger changes as Kafka refuses read-only ones', async () => {
    const { broker } = await adminBroker();
    const res = await call(broker, incrementalAlterConfigs, 1, {
      resources: [
        {
          resourceType: BROKER,
          resourceName: '1',
          configs: [op('offsets.retention.minutes', AlterConfigOp.SET, '1')],
        },
        {
          resourceType: BROKER,
          resourceName: '',
          configs: [op('offsets.retention.minutes', AlterConfigOp.DELETE)],
        },
        {
          resourceType: BROKER_LOGGER,
          resourceName: '1',
          configs: [op('kafka.server', AlterConfigOp.SET, 'DEBUG')],
        },
        {
          resourceType: BROKER_LOGGER,
          resourceName: '+1',
          configs: [op('root', AlterConfigOp.APPEND, 'DEBUG')],
        },
        {
          resourceType: TOPIC,
          resourceName: 'missing',
          configs: [op('retention.ms', AlterConfigOp.SET, '1')],
        },
        {
          resourceType: TOPIC,
          resourceName: 'nulls',
          configs: [op('retention.ms', AlterConfigOp.SET, null)],
        },
      ],
      validateOnly: false,
    });
    expect(res.responses.map((r) => [r.resourceType, r.errorCode, r.errorMessage])).toEqual([
      [
        BROKER,
        ErrorCode.INVALID_REQUEST,
        'Cannot update these configs dynamically: Set(offsets.retention.minutes)',
      ],
      [BROKER, ErrorCode.NONE, null],
      [
        BROKER_LOGGER,
        ErrorCode.INVALID_CONFIG,
        expect.stringMatching(/^Logger kafka.server does not exist!/),
      ],
      [
        BROKER_LOGGER,
        ErrorCode.INVALID_REQUEST,
        'APPEND operation is not allowed for the BROKER_LOGGER resource',
      ],
      [TOPIC, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, "The topic 'missing' does not exist."],
      [TOPIC, ErrorCode.INVALID_REQUEST, 'Null value not supported for : retention.ms'],
    ]);
  });
});
