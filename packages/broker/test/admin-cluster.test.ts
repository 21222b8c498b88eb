/**
 * DeleteRecords, DescribeCluster, Metadata's authorized operations, DescribeTopicPartitions,
 * DescribeLogDirs, ElectLeaders, the features of ApiVersions (DescribeFeatures); error responses of
 * every admin API.
 */
import { ErrorCode, encodeRecordBatchSync, ZERO_UUID } from '@kch/protocol';
import { describe, expect, it } from 'vitest';
import type { ApiHandler } from '../src/handler.js';
import alterConfigs from '../src/handlers/alter-configs.js';
import apiVersions from '../src/handlers/api-versions.js';
import createPartitions from '../src/handlers/create-partitions.js';
import createTopics from '../src/handlers/create-topics.js';
import deleteRecords from '../src/handlers/delete-records.js';
import deleteTopics from '../src/handlers/delete-topics.js';
import describeCluster, { CLUSTER_OPERATIONS } from '../src/handlers/describe-cluster.js';
import describeConfigs from '../src/handlers/describe-configs.js';
import describeLogDirs from '../src/handlers/describe-log-dirs.js';
import describeTopicPartitions, { TOPIC_OPERATIONS } from '../src/handlers/describe-topic-partitions.js';
import electLeaders from '../src/handlers/elect-leaders.js';
import incrementalAlterConfigs from '../src/handlers/incremental-alter-configs.js';
import metadata, { AUTHORIZED_OPERATIONS_OMITTED } from '../src/handlers/metadata.js';
import type { PartitionLog } from '../src/log/partition-log.js';
import { adminBroker, call, versionsOf } from './admin-helpers.js';

/** Appends `count` one-record batches to the log. */
async function produce(log: PartitionLog, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const now = Date.now();
    const bytes = encodeRecordBatchSync({ records: [{ value: Buffer.from(`v${i}`), timestamp: now }] });
    await log.append(
      [
        {
          bytes,
          lastOffsetDelta: 0,
          recordCount: 1,
          baseTimestamp: now,
          maxTimestamp: now,
          producerId: -1,
          producerEpoch: -1,
          baseSequence: -1,
          isTransactional: false,
          isControl: false,
        },
      ],
      false,
    );
  }
}

describe('DeleteRecords', () => {
  it('moves the log start offset and answers the low watermark', async () => {
    const { broker, storage } = await adminBroker();
    await broker.topics.create('t', 2, {});
    const log = broker.topics.log('t', 0)!;
    await produce(log, 10);
    const res = await call(broker, deleteRecords, 2, {
      topics: [
        {
          name: 't',
          partitions: [
            { partitionIndex: 0, offset: 4n },
            { partitionIndex: 1, offset: 1n },
            { partitionIndex: 2, offset: 0n },
          ],
        },
        { name: 'missing', partitions: [{ partitionIndex: 0, offset: 0n }] },
      ],
      timeoutMs: 1000,
    });
    expect(res.topics).toEqual([
      expect.objectContaining({
        name: 't',
        partitions: [
          expect.objectContaining({ partitionIndex: 0, lowWatermark: 4n, errorCode: 0 }),
          expect.objectContaining({
            partitionIndex: 1,
            lowWatermark: -1n,
            errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
          }),
          expect.objectContaining({
            partitionIndex: 2,
            lowWatermark: -1n,
            errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          }),
        ],
      }),
      expect.objectContaining({
        name: 'missing',
        partitions: [
          expect.objectContaining({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, lowWatermark: -1n }),
        ],
      }),
    ]);
    expect(log.logStartOffset).toBe(4);
    expect((await storage.openPartition({ topic: 't', partition: 0 })).logStartOffset).toBe(4);
    await expect(log.read(3, 1 << 20)).rejects.toMatchObject({ code: ErrorCode.OFFSET_OUT_OF_RANGE });
    const rest = await log.read(4, 1 << 20);
    expect(rest.batches[0]!.baseOffset).toBe(4);
    expect(rest.logStartOffset).toBe(4);

    const again = async (offset: bigint) =>
      (
        await call(broker, deleteRecords, 0, {
          topics: [{ name: 't', partitions: [{ partitionIndex: 0, offset }] }],
          timeoutMs: 0,
        })
      ).topics[0]!.partitions[0]!;
    // Never backwards.
    expect(await again(2n)).toMatchObject({ lowWatermark: 4n, errorCode: 0 });
    expect(await again(11n)).toMatchObject({ lowWatermark: -1n, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE });
    expect(await again(-2n)).toMatchObject({ lowWatermark: -1n, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE });
    // -1: up to the high watermark.
    expect(await again(-1n)).toMatchObject({ lowWatermark: 10n, errorCode: 0 });
    expect(log.logStartOffset).toBe(10);
    expect(log.highWatermark).toBe(10);
  });

  it('refuses topics whose cleanup policy does not include delete', async () => {
    const { broker } = await adminBroker();
    await broker.topics.create('compacted', 1, { 'cleanup.policy': 'compact' });
    const res = await call(broker, deleteRecords, 1, {
      topics: [{ name: 'compacted', partitions: [{ partitionIndex: 0, offset: -1n }] }],
      timeoutMs: 0,
    });
    expect(res.topics[0]!.partitions[0]).toMatchObject({
      errorCode: ErrorCode.POLICY_VIOLATION,
      lowWatermark: -1n,
    });
  });
});

