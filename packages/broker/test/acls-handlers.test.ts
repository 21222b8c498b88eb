/**
 * CreateAcls, DescribeAcls and DeleteAcls at every version, and each API's authorization checks, called
 * through the codec (admin-helpers' `call`, whose principal is User:ANONYMOUS from 127.0.0.1) on a broker
 * with an authorizer over memory storage.
 */
import { ErrorCode, encodeRecordBatchSync, ZERO_UUID } from '@kch/protocol';
import { type AclBinding, memoryStorage } from '@kch/storage';
import { afterEach, describe, expect, it } from 'vitest';
import { type Broker, createBroker } from '../src/broker.js';
import type { BrokerContext } from '../src/context.js';
import alterConfigs from '../src/handlers/alter-configs.js';
import createAcls from '../src/handlers/create-acls.js';
import createPartitions from '../src/handlers/create-partitions.js';
import createTopics from '../src/handlers/create-topics.js';
import deleteAcls from '../src/handlers/delete-acls.js';
import deleteGroups from '../src/handlers/delete-groups.js';
import deleteRecords from '../src/handlers/delete-records.js';
import deleteTopics from '../src/handlers/delete-topics.js';
import describeAcls from '../src/handlers/describe-acls.js';
import describeCluster from '../src/handlers/describe-cluster.js';
import describeConfigs from '../src/handlers/describe-configs.js';
import describeGroups from '../src/handlers/describe-groups.js';
import describeLogDirs from '../src/handlers/describe-log-dirs.js';
import describeProducers from '../src/handlers/describe-producers.js';
import describeTopicPartitions from '../src/handlers/describe-topic-partitions.js';
import fetch from '../src/handlers/fetch.js';
import findCoordinator from '../src/handlers/find-coordinator.js';
import heartbeat from '../src/handlers/heartbeat.js';
import incrementalAlterConfigs from '../src/handlers/incremental-alter-configs.js';
import initProducerId from '../src/handlers/init-producer-id.js';
import joinGroup from '../src/handlers/join-group.js';
import leaveGroup from '../src/handlers/leave-group.js';
import listGroups from '../src/handlers/list-groups.js';
import listOffsets from '../src/handlers/list-offsets.js';
import metadata from '../src/handlers/metadata.js';
import offsetCommit from '../src/handlers/offset-commit.js';
import offsetDelete from '../src/handlers/offset-delete.js';
import offsetFetch from '../src/handlers/offset-fetch.js';
import offsetForLeaderEpoch from '../src/handlers/offset-for-leader-epoch.js';
import produce from '../src/handlers/produce.js';
import syncGroup from '../src/handlers/sync-group.js';
import { silentLogger } from '../src/logger.js';
import { ANY_BINDING } from '../src/security/acl-bindings.js';
import {
  AclPermissionType,
  CLUSTER_NAME,
  AclOperation as Op,
  PatternType,
  ResourceType,
} from '../src/security/acl-codes.js';
import { adminBroker, call, versionsOf } from './admin-helpers.js';

const { TOPIC, GROUP, CLUSTER } = ResourceType;
const { ALLOW, DENY } = AclPermissionType;
const ME = 'User:ANONYMOUS';
const TAF = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
const GAF = ErrorCode.GROUP_AUTHORIZATION_FAILED;
const CAF = ErrorCode.CLUSTER_AUTHORIZATION_FAILED;

function acl(resourceType: number, resourceName: string, operation: number, more: Partial<AclBinding> = {}) {
  return {
    resourceType,
    resourceName,
    patternType: PatternType.LITERAL,
    principal: ME,
    host: '*',
    operation,
    permissionType: ALLOW,
    ...more,
  };
}

/** A CreateAcls creation of a binding (the wire names its pattern type resourcePatternType). */
const creation = (b: AclBinding) => ({ ...b, resourcePatternType: b.patternType });

const brokers: Broker[] = [];
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

/** A broker with an authorizer (super user User:admin) whose store holds `acls` at start, and a topic "orders". */
async function secured(acls: AclBinding[] = [], superUsers = ['User:admin']): Promise<BrokerContext> {
  const storage = memoryStorage();
  await storage.security!.addAcls(acls);
  const broker = await createBroker({
    storage,
    logger: silentLogger,
    authorizer: { superUsers },
    groupInitialRebalanceDelayMs: 0,
  });
  brokers.push(broker);
  await broker.context.topics.create('orders', 2, {});
  return broker.context;
}

