/**
 * KIP-848 consumer groups over TCP, driven with ConsumerGroupHeartbeat as a consumer with
 * group.protocol=consumer drives them: join at epoch 0, the assignment, a second member that gets a
 * partition only once the first revoked it, fencing, leaving, static members, the server assignors,
 * partitions added, session expiry, offsets committed with the member epoch, and how ListGroups,
 * DescribeGroups and ConsumerGroupDescribe show such a group.
 */

import { RawClient } from '@kch/kafka-connection';
import { type ConsumerGroupHeartbeatRequest, ErrorCode } from '@kch/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBroker, startBroker } from './helpers/broker.js';
import {
  classicJoinRequest,
  consumerHeartbeat,
  consumerJoin,
  createTopicWithId,
  partitionsIn,
} from './helpers/kip848.js';

let b: RunningBroker;
let client: RawClient;
const topicIds = new Map<string, string>();

beforeAll(async () => {
  b = await startBroker();
  client = await RawClient.connect(b.host, b.port);
});
afterAll(async () => {
  client?.close();
  await b?.close();
});

const createTopic = (name: string, partitions: number, c = client) =>
  createTopicWithId(c, topicIds, name, partitions);

const heartbeat = (fields: Partial<ConsumerGroupHeartbeatRequest>, c = client, version = 0) =>
  consumerHeartbeat(c, fields, version);

const join = (
  groupId: string,
  topics: string[],
  extra: Partial<ConsumerGroupHeartbeatRequest> = {},
  c = client,
) => consumerJoin(c, groupId, topics, extra);

const partitionsOf = (
  assignment: { topicPartitions: { topicId: string; partitions: number[] }[] } | null,
  topic: string,
) => partitionsIn(topicIds, assignment, topic);

const owned = (topic: string, partitions: number[]) => [{ topicId: topicIds.get(topic)!, partitions }];