describe('DescribeCluster', () => {
  it('describes this broker as the whole cluster and its controller', async () => {
    const { broker } = await adminBroker({ nodeId: 5, clusterId: 'abcdefghijklmnopqrstuv', rack: 'rack-a' });
    for (const v of versionsOf('DescribeCluster')) {
      const res = await call(broker, describeCluster, v, { includeClusterAuthorizedOperations: false });
      expect(res).toMatchObject({
        errorCode: 0,
        errorMessage: null,
        clusterId: 'abcdefghijklmnopqrstuv',
        controllerId: 5,
        brokers: [{ brokerId: 5, host: 'kch.test', port: 19092, rack: 'rack-a' }],
        clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
        endpointType: 1,
      });
    }
    const withOps = await call(broker, describeCluster, 1, {
      includeClusterAuthorizedOperations: true,
      endpointType: 1,
    });
    expect(withOps.clusterAuthorizedOperations).toBe(CLUSTER_OPERATIONS);
    expect(CLUSTER_OPERATIONS).toBe(8096);
  });

  it('answers controller and unknown endpoint types as a Kafka broker does', async () => {
    const { broker } = await adminBroker();
    const controllers = await call(broker, describeCluster, 1, {
      includeClusterAuthorizedOperations: false,
      endpointType: 2,
    });
    expect(controllers).toMatchObject({ errorCode: ErrorCode.MISMATCHED_ENDPOINT_TYPE, brokers: [] });
    const unknown = await call(broker, describeCluster, 1, {
      includeClusterAuthorizedOperations: false,
      endpointType: 9,
    });
    expect(unknown).toMatchObject({
      errorCode: ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
      errorMessage: 'Unsupported endpoint type 9',
    });
  });
});