const grant = (ctx: BrokerContext, ...bindings: AclBinding[]) =>
  ctx.security.authorizer!.createAcls(bindings);

/** DescribeAcls' and DeleteAcls' filter selecting every binding. */
const ANY_FILTER = {
  resourceTypeFilter: ResourceType.ANY,
  resourceNameFilter: null,
  patternTypeFilter: PatternType.ANY,
  principalFilter: null,
  hostFilter: null,
  operation: Op.ANY,
  permissionType: AclPermissionType.ANY,
};

describe('CreateAcls, DescribeAcls, DeleteAcls', () => {
  it('answer SECURITY_DISABLED at every version without an authorizer', async () => {
    const { broker } = await adminBroker();
    for (const v of versionsOf('CreateAcls')) {
      const created = await call(broker, createAcls, v, { creations: [creation(acl(TOPIC, 't', Op.READ))] });
      expect(created.results).toEqual([
        expect.objectContaining({
          errorCode: ErrorCode.SECURITY_DISABLED,
          errorMessage: 'No Authorizer is configured.',
        }),
      ]);
    }
    for (const v of versionsOf('DescribeAcls')) {
      const filter = v === 0 ? { ...ANY_FILTER, patternTypeFilter: PatternType.LITERAL } : ANY_FILTER;
      const described = await call(broker, describeAcls, v, filter);
      expect(described).toMatchObject({
        errorCode: ErrorCode.SECURITY_DISABLED,
        errorMessage: 'No Authorizer is configured on the broker',
        resources: [],
      });
    }
    for (const v of versionsOf('DeleteAcls')) {
      const filter = v === 0 ? { ...ANY_FILTER, patternTypeFilter: PatternType.LITERAL } : ANY_FILTER;
      const deleted = await call(broker, deleteAcls, v, { filters: [filter] });
      expect(deleted.filterResults).toEqual([
        expect.objectContaining({ errorCode: ErrorCode.SECURITY_DISABLED, matchingAcls: [] }),
      ]);
    }
  });

  it('need Alter (create, delete) and Describe (describe) on the cluster', async () => {
    const ctx = await secured();
    const created = await call(ctx, createAcls, 3, { creations: [creation(acl(TOPIC, 't', Op.READ))] });
    expect(created.results[0]!.errorCode).toBe(CAF);
    expect((await call(ctx, describeAcls, 3, ANY_FILTER)).errorCode).toBe(CAF);
    expect((await call(ctx, deleteAcls, 3, { filters: [ANY_FILTER] })).filterResults[0]!.errorCode).toBe(CAF);
    // An ALLOW for Alter also allows Describe.
    await grant(ctx, acl(CLUSTER, CLUSTER_NAME, Op.ALTER));
    expect((await call(ctx, describeAcls, 3, ANY_FILTER)).errorCode).toBe(ErrorCode.NONE);
    expect(
      (await call(ctx, createAcls, 3, { creations: [creation(acl(TOPIC, 't', Op.READ))] })).results[0]!
        .errorCode,
    ).toBe(ErrorCode.NONE);
  });

  it('round-trip at every version: create, describe grouped by pattern, delete by filter', async () => {
    const ctx = await secured([acl(CLUSTER, CLUSTER_NAME, Op.ALTER)]);
    for (const v of versionsOf('CreateAcls')) {
      const name = `t${v}`;
      const creations = [
        acl(TOPIC, name, Op.READ),
        acl(TOPIC, name, Op.WRITE, { permissionType: DENY, host: '10.0.0.1', principal: 'User:bob' }),
        // Prefixed patterns exist from v1.
        ...(v >= 1 ? [acl(TOPIC, `${name}.`, Op.READ, { patternType: PatternType.PREFIXED })] : []),
      ];
      const created = await call(ctx, createAcls, v, { creations: creations.map(creation) });
      expect(created.results.map((r) => r.errorCode)).toEqual(creations.map(() => ErrorCode.NONE));

      const described = await call(ctx, describeAcls, v, {
        ...ANY_FILTER,
        resourceTypeFilter: TOPIC,
        resourceNameFilter: name,
        patternTypeFilter: PatternType.LITERAL,
      });
      expect(described.errorCode).toBe(ErrorCode.NONE);
      expect(described.resources).toEqual([
        expect.objectContaining({
          resourceType: TOPIC,
          resourceName: name,
          patternType: PatternType.LITERAL,
          acls: [
            expect.objectContaining({ principal: ME, host: '*', operation: Op.READ, permissionType: ALLOW }),
            expect.objectContaining({
              principal: 'User:bob',
              host: '10.0.0.1',
              operation: Op.WRITE,
              permissionType: DENY,
            }),
          ],
        }),
      ]);

      const deleted = await call(ctx, deleteAcls, v, {
        filters: [
          {
            ...ANY_FILTER,
            resourceTypeFilter: TOPIC,
            resourceNameFilter: name,
            patternTypeFilter: PatternType.LITERAL,
            operation: Op.READ,
          },
        ],
      });
      expect(deleted.filterResults[0]!.errorCode).toBe(ErrorCode.NONE);
      expect(deleted.filterResults[0]!.matchingAcls).toEqual([
        expect.objectContaining({
          errorCode: ErrorCode.NONE,
          resourceName: name,
          operation: Op.READ,
          principal: ME,
        }),
      ]);
    }
    // What is left: a DENY for bob on each, and the prefixed ones of v1+.
    const left = await call(ctx, describeAcls, 3, { ...ANY_FILTER, resourceTypeFilter: TOPIC });
    expect(left.resources.flatMap((r) => r.acls)).toHaveLength(versionsOf('CreateAcls').length * 2 - 1);
    // MATCH selects what applies to a resource of that name (a prefixed binding here).
    const matched = await call(ctx, describeAcls, 3, {
      ...ANY_FILTER,
      resourceNameFilter: 't2.x',
      patternTypeFilter: PatternType.MATCH,
    });
    expect(matched.resources).toEqual([
      expect.objectContaining({ resourceName: 't2.', patternType: PatternType.PREFIXED }),
    ]);
  });

  it('refuse bindings as Kafka does: each on its own, or the whole request', async () => {
    const ctx = await secured([acl(CLUSTER, CLUSTER_NAME, Op.ALTER)]);
    const created = await call(ctx, createAcls, 3, {
      creations: [
        acl(CLUSTER, 'other-cluster', Op.ALTER),
        acl(TOPIC, '', Op.READ),
        acl(TOPIC, 't', Op.READ, { principal: 'alice' }),
        acl(42, 't', Op.READ),
        acl(TOPIC, 't', 99),
        acl(TOPIC, 'fine', Op.READ),
      ].map(creation),
    });
    expect(created.results).toEqual([
      {
        errorCode: ErrorCode.INVALID_REQUEST,
        errorMessage: 'The only valid name for the CLUSTER resource is kafka-cluster',
      },
      { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Invalid empty resource name' },
      {
        errorCode: ErrorCode.INVALID_REQUEST,
        errorMessage: 'expected a string in format principalType:principalName but got alice',
      },
      { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Invalid resourceType UNKNOWN' },
      { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Invalid operation UNKNOWN' },
      { errorCode: ErrorCode.NONE, errorMessage: null },
    ]);
    // ANY or MATCH where a binding needs a concrete value: Kafka's AclBinding refuses the whole request.
    for (const bad of [
      acl(ResourceType.ANY, 't', Op.READ),
      acl(TOPIC, 't', Op.READ, { patternType: PatternType.MATCH }),
      acl(TOPIC, 't', Op.ANY),
      acl(TOPIC, 't', Op.READ, { permissionType: AclPermissionType.ANY }),
    ]) {
      const res = await call(ctx, createAcls, 3, {
        creations: [acl(TOPIC, 'ok', Op.READ), bad].map(creation),
      });
      expect(res.results.map((r) => r.errorCode)).toEqual([
        ErrorCode.UNKNOWN_SERVER_ERROR,
        ErrorCode.UNKNOWN_SERVER_ERROR,
      ]);
    }
    // The UNKNOWN code (0), which Kafka cannot even parse.
    const unknown = await call(ctx, createAcls, 3, { creations: [creation(acl(TOPIC, 'ok', 0))] });
    expect(unknown.results[0]!.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    const names = (
      await call(ctx, describeAcls, 3, { ...ANY_FILTER, resourceTypeFilter: TOPIC })
    ).resources.map((r) => r.resourceName);
    expect(names).toEqual(['fine']);
  });

  it('DeleteAcls refuses filters with unknown codes, each on its own, and deletes with the others', async () => {
    const ctx = await secured([acl(CLUSTER, CLUSTER_NAME, Op.ALTER), acl(TOPIC, 'a', Op.READ)]);
    const res = await call(ctx, deleteAcls, 3, {
      filters: [
        { ...ANY_FILTER, resourceTypeFilter: 42 },
        { ...ANY_FILTER, operation: 99 },
        { ...ANY_FILTER, resourceTypeFilter: TOPIC },
      ],
    });
    expect(res.filterResults.map((r) => [r.errorCode, r.errorMessage, r.matchingAcls.length])).toEqual([
      [ErrorCode.INVALID_REQUEST, 'Unknown patternFilter.', 0],
      [ErrorCode.INVALID_REQUEST, 'Unknown entryFilter.', 0],
      [ErrorCode.NONE, null, 1],
    ]);
    expect(
      ctx.security.authorizer!.authorize({ principal: ME, host: '127.0.0.1' }, Op.READ, TOPIC, 'a'),
    ).toBe(false);
    const unknown = await call(ctx, describeAcls, 3, { ...ANY_FILTER, operation: 0 });
    expect(unknown.errorCode).toBe(ErrorCode.INVALID_REQUEST);
  });
});

/** A one-record batch of format v2. */
const RECORDS = encodeRecordBatchSync({ records: [{ value: Buffer.from('v'), timestamp: Date.now() }] });

describe('topic APIs without the operation they need', () => {
  it('Produce: TOPIC_AUTHORIZATION_FAILED per partition and nothing stored; with Write it is stored', async () => {
    const ctx = await secured();
    const request = {
      acks: -1,
      timeoutMs: 1000,
      transactionalId: null,
      topicData: [{ name: 'orders', partitionData: [{ index: 0, records: RECORDS }] }],
    };
    const refused = await call(ctx, produce, 9, request);
    expect(refused.responses[0]!.partitionResponses[0]!.errorCode).toBe(TAF);
    expect(ctx.topics.log('orders', 0)!.highWatermark).toBe(0);
    await grant(ctx, acl(TOPIC, 'orders', Op.WRITE));
    const stored = await call(ctx, produce, 9, request);
    expect(stored.responses[0]!.partitionResponses[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(ctx.topics.log('orders', 0)!.highWatermark).toBe(1);
  });

  it('Fetch: Read on the topic, asked before its existence; an unknown id stays UNKNOWN_TOPIC_ID', async () => {
    const ctx = await secured();
    const topicId = ctx.topics.get('orders')!.record.topicId;
    const partition = { partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 };
    const byName = (topic: string) =>
      call(ctx, fetch, 12, {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        topics: [{ topic, partitions: [partition] }],
      });
    expect((await byName('orders')).responses[0]!.partitions[0]!.errorCode).toBe(TAF);
    expect((await byName('nope')).responses[0]!.partitions[0]!.errorCode).toBe(TAF);
    const byId = (id: string) =>
      call(ctx, fetch, 16, {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        topics: [{ topicId: id, partitions: [partition] }],
      });
    expect((await byId(topicId)).responses[0]!.partitions[0]!.errorCode).toBe(TAF);
    expect((await byId('AAAAAAAAAAAAAAAAAAAAAQ')).responses[0]!.partitions[0]!.errorCode).toBe(
      ErrorCode.UNKNOWN_TOPIC_ID,
    );
    // A follower needs ClusterAction on the cluster, whatever its topic ACLs.
    await grant(ctx, acl(TOPIC, 'orders', Op.READ));
    expect((await byId(topicId)).responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
    const follower = await call(ctx, fetch, 12, {
      replicaId: 1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      topics: [{ topic: 'orders', partitions: [partition] }],
    });
    expect(follower.responses[0]!.partitions[0]!.errorCode).toBe(TAF);
  });

  it('ListOffsets, OffsetForLeaderEpoch, DescribeProducers, DeleteRecords, CreatePartitions', async () => {
    const ctx = await secured();
    const offsets = await call(ctx, listOffsets, 8, {
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, timestamp: -1n }] }],
    });
    expect(offsets.topics[0]!.partitions[0]).toMatchObject({ errorCode: TAF, offset: -1n });
    const epochs = await call(ctx, offsetForLeaderEpoch, 4, {
      topics: [{ topic: 'orders', partitions: [{ partition: 0, leaderEpoch: 0, currentLeaderEpoch: -1 }] }],
    });
    expect(epochs.topics[0]!.partitions[0]).toMatchObject({ errorCode: TAF, endOffset: -1n });
    const producers = await call(ctx, describeProducers, 0, {
      topics: [{ name: 'orders', partitionIndexes: [0] }],
    });
    expect(producers.topics[0]!.partitions[0]!.errorCode).toBe(TAF);
    const deleted = await call(ctx, deleteRecords, 2, {
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, offset: 0n }] }],
    });
    expect(deleted.topics[0]!.partitions[0]).toMatchObject({ errorCode: TAF, lowWatermark: -1n });
    const grown = await call(ctx, createPartitions, 3, {
      topics: [{ name: 'orders', count: 3, assignments: null }],
    });
    expect(grown.results[0]).toMatchObject({ errorCode: TAF, errorMessage: null });

    // Describe (implied by Read) is enough for the first two; Read for DescribeProducers.
    await grant(ctx, acl(TOPIC, 'orders', Op.READ));
    const allowedOffsets = await call(ctx, listOffsets, 8, {
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, timestamp: -1n }] }],
    });
    expect(allowedOffsets.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
    const allowedProducers = await call(ctx, describeProducers, 0, {
      topics: [{ name: 'orders', partitionIndexes: [0] }],
    });
    expect(allowedProducers.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
    // OffsetForLeaderEpoch from a replica: ClusterAction on the cluster covers every topic.
    await grant(ctx, acl(CLUSTER, CLUSTER_NAME, Op.CLUSTER_ACTION));
    const replica = await call(ctx, offsetForLeaderEpoch, 4, {
      topics: [{ topic: 'other', partitions: [{ partition: 0, leaderEpoch: 0, currentLeaderEpoch: -1 }] }],
    });
    expect(replica.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('Metadata: lists only describable topics, refuses named ones, needs Create to auto-create', async () => {
    const ctx = await secured();
    await ctx.topics.create('payments', 1, {});
    const all = await call(ctx, metadata, 12, { topics: null });
    expect(all.topics).toEqual([]);
    const named = await call(ctx, metadata, 12, {
      topics: [{ name: 'orders' }, { name: 'nope' }],
      allowAutoTopicCreation: false,
    });
    expect(named.topics.map((t) => [t.name, t.errorCode, t.topicId, t.partitions.length])).toEqual([
      ['orders', TAF, ZERO_UUID, 0],
      ['nope', TAF, ZERO_UUID, 0],
    ]);
    const topicId = ctx.topics.get('orders')!.record.topicId;
    const byId = await call(ctx, metadata, 12, { topics: [{ name: null, topicId }] });
    expect(byId.topics[0]).toMatchObject({ name: null, topicId, errorCode: TAF });

    await grant(
      ctx,
      acl(TOPIC, 'orders', Op.DESCRIBE),
      acl(TOPIC, 'new.', Op.DESCRIBE, { patternType: PatternType.PREFIXED }),
    );
    const listed = await call(ctx, metadata, 12, { topics: null, includeTopicAuthorizedOperations: true });
    expect(listed.topics.map((t) => [t.name, t.topicAuthorizedOperations])).toEqual([
      ['orders', 1 << Op.DESCRIBE],
    ]);
    // Auto-creation (on by default) needs Create on the cluster or the topic.
    const notCreated = await call(ctx, metadata, 12, {
      topics: [{ name: 'new.a' }],
      allowAutoTopicCreation: true,
    });
    expect(notCreated.topics[0]!.errorCode).toBe(TAF);
    expect(ctx.topics.get('new.a')).toBeUndefined();
    await grant(ctx, acl(TOPIC, 'new.', Op.CREATE, { patternType: PatternType.PREFIXED }));
    const created = await call(ctx, metadata, 12, {
      topics: [{ name: 'new.a' }],
      allowAutoTopicCreation: true,
    });
    expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
    // Cluster operations (v8-10): 0 without Describe on the cluster.
    const v10 = await call(ctx, metadata, 10, { topics: [], includeClusterAuthorizedOperations: true });
    expect(v10.clusterAuthorizedOperations).toBe(0);
  });

  it('DescribeTopicPartitions and DescribeLogDirs', async () => {
    const ctx = await secured();
    await ctx.topics.create('payments', 1, {});
    await grant(ctx, acl(TOPIC, 'payments', Op.DESCRIBE));
    const some = await call(ctx, describeTopicPartitions, 0, {
      topics: [{ name: 'orders' }, { name: 'payments' }],
      responsePartitionLimit: 100,
    });
    expect(some.topics.map((t) => [t.name, t.errorCode, t.topicAuthorizedOperations])).toEqual([
      ['payments', ErrorCode.NONE, 1 << Op.DESCRIBE],
      ['orders', TAF, -2147483648],
    ]);
    const all = await call(ctx, describeTopicPartitions, 0, { topics: [], responsePartitionLimit: 100 });
    expect(all.topics.map((t) => t.name)).toEqual(['payments']);
    const dirs = await call(ctx, describeLogDirs, 4, { topics: null });
    expect(dirs).toMatchObject({ errorCode: CAF, results: [] });
  });

  it('CreateTopics: Create on the cluster or the topic; without DescribeConfigs no configs are shown', async () => {
    const ctx = await secured();
    const topic = (name: string) => ({
      name,
      numPartitions: 1,
      replicationFactor: 1,
      assignments: [],
      configs: [],
    });
    const refused = await call(ctx, createTopics, 7, { topics: [topic('a')], timeoutMs: 1000 });
    expect(refused.topics[0]).toMatchObject({ errorCode: TAF, errorMessage: 'Authorization failed.' });
    await grant(ctx, acl(TOPIC, 'a', Op.CREATE));
    const created = await call(ctx, createTopics, 7, { topics: [topic('a')], timeoutMs: 1000 });
    expect(created.topics[0]).toMatchObject({
      errorCode: ErrorCode.NONE,
      topicConfigErrorCode: TAF,
      numPartitions: -1,
      replicationFactor: -1,
      configs: [],
    });
    expect(ctx.topics.get('a')).toBeDefined();
    await grant(ctx, acl(CLUSTER, CLUSTER_NAME, Op.CREATE), acl(TOPIC, '*', Op.ALTER_CONFIGS));
    const shown = await call(ctx, createTopics, 7, { topics: [topic('b')], timeoutMs: 1000 });
    expect(shown.topics[0]).toMatchObject({
      errorCode: ErrorCode.NONE,
      topicConfigErrorCode: 0,
      numPartitions: 1,
    });
    expect(shown.topics[0]!.configs?.length).toBeGreaterThan(0);
  });

  it('DeleteTopics: Delete to delete, Describe to hear the name of a topic given by id', async () => {
    const ctx = await secured();
    const topicId = ctx.topics.get('orders')!.record.topicId;
    const byId = () => call(ctx, deleteTopics, 6, { topics: [{ name: null, topicId }], timeoutMs: 1000 });
    expect((await byId()).responses[0]).toMatchObject({ name: null, topicId, errorCode: TAF });
    const byName = await call(ctx, deleteTopics, 6, {
      topics: [{ name: 'nope', topicId: ZERO_UUID }],
      timeoutMs: 1000,
    });
    expect(byName.responses[0]).toMatchObject({ name: 'nope', errorCode: TAF });
    await grant(ctx, acl(TOPIC, 'orders', Op.DESCRIBE));
    expect((await byId()).responses[0]).toMatchObject({ name: 'orders', topicId, errorCode: TAF });
    await grant(ctx, acl(TOPIC, 'orders', Op.DELETE));
    expect((await byId()).responses[0]).toMatchObject({ name: 'orders', errorCode: ErrorCode.NONE });
    expect(ctx.topics.get('orders')).toBeUndefined();
  });

  it('DescribeConfigs, AlterConfigs, IncrementalAlterConfigs: the topic, or the cluster for broker configs', async () => {
    const ctx = await secured();
    const nodeId = String(ctx.config.nodeId);
    const described = await call(ctx, describeConfigs, 4, {
      resources: [
        { resourceType: 2, resourceName: 'orders', configurationKeys: null },
        { resourceType: 4, resourceName: nodeId, configurationKeys: null },
      ],
    });
    expect(described.results.map((r) => [r.errorCode, r.errorMessage])).toEqual([
      [TAF, 'Topic authorization failed.'],
      [CAF, 'Cluster authorization failed.'],
    ]);
    const altered = await call(ctx, alterConfigs, 2, {
      resources: [
        { resourceType: 2, resourceName: 'orders', configs: [{ name: 'retention.ms', value: '1000' }] },
        { resourceType: 4, resourceName: nodeId, configs: [] },
      ],
      validateOnly: false,
    });
    expect(altered.responses.map((r) => r.errorCode)).toEqual([TAF, CAF]);
    const incremental = await call(ctx, incrementalAlterConfigs, 1, {
      resources: [
        {
          resourceType: 2,
          resourceName: 'orders',
          configs: [{ name: 'retention.ms', configOperation: 0, value: '1' }],
        },
        { resourceType: 8, resourceName: nodeId, configs: [] },
      ],
      validateOnly: false,
    });
    expect(incremental.responses.map((r) => r.errorCode)).toEqual([TAF, CAF]);
    // AlterConfigs implies DescribeConfigs.
    await grant(ctx, acl(TOPIC, 'orders', Op.ALTER_CONFIGS));
    const now = await call(ctx, describeConfigs, 4, {
      resources: [{ resourceType: 2, resourceName: 'orders', configurationKeys: ['retention.ms'] }],
    });
    expect(now.results[0]!.errorCode).toBe(ErrorCode.NONE);
  });

  it('InitProducerId: IdempotentWrite on the cluster, or Write on some topic', async () => {
    const ctx = await secured();
    const request = {
      transactionalId: null,
      transactionTimeoutMs: 60_000,
      producerId: -1n,
      producerEpoch: -1,
    };
    expect((await call(ctx, initProducerId, 4, request)).errorCode).toBe(CAF);
    await grant(ctx, acl(TOPIC, 'any.', Op.WRITE, { patternType: PatternType.PREFIXED }));
    expect((await call(ctx, initProducerId, 4, request)).errorCode).toBe(ErrorCode.NONE);
  });

  it('DescribeCluster answers anyone; its operations need Describe on the cluster', async () => {
    const ctx = await secured();
    const refused = await call(ctx, describeCluster, 1, {
      includeClusterAuthorizedOperations: true,
      endpointType: 1,
    });
    expect(refused).toMatchObject({ errorCode: ErrorCode.NONE, clusterAuthorizedOperations: 0 });
    await grant(
      ctx,
      acl(CLUSTER, CLUSTER_NAME, Op.DESCRIBE),
      acl(CLUSTER, CLUSTER_NAME, Op.IDEMPOTENT_WRITE),
    );
    const described = await call(ctx, describeCluster, 1, {
      includeClusterAuthorizedOperations: true,
      endpointType: 1,
    });
    expect(described.clusterAuthorizedOperations).toBe((1 << Op.DESCRIBE) | (1 << Op.IDEMPOTENT_WRITE));
  });
});

describe('group APIs without the operation they need', () => {
  const commit = (topics = ['orders']) => ({
    groupId: 'g',
    generationIdOrMemberEpoch: -1,
    memberId: '',
    topics: topics.map((name) => ({
      name,
      partitions: [{ partitionIndex: 0, committedOffset: 5n, committedMetadata: null }],
    })),
  });

  it('FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups, DeleteGroups, OffsetDelete', async () => {
    const ctx = await secured();
    const found = await call(ctx, findCoordinator, 4, { keyType: 0, coordinatorKeys: ['g'] });
    expect(found.coordinators[0]).toMatchObject({ key: 'g', errorCode: GAF, nodeId: -1 });
    const oldFound = await call(ctx, findCoordinator, 3, { keyType: 0, key: 'g' });
    expect(oldFound).toMatchObject({ errorCode: GAF, errorMessage: 'Group authorization failed.' });
    const txn = await call(ctx, findCoordinator, 4, { keyType: 1, coordinatorKeys: ['tx'] });
    expect(txn.coordinators[0]!.errorCode).toBe(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    const joined = await call(ctx, joinGroup, 9, {
      groupId: 'g',
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId: 'm',
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
    });
    expect(joined).toMatchObject({ errorCode: GAF, memberId: '' });
    const synced = await call(ctx, syncGroup, 5, {
      groupId: 'g',
      generationId: 1,
      memberId: 'm',
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [],
    });
    expect(synced.errorCode).toBe(GAF);
    expect((await call(ctx, heartbeat, 4, { groupId: 'g', generationId: 1, memberId: 'm' })).errorCode).toBe(
      GAF,
    );
    const left = await call(ctx, leaveGroup, 5, { groupId: 'g', members: [{ memberId: 'm' }] });
    expect(left.errorCode).toBe(GAF);
    const described = await call(ctx, describeGroups, 5, {
      groups: ['g'],
      includeAuthorizedOperations: true,
    });
    expect(described.groups[0]).toMatchObject({ groupId: 'g', errorCode: GAF, groupState: '' });
    expect((await call(ctx, deleteGroups, 2, { groupsNames: ['g', 'g'] })).results).toEqual([
      expect.objectContaining({ groupId: 'g', errorCode: GAF }),
    ]);
    const offsetsDeleted = await call(ctx, offsetDelete, 0, {
      groupId: 'g',
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0 }] }],
    });
    expect(offsetsDeleted.errorCode).toBe(GAF);
  });

  it('OffsetCommit and OffsetFetch: Read / Describe on the group, then on each topic', async () => {
    const ctx = await secured();
    await ctx.topics.create('payments', 1, {});
    const refused = await call(ctx, offsetCommit, 8, commit());
    expect(refused.topics[0]!.partitions[0]!.errorCode).toBe(GAF);
    const fetched = await call(ctx, offsetFetch, 8, { groups: [{ groupId: 'g', topics: null }] });
    expect(fetched.groups[0]).toMatchObject({ groupId: 'g', errorCode: GAF, topics: [] });
    const v1 = await call(ctx, offsetFetch, 1, {
      groupId: 'g',
      topics: [{ name: 'orders', partitionIndexes: [0] }],
    });
    expect(v1.topics[0]!.partitions[0]!.errorCode).toBe(GAF);

    await grant(ctx, acl(GROUP, 'g', Op.READ), acl(TOPIC, 'orders', Op.READ));
    const partly = await call(ctx, offsetCommit, 8, commit(['payments', 'orders']));
    expect(partly.topics.map((t) => [t.name, t.partitions[0]!.errorCode])).toEqual([
      ['payments', TAF],
      ['orders', ErrorCode.NONE],
    ]);
    const named = await call(ctx, offsetFetch, 8, {
      groups: [
        {
          groupId: 'g',
          topics: [
            { name: 'payments', partitionIndexes: [0] },
            { name: 'orders', partitionIndexes: [0] },
          ],
        },
      ],
    });
    expect(
      named.groups[0]!.topics.map((t) => [
        t.name,
        t.partitions[0]!.errorCode,
        t.partitions[0]!.committedOffset,
      ]),
    ).toEqual([
      ['orders', ErrorCode.NONE, 5n],
      ['payments', TAF, -1n],
    ]);
    // All topics: only the describable ones, though the group has offsets of both.
    await grant(ctx, acl(TOPIC, 'payments', Op.READ));
    await call(ctx, offsetCommit, 8, commit(['payments']));
    await ctx.security.authorizer!.deleteAcls([
      { ...ANY_BINDING, resourceType: TOPIC, resourceName: 'payments' },
    ]);
    const everything = await call(ctx, offsetFetch, 5, { groupId: 'g', topics: null });
    expect(everything.topics.map((t) => t.name)).toEqual(['orders']);
  });

  it('ListGroups: all groups with Describe on the cluster, else the describable ones', async () => {
    const ctx = await secured([acl(GROUP, 'g', Op.READ), acl(TOPIC, 'orders', Op.READ)]);
    await call(ctx, offsetCommit, 2, commit());
    await grant(ctx, acl(GROUP, 'h', Op.READ));
    await call(ctx, offsetCommit, 2, { ...commit(), groupId: 'h' });
    await ctx.security.authorizer!.deleteAcls([{ ...ANY_BINDING, resourceType: GROUP, resourceName: 'h' }]);
    const listed = await call(ctx, listGroups, 4, { statesFilter: [] });
    expect(listed.groups.map((g) => g.groupId)).toEqual(['g']);
    await grant(ctx, acl(CLUSTER, CLUSTER_NAME, Op.DESCRIBE));
    const all = await call(ctx, listGroups, 4, { statesFilter: [] });
    expect(all.groups.map((g) => g.groupId).sort()).toEqual(['g', 'h']);
    // Delete on the group and Read on the topic let OffsetDelete through.
    await grant(ctx, acl(GROUP, 'g', Op.DELETE));
    const offsets = await call(ctx, offsetDelete, 0, {
      groupId: 'g',
      topics: [
        { name: 'orders', partitions: [{ partitionIndex: 0 }] },
        { name: 'payments', partitions: [{ partitionIndex: 0 }] },
      ],
    });
    expect(offsets.topics.map((t) => [t.name, t.partitions[0]!.errorCode])).toEqual([
      ['payments', TAF],
      ['orders', ErrorCode.NONE],
    ]);
  });

  it('a super user may do everything, DENY bindings notwithstanding', async () => {
    const ctx = await secured([acl(GROUP, '*', Op.ALL, { permissionType: DENY })], [ME]);
    const described = await call(ctx, describeGroups, 5, {
      groups: ['g'],
      includeAuthorizedOperations: true,
    });
    // READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS: every operation Kafka lists for a group.
    expect(described.groups[0]).toMatchObject({ errorCode: ErrorCode.NONE, authorizedOperations: 3400 });
  });
});