describe('ConsumerGroupHeartbeat', () => {
  it('is advertised by ApiVersions with ConsumerGroupDescribe', async () => {
    const r = await client.send('ApiVersions', 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' });
    // v1, stable since Kafka 4.0, is the version librdkafka ≥ 2.10 and the Java client 4.x need.
    expect(r.apiKeys.find((k) => k.apiKey === 68)).toMatchObject({ minVersion: 0, maxVersion: 1 });
    expect(r.apiKeys.find((k) => k.apiKey === 69)).toMatchObject({ minVersion: 0, maxVersion: 0 });
  });

  it('assigns, revokes before reassigning, fences, and reassigns when a member leaves', async () => {
    await createTopic('cg-t', 3);
    const a = await join('cg-1', ['cg-t']);
    expect(a).toMatchObject({ errorCode: ErrorCode.NONE, memberEpoch: 1, heartbeatIntervalMs: 5000 });
    expect(a.memberId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(partitionsOf(a.assignment, 'cg-t')).toEqual([0, 1, 2]);
    const A = a.memberId!;

    // B joins: the group epoch moves to 2, but B's partition is still A's: B gets none yet.
    const bj = await join('cg-1', ['cg-t']);
    expect(bj).toMatchObject({ errorCode: ErrorCode.NONE, memberEpoch: 2 });
    expect(partitionsOf(bj.assignment, 'cg-t')).toEqual([]);
    const B = bj.memberId!;

    // A is asked to revoke one partition, staying at epoch 1 until it did.
    const a2 = await heartbeat({
      groupId: 'cg-1',
      memberId: A,
      memberEpoch: 1,
      topicPartitions: owned('cg-t', [0, 1, 2]),
    });
    expect(a2.memberEpoch).toBe(1);
    const kept = partitionsOf(a2.assignment, 'cg-t');
    expect(kept).toHaveLength(2);
    const moved = [0, 1, 2].find((p) => !kept.includes(p))!;
    // B still waits: A has not revoked it.
    const b2 = await heartbeat({ groupId: 'cg-1', memberId: B, memberEpoch: 2, topicPartitions: [] });
    expect(b2).toMatchObject({ errorCode: ErrorCode.NONE, memberEpoch: 2, assignment: null });
    // A revoked it: A moves to epoch 2, and B gets the partition.
    const a3 = await heartbeat({
      groupId: 'cg-1',
      memberId: A,
      memberEpoch: 1,
      topicPartitions: owned('cg-t', kept),
    });
    expect(a3).toMatchObject({ errorCode: ErrorCode.NONE, memberEpoch: 2 });
    const b3 = await heartbeat({ groupId: 'cg-1', memberId: B, memberEpoch: 2, topicPartitions: [] });
    expect(partitionsOf(b3.assignment, 'cg-t')).toEqual([moved]);

    const d = await client.send('ConsumerGroupDescribe', 0, {
      groupIds: ['cg-1', 'nope'],
      includeAuthorizedOperations: false,
    });
    expect(d.groups[0]).toMatchObject({
      errorCode: 0,
      groupState: 'Stable',
      groupEpoch: 2,
      assignmentEpoch: 2,
      assignorName: 'uniform',
    });
    const members = d.groups[0]!.members;
    expect(members.find((m) => m.memberId === B)!.assignment.topicPartitions).toEqual([
      expect.objectContaining({ topicId: topicIds.get('cg-t'), topicName: 'cg-t', partitions: [moved] }),
    ]);
    expect(d.groups[1]!.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);

    // A newer epoch than the member's, and an unknown member, are fenced.
    expect(
      (await heartbeat({ groupId: 'cg-1', memberId: A, memberEpoch: 7, topicPartitions: null })).errorCode,
    ).toBe(ErrorCode.FENCED_MEMBER_EPOCH);
    expect((await heartbeat({ groupId: 'cg-1', memberId: 'ghost', memberEpoch: 2 })).errorCode).toBe(
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    expect((await heartbeat({ groupId: 'cg-none', memberId: 'ghost', memberEpoch: 2 })).errorCode).toBe(
      ErrorCode.GROUP_ID_NOT_FOUND,
    );

    // B leaves: A gets every partition at the next epoch.
    const left = await heartbeat({ groupId: 'cg-1', memberId: B, memberEpoch: -1 });
    expect(left).toMatchObject({ errorCode: ErrorCode.NONE, memberId: B, memberEpoch: -1 });
    const a4 = await heartbeat({
      groupId: 'cg-1',
      memberId: A,
      memberEpoch: 2,
      topicPartitions: owned('cg-t', kept),
    });
    expect(a4.memberEpoch).toBe(3);
    expect(partitionsOf(a4.assignment, 'cg-t')).toEqual([0, 1, 2]);
    // An epoch older than the previous one is fenced.
    const a5 = await heartbeat({
      groupId: 'cg-1',
      memberId: A,
      memberEpoch: 1,
      topicPartitions: owned('cg-t', [0]),
    });
    expect(a5.errorCode).toBe(ErrorCode.FENCED_MEMBER_EPOCH);
  });

  it('takes an empty SubscribedTopicRegex (librdkafka sends one on each full heartbeat) as no change', async () => {
    await createTopic('cg-re0', 1);
    // v1: the member makes its id.
    const full = { groupId: 'cg-re0', memberId: 'member-re0', rebalanceTimeoutMs: 30_000 };
    const subscription = { subscribedTopicNames: ['cg-re0'], subscribedTopicRegex: '' };
    const a = await heartbeat({ ...full, ...subscription, memberEpoch: 0, topicPartitions: [] }, client, 1);
    expect(a.memberEpoch).toBe(1);
    const again = await heartbeat(
      { ...full, ...subscription, memberEpoch: 1, topicPartitions: owned('cg-re0', [0]) },
      client,
      1,
    );
    expect(again).toMatchObject({ errorCode: ErrorCode.NONE, memberEpoch: 1 });
  });

  it('refuses invalid requests as Kafka does', async () => {
    const cases: [Partial<ConsumerGroupHeartbeatRequest>, number][] = [
      [
        { groupId: '', memberEpoch: 0, rebalanceTimeoutMs: 1, subscribedTopicNames: [], topicPartitions: [] },
        ErrorCode.INVALID_REQUEST,
      ],
      [{ memberEpoch: 0, subscribedTopicNames: [], topicPartitions: [] }, ErrorCode.INVALID_REQUEST],
      [
        { memberEpoch: 0, rebalanceTimeoutMs: 1, subscribedTopicNames: [], topicPartitions: null },
        ErrorCode.INVALID_REQUEST,
      ],
      [{ memberEpoch: 0, rebalanceTimeoutMs: 1, topicPartitions: [] }, ErrorCode.INVALID_REQUEST],
      [{ memberEpoch: 3, memberId: '' }, ErrorCode.INVALID_REQUEST],
      [{ memberEpoch: -2, memberId: 'm' }, ErrorCode.INVALID_REQUEST],
      [{ memberEpoch: -3, memberId: 'm' }, ErrorCode.INVALID_REQUEST],
      [
        {
          memberEpoch: 0,
          rebalanceTimeoutMs: 1,
          subscribedTopicNames: [],
          topicPartitions: [],
          instanceId: '',
        },
        ErrorCode.INVALID_REQUEST,
      ],
      [
        {
          memberEpoch: 0,
          rebalanceTimeoutMs: 1,
          subscribedTopicNames: [],
          topicPartitions: [],
          serverAssignor: 'sticky',
        },
        ErrorCode.UNSUPPORTED_ASSIGNOR,
      ],
    ];
    for (const [fields, code] of cases)
      expect((await heartbeat({ groupId: 'cg-bad', ...fields })).errorCode, JSON.stringify(fields)).toBe(
        code,
      );
  });

  it('lets a static member leave for a while and come back under a new id with its assignment', async () => {
    await createTopic('cg-s', 2);
    const a = await join('cg-2', ['cg-s'], { instanceId: 'i-a' });
    const bj = await join('cg-2', ['cg-s'], { instanceId: 'i-b' });
    await heartbeat({
      groupId: 'cg-2',
      memberId: a.memberId!,
      memberEpoch: 1,
      instanceId: 'i-a',
      topicPartitions: owned('cg-s', [0, 1]),
    });
    await heartbeat({
      groupId: 'cg-2',
      memberId: a.memberId!,
      memberEpoch: 1,
      instanceId: 'i-a',
      topicPartitions: owned('cg-s', [0]),
    });
    const b2 = await heartbeat({
      groupId: 'cg-2',
      memberId: bj.memberId!,
      memberEpoch: 2,
      instanceId: 'i-b',
      topicPartitions: [],
    });
    expect(partitionsOf(b2.assignment, 'cg-s')).toEqual([1]);

    // Another member cannot take i-b while it is there.
    expect((await join('cg-2', ['cg-s'], { instanceId: 'i-b' })).errorCode).toBe(
      ErrorCode.UNRELEASED_INSTANCE_ID,
    );
    const leave = await heartbeat({
      groupId: 'cg-2',
      memberId: bj.memberId!,
      memberEpoch: -2,
      instanceId: 'i-b',
    });
    expect(leave).toMatchObject({ errorCode: ErrorCode.NONE, memberEpoch: -2 });
    const back = await join('cg-2', ['cg-s'], { instanceId: 'i-b', memberId: 'new-b' });
    expect(back).toMatchObject({ errorCode: ErrorCode.NONE, memberId: 'new-b', memberEpoch: 2 });
    expect(partitionsOf(back.assignment, 'cg-s')).toEqual([1]);
    // The old id is fenced by the new one.
    const old = await heartbeat({
      groupId: 'cg-2',
      memberId: bj.memberId!,
      memberEpoch: 2,
      instanceId: 'i-b',
    });
    expect(old.errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
    const d = await client.send('ConsumerGroupDescribe', 0, {
      groupIds: ['cg-2'],
      includeAuthorizedOperations: false,
    });
    expect(d.groups[0]).toMatchObject({ groupEpoch: 2, groupState: 'Stable' });
  });

  it('computes targets with the uniform or the range assignor', async () => {
    await createTopic('cg-x', 3);
    await createTopic('cg-y', 3);
    const targets = async (groupId: string, assignor: string) => {
      await join(groupId, ['cg-x', 'cg-y'], { memberId: 'm1', serverAssignor: assignor });
      await join(groupId, ['cg-x', 'cg-y'], { memberId: 'm2', serverAssignor: assignor });
      const d = await client.send('ConsumerGroupDescribe', 0, {
        groupIds: [groupId],
        includeAuthorizedOperations: false,
      });
      expect(d.groups[0]!.assignorName).toBe(assignor);
      return Object.fromEntries(
        d.groups[0]!.members.map((m) => [
          m.memberId,
          Object.fromEntries(m.targetAssignment.topicPartitions.map((t) => [t.topicName, t.partitions])),
        ]),
      );
    };
    // Range: each topic split in ranges, the same ranges of both (co-partitioning).
    expect(await targets('cg-range', 'range')).toEqual({
      m1: { 'cg-x': [0, 1], 'cg-y': [0, 1] },
      m2: { 'cg-x': [2], 'cg-y': [2] },
    });
    // Uniform: three partitions each, m1 keeping what it had as far as the balance allows.
    const u = await targets('cg-uniform', 'uniform');
    const count = (m: Record<string, number[]>) => Object.values(m).flat().length;
    expect([count(u.m1!), count(u.m2!)]).toEqual([3, 3]);
  });

  it('assigns partitions added to a subscribed topic, and a subscribed topic created later', async () => {
    await createTopic('cg-grow', 1);
    const a = await join('cg-3', ['cg-grow', 'cg-later']);
    expect(a.assignment?.topicPartitions).toEqual(
      [{ topicId: topicIds.get('cg-grow'), partitions: [0] }].map((t) => expect.objectContaining(t)),
    );
    const r = await client.send('CreatePartitions', 3, {
      topics: [{ name: 'cg-grow', count: 2, assignments: null }],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect(r.results[0]!.errorCode).toBe(ErrorCode.NONE);
    await createTopic('cg-later', 1);
    const a2 = await heartbeat({
      groupId: 'cg-3',
      memberId: a.memberId!,
      memberEpoch: 1,
      topicPartitions: owned('cg-grow', [0]),
    });
    expect(a2.memberEpoch).toBe(2);
    expect(partitionsOf(a2.assignment, 'cg-grow')).toEqual([0, 1]);
    expect(partitionsOf(a2.assignment, 'cg-later')).toEqual([0]);
  });
});

describe('ConsumerGroupHeartbeat v1', () => {
  /** A v1 join: the member makes its own id (Kafka 4.0's consumer sends a random UUID). */
  const joinV1 = (groupId: string, memberId: string, fields: Partial<ConsumerGroupHeartbeatRequest>) =>
    heartbeat(
      { groupId, memberId, memberEpoch: 0, rebalanceTimeoutMs: 30_000, topicPartitions: [], ...fields },
      client,
      1,
    );

  it('needs the member id the client made, and keeps it', async () => {
    await createTopic('v1-t', 1);
    const empty = await joinV1('v1-g', '', { subscribedTopicNames: ['v1-t'] });
    expect([empty.errorCode, empty.errorMessage]).toEqual([
      ErrorCode.INVALID_REQUEST,
      "MemberId can't be empty.",
    ]);
    const a = await joinV1('v1-g', 'client-made-id-1', { subscribedTopicNames: ['v1-t'] });
    expect(a).toMatchObject({ errorCode: ErrorCode.NONE, memberId: 'client-made-id-1', memberEpoch: 1 });
    expect(partitionsOf(a.assignment, 'v1-t')).toEqual([0]);
  });

  it('subscribes by regular expression to every topic whose whole name matches, also topics created later', async () => {
    await createTopic('rx-a', 2);
    await createTopic('rx-b', 1);
    await createTopic('xrx-c', 1);
    const a = await joinV1('rx-g', 'rx-member', { subscribedTopicRegex: 'rx-.*' });
    expect(a.errorCode).toBe(ErrorCode.NONE);
    expect([partitionsOf(a.assignment, 'rx-a'), partitionsOf(a.assignment, 'rx-b')]).toEqual([[0, 1], [0]]);
    expect(partitionsOf(a.assignment, 'xrx-c')).toEqual([]);
    await createTopic('rx-later', 1);
    const a2 = await heartbeat(
      {
        groupId: 'rx-g',
        memberId: 'rx-member',
        memberEpoch: a.memberEpoch,
        topicPartitions: [...owned('rx-a', [0, 1]), ...owned('rx-b', [0])],
      },
      client,
      1,
    );
    expect(a2.memberEpoch).toBeGreaterThan(a.memberEpoch);
    expect(partitionsOf(a2.assignment, 'rx-later')).toEqual([0]);
  });

  it("refuses what RE2/J refuses with Kafka's message, and matches in linear time", async () => {
    const bad = await joinV1('rx-bad', 'rx-bad-member', { subscribedTopicRegex: '(?<=a)b' });
    expect([bad.errorCode, bad.errorMessage]).toEqual([
      ErrorCode.INVALID_REGULAR_EXPRESSION,
      'SubscribedTopicRegex `(?<=a)b` is not a valid regular expression: invalid named capture.',
    ]);
    // A backtracking engine takes 2^60 steps on this pair; RE2's answer comes at once.
    await createTopic('a'.repeat(60), 1);
    const slow = await joinV1('rx-linear', 'rx-linear-member', { subscribedTopicRegex: '(a+)+b' });
    expect(slow.errorCode).toBe(ErrorCode.NONE);
    expect(slow.assignment?.topicPartitions).toEqual([]);
  });
});

describe('consumer groups beside classic groups', () => {
  it('commits and fetches offsets with the member epoch', async () => {
    await createTopic('cg-o', 1);
    const a = await join('cg-4', ['cg-o']);
    const commit = (version: number, epoch: number) =>
      client.send('OffsetCommit', version, {
        groupId: 'cg-4',
        generationIdOrMemberEpoch: epoch,
        memberId: a.memberId!,
        groupInstanceId: null,
        retentionTimeMs: -1n,
        topics: [
          {
            name: 'cg-o',
            partitions: [
              {
                partitionIndex: 0,
                committedOffset: 5n,
                committedLeaderEpoch: -1,
                committedMetadata: '',
                commitTimestamp: -1n,
              },
            ],
          },
        ],
      });
    const code = (r: Awaited<ReturnType<typeof commit>>) => r.topics[0]!.partitions[0]!.errorCode;
    expect(code(await commit(9, 2))).toBe(ErrorCode.STALE_MEMBER_EPOCH);
    expect(code(await commit(9, 0))).toBe(ErrorCode.STALE_MEMBER_EPOCH);
    expect(code(await commit(8, 1))).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(code(await commit(9, 1))).toBe(ErrorCode.NONE);
    const fetch = (memberEpoch: number) =>
      client.send('OffsetFetch', 9, {
        groups: [
          {
            groupId: 'cg-4',
            memberId: a.memberId!,
            memberEpoch,
            topics: [{ name: 'cg-o', partitionIndexes: [0] }],
          },
        ],
        requireStable: false,
      });
    expect((await fetch(3)).groups[0]!.errorCode).toBe(ErrorCode.STALE_MEMBER_EPOCH);
    const f = await fetch(1);
    expect(f.groups[0]!.topics[0]!.partitions[0]!.committedOffset).toBe(5n);
  });

  it('shows each group with its type; one id names one group of one type', async () => {
    await createTopic('cg-c', 1);
    const classicJoin = (groupId: string, memberId: string) =>
      classicJoinRequest(
        client,
        { groupId, memberId, protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], reason: null },
        9,
      );
    // KIP-394: the member id comes with MEMBER_ID_REQUIRED; join again with it.
    const classic = await classicJoin('classic-1', '');
    expect((await classicJoin('classic-1', classic.memberId)).errorCode).toBe(ErrorCode.NONE);
    // Its member's metadata is no consumer protocol subscription: it cannot become a consumer group
    // (groups-migration.test.ts converts groups that can).
    const upgrade = await join('classic-1', ['cg-c']);
    expect(upgrade.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    expect(upgrade.errorMessage).toMatch(/^Cannot upgrade the classic group classic-1/);
    await join('cg-5', ['cg-c']);
    // A classic member may join a consumer group with members (groups-migration.test.ts).
    const rejoin = await classicJoin('cg-5', '');
    expect(rejoin.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);

    const list = await client.send('ListGroups', 5, { statesFilter: [], typesFilter: [] });
    const byId = new Map(list.groups.map((g) => [g.groupId, g]));
    expect(byId.get('cg-5')).toMatchObject({
      groupType: 'consumer',
      protocolType: 'consumer',
      groupState: 'Stable',
    });
    expect(byId.get('classic-1')).toMatchObject({ groupType: 'classic' });
    const consumers = await client.send('ListGroups', 5, { statesFilter: [], typesFilter: ['consumer'] });
    expect(consumers.groups.every((g) => g.groupType === 'consumer')).toBe(true);
    expect(consumers.groups.map((g) => g.groupId)).toContain('cg-5');
    // DescribeGroups knows classic groups only: a consumer group is described as Kafka does, Dead.
    const described = await client.send('DescribeGroups', 5, {
      groups: ['cg-5'],
      includeAuthorizedOperations: false,
    });
    expect(described.groups[0]).toMatchObject({ errorCode: 0, groupState: 'Dead' });
    const d = await client.send('ConsumerGroupDescribe', 0, {
      groupIds: ['classic-1'],
      includeAuthorizedOperations: false,
    });
    expect(d.groups[0]!.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
  });
});

describe('consumer group limits', () => {
  it('fences a member that does not revoke within its rebalance timeout', async () => {
    await createTopic('cg-r', 2);
    const a = await join('cg-7', ['cg-r'], { rebalanceTimeoutMs: 200 });
    const bj = await join('cg-7', ['cg-r']);
    const fenced = new Promise<void>((resolve) =>
      b.broker.on('group-change', (e) => e.groupId === 'cg-7' && e.members === 1 && resolve()),
    );
    // A is asked to give one of its partitions to B, and keeps both.
    const a2 = await heartbeat({
      groupId: 'cg-7',
      memberId: a.memberId!,
      memberEpoch: 1,
      topicPartitions: owned('cg-r', [0, 1]),
    });
    expect(a2.memberEpoch).toBe(1);
    expect(partitionsOf(a2.assignment, 'cg-r')).toHaveLength(1);
    await fenced;
    const late = await heartbeat({
      groupId: 'cg-7',
      memberId: a.memberId!,
      memberEpoch: 1,
      topicPartitions: owned('cg-r', [0, 1]),
    });
    expect(late.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const b2 = await heartbeat({
      groupId: 'cg-7',
      memberId: bj.memberId!,
      memberEpoch: 2,
      topicPartitions: [],
    });
    expect(partitionsOf(b2.assignment, 'cg-r')).toEqual([0, 1]);
  });

  it('fences a member whose session expires, and refuses members past group.consumer.max.size', async () => {
    const small = await startBroker({ consumerGroupSessionTimeoutMs: 300, consumerGroupMaxSize: 1 });
    const c = await RawClient.connect(small.host, small.port);
    try {
      const t = await c.send('CreateTopics', 7, {
        topics: [{ name: 'cg-e', numPartitions: 1, replicationFactor: 1 }],
        timeoutMs: 10_000,
      });
      topicIds.set('cg-e', t.topics[0]!.topicId);
      const emptied = new Promise<void>((resolve) =>
        small.broker.on('group-change', (e) => e.groupId === 'cg-6' && e.members === 0 && resolve()),
      );
      const a = await join('cg-6', ['cg-e'], {}, c);
      expect(a.errorCode).toBe(ErrorCode.NONE);
      expect((await join('cg-6', ['cg-e'], {}, c)).errorCode).toBe(ErrorCode.GROUP_MAX_SIZE_REACHED);
      // No heartbeat: the session expires and the member is gone.
      await emptied;
      const late = await heartbeat({ groupId: 'cg-6', memberId: a.memberId!, memberEpoch: 1 }, c);
      expect(late.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    } finally {
      c.close();
      await small.close();
    }
  });
});