describe('Metadata authorized operations without an authorizer', () => {
  it('are every operation of the resource type when asked (AuthHelper.authorizedOperations), Integer.MIN_VALUE when not', async () => {
    const { broker } = await adminBroker();
    await broker.topics.create('t', 1, {});
    for (const v of versionsOf('Metadata').filter((v) => v >= 8)) {
      const asked = await call(broker, metadata, v, {
        topics: [{ name: 't' }, { name: 'missing' }],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: v <= 10,
        includeTopicAuthorizedOperations: true,
      });
      // An unknown topic the principal may describe gets them too, as Kafka sets them on every
      // topic that passed Describe.
      expect(asked.topics.map((t) => [t.name, t.errorCode, t.topicAuthorizedOperations])).toEqual([
        ['t', ErrorCode.NONE, TOPIC_OPERATIONS],
        ['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, TOPIC_OPERATIONS],
      ]);
      // v11+ leave the cluster's to DescribeCluster.
      expect(asked.clusterAuthorizedOperations).toBe(
        v <= 10 ? CLUSTER_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED,
      );
      const notAsked = await call(broker, metadata, v, {
        topics: [{ name: 't' }],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      });
      expect(notAsked.topics[0]!.topicAuthorizedOperations).toBe(AUTHORIZED_OPERATIONS_OMITTED);
      expect(notAsked.clusterAuthorizedOperations).toBe(AUTHORIZED_OPERATIONS_OMITTED);
    }
    expect(TOPIC_OPERATIONS).toBe(3576);
  });
});

describe('Metadata by topic id (v12)', () => {
  it('answers by the ids alone when any is named, as the Java client asks them (names left "")', async () => {
    const { broker } = await adminBroker();
    const a = (await broker.topics.create('by-id-a', 2, {}))!;
    await broker.topics.create('by-name-b', 1, {});
    const unknownId = 'AAAAAAAAAAAAAAAAAAAAAQ';
    // Admin.describeTopics(TopicCollection.ofTopicIds(...)) sends MetadataRequestTopic's default
    // name, "", beside each id; Kafka's handleTopicMetadataRequest then looks at the ids only, each
    // once, and leaves out the topics named without an id.
    const r = await call(broker, metadata, 12, {
      topics: [
        { name: '', topicId: a.record.topicId },
        { name: '', topicId: unknownId },
        { name: 'by-name-b', topicId: ZERO_UUID },
        { name: null, topicId: a.record.topicId },
      ],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    expect(r.topics.map((t) => [t.name, t.topicId, t.errorCode, t.partitions.length])).toEqual([
      ['by-id-a', a.record.topicId, ErrorCode.NONE, 2],
      [null, unknownId, ErrorCode.UNKNOWN_TOPIC_ID, 0],
    ]);
  });
});

describe('DescribeTopicPartitions', () => {
  it('pages through all topics in name order with a cursor', async () => {
    const { broker } = await adminBroker({ nodeId: 2 });
    await broker.topics.create('c', 1, {});
    await broker.topics.create('a', 3, {});
    await broker.topics.create('b', 2, {});
    const first = await call(broker, describeTopicPartitions, 0, {
      topics: [],
      responsePartitionLimit: 4,
      cursor: null,
    });
    expect(first.topics.map((t) => [t.name, t.partitions.map((p) => p.partitionIndex)])).toEqual([
      ['a', [0, 1, 2]],
      ['b', [0]],
    ]);
    expect(first.nextCursor).toEqual(expect.objectContaining({ topicName: 'b', partitionIndex: 1 }));
    expect(first.topics[0]).toMatchObject({
      errorCode: 0,
      topicId: broker.topics.get('a')!.record.topicId,
      isInternal: false,
      topicAuthorizedOperations: TOPIC_OPERATIONS,
    });
    expect(first.topics[0]!.partitions[1]).toMatchObject({
      errorCode: 0,
      partitionIndex: 1,
      leaderId: 2,
      leaderEpoch: 0,
      replicaNodes: [2],
      isrNodes: [2],
      eligibleLeaderReplicas: [],
      lastKnownElr: [],
      offlineReplicas: [],
    });

    const second = await call(broker, describeTopicPartitions, 0, {
      topics: [],
      responsePartitionLimit: 4,
      cursor: first.nextCursor,
    });
    expect(second.topics.map((t) => [t.name, t.partitions.map((p) => p.partitionIndex)])).toEqual([
      ['b', [1]],
      ['c', [0]],
    ]);
    expect(second.nextCursor).toBeNull();

    // A limit that ends exactly at a topic's last partition points the cursor at the next topic.
    const exact = await call(broker, describeTopicPartitions, 0, {
      topics: [],
      responsePartitionLimit: 3,
      cursor: null,
    });
    expect(exact.topics.map((t) => t.name)).toEqual(['a']);
    expect(exact.nextCursor).toEqual(expect.objectContaining({ topicName: 'b', partitionIndex: 0 }));
  });

  it('describes the topics named, with errors for missing and invalid ones', async () => {
    const { broker } = await adminBroker();
    await broker.topics.create('here', 2, {});
    const res = await call(broker, describeTopicPartitions, 0, {
      topics: [{ name: 'here' }, { name: 'gone' }, { name: 'bad name' }, { name: 'here' }],
      responsePartitionLimit: 2000,
      cursor: null,
    });
    expect(
      res.topics.map((t) => [t.name, t.errorCode, t.topicId === ZERO_UUID, t.partitions.length]),
    ).toEqual([
      ['bad name', ErrorCode.INVALID_TOPIC_EXCEPTION, true, 0],
      ['gone', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, true, 0],
      ['here', 0, false, 2],
    ]);
    expect(res.nextCursor).toBeNull();

    const badCursor = await call(broker, describeTopicPartitions, 0, {
      topics: [{ name: 'here' }],
      responsePartitionLimit: 10,
      cursor: { topicName: 'other', partitionIndex: 0 },
    });
    expect(badCursor.topics).toEqual([
      expect.objectContaining({ name: 'here', errorCode: ErrorCode.INVALID_REQUEST }),
    ]);
  });
});

describe('DescribeLogDirs', () => {
  it('reports one log dir, the storage, holding the partitions asked for', async () => {
    const { broker } = await adminBroker();
    await broker.topics.create('a', 2, {});
    await broker.topics.create('b', 1, {});
    for (const v of versionsOf('DescribeLogDirs')) {
      const all = await call(broker, describeLogDirs, v, { topics: null });
      expect(all.results).toHaveLength(1);
      expect(all.results[0]).toMatchObject({ errorCode: 0, logDir: broker.storage.location });
      expect(all.results[0]!.topics.map((t) => [t.name, t.partitions.map((p) => p.partitionIndex)])).toEqual([
        ['a', [0, 1]],
        ['b', [0]],
      ]);
      expect(all.results[0]!.topics[0]!.partitions[0]).toMatchObject({
        partitionSize: 0n,
        offsetLag: 0n,
        isFutureKey: false,
      });
      if (v >= 4) expect(all.results[0]).toMatchObject({ totalBytes: -1n, usableBytes: -1n });
    }
    const some = await call(broker, describeLogDirs, 4, {
      topics: [
        { topic: 'a', partitions: [1, 7] },
        { topic: 'missing', partitions: [0] },
      ],
    });
    expect(some.results[0]!.topics.map((t) => [t.name, t.partitions.map((p) => p.partitionIndex)])).toEqual([
      ['a', [1]],
    ]);
  });
});

describe('ElectLeaders', () => {
  it('answers ELECTION_NOT_NEEDED for each partition named, and nothing for a request of every partition', async () => {
    const { broker } = await adminBroker();
    await broker.topics.create('a', 2, {});
    for (const v of versionsOf('ElectLeaders')) {
      // Version 0 has no election type (preferred).
      const named = await call(broker, electLeaders, v, {
        ...(v >= 1 ? { electionType: 0 } : {}),
        topicPartitions: [
          { topic: 'a', partitions: [0, 1, 5] },
          { topic: 'missing', partitions: [0] },
        ],
        timeoutMs: 1000,
      });
      if (v >= 1) expect(named.errorCode).toBe(ErrorCode.NONE);
      expect(named.replicaElectionResults).toEqual([
        {
          topic: 'a',
          partitionResult: [
            {
              partitionId: 0,
              errorCode: ErrorCode.ELECTION_NOT_NEEDED,
              errorMessage: 'Leader election not needed for topic partition.',
            },
            {
              partitionId: 1,
              errorCode: ErrorCode.ELECTION_NOT_NEEDED,
              errorMessage: 'Leader election not needed for topic partition.',
            },
            {
              partitionId: 5,
              errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              errorMessage: 'No such partition as a-5',
            },
          ],
        },
        {
          topic: 'missing',
          partitionResult: [
            {
              partitionId: 0,
              errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              errorMessage: 'No such topic as missing',
            },
          ],
        },
      ]);
      const all = await call(broker, electLeaders, v, {
        ...(v >= 1 ? { electionType: 1 } : {}),
        topicPartitions: null,
        timeoutMs: 1000,
      });
      expect(all.replicaElectionResults).toEqual([]);
    }
    const unknownType = await call(broker, electLeaders, 2, {
      electionType: 7,
      topicPartitions: [{ topic: 'a', partitions: [0] }],
      timeoutMs: 1000,
    });
    expect(unknownType.errorCode).toBe(ErrorCode.INVALID_REQUEST);
  });
});

describe('features (DescribeFeatures)', () => {
  it('reports metadata.version 3.9-IV0 finalized, and group and transaction versions supported at 0 only', async () => {
    const { broker } = await adminBroker();
    for (const v of versionsOf('ApiVersions')) {
      const r = await call(broker, apiVersions, v, {
        ...(v >= 3 ? { clientSoftwareName: 'test', clientSoftwareVersion: '1' } : {}),
      });
      expect(r.errorCode).toBe(ErrorCode.NONE);
      if (v < 3) continue;
      expect(r.supportedFeatures).toEqual([
        { name: 'group.version', minVersion: 0, maxVersion: 1 },
        { name: 'metadata.version', minVersion: 7, maxVersion: 21 },
        { name: 'transaction.version', minVersion: 0, maxVersion: 0 },
      ]);
      // group.version 1: KIP-848 is served. Level 0 features are left out; a client reads
      // transaction.version 2 as EndTxn v5, not served.
      expect(r.finalizedFeatures).toEqual([
        { name: 'group.version', maxVersionLevel: 1, minVersionLevel: 1 },
        { name: 'metadata.version', maxVersionLevel: 21, minVersionLevel: 21 },
      ]);
      expect(r.finalizedFeaturesEpoch).toBe(0n);
    }
  });
});

describe('admin error responses', () => {
  it('encode at every version', async () => {
    const { broker } = await adminBroker();
    const handlers: ApiHandler<any>[] = [
      createTopics,
      deleteTopics,
      createPartitions,
      describeConfigs,
      alterConfigs,
      incrementalAlterConfigs,
      deleteRecords,
      describeCluster,
      describeTopicPartitions,
      describeLogDirs,
      electLeaders,
    ];
    for (const handler of handlers) {
      expect(handler.serial, handler.api).toBe(true);
      for (const v of versionsOf(handler.api)) {
        // A request that makes the handler throw is not at hand for every API; encode errorResponse directly.
        const thrower: ApiHandler<any> = {
          ...handler,
          handle() {
            throw Object.assign(new Error('forced'), {
              name: 'KafkaProtocolError',
              code: ErrorCode.UNKNOWN_SERVER_ERROR,
            });
          },
        };
        await expect(call(broker, thrower, v, {} as never), `${handler.api} v${v}`).resolves.toBeDefined();
      }
    }
  });
});
