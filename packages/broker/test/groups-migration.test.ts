/**
 * Kafka 4's online migration between classic groups and KIP-848 consumer groups
 * (group.consumer.migration.policy), over TCP: a member of the consumer protocol joining a classic
 * group upgrades it, its classic members go on through JoinGroup, SyncGroup, Heartbeat and
 * LeaveGroup answered from the consumer group, and the last member of the consumer protocol leaving
 * downgrades the group again. kafkajs is the classic consumer; the KIP-848 member and the error cases
 * are raw requests.
 */

import { RawClient } from '@kch/kafka-connection';
import { ErrorCode, type JoinGroupRequest } from '@kch/protocol';
import { type Consumer, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { subscription } from './groups-helpers.js';
import { type RunningBroker, startBroker } from './helpers/broker.js';
import {
  assignedPartitions,
  assignmentBytes,
  classicJoinRequest,
  consumerHeartbeat,
  consumerJoin,
  createTopicWithId,
  partitionsIn,
} from './helpers/kip848.js';

let b: RunningBroker;
let client: RawClient;
const topicIds = new Map<string, string>();
const clients: RawClient[] = [];
const brokers: RunningBroker[] = [];

beforeAll(async () => {
  b = await startBroker();
  client = await RawClient.connect(b.host, b.port);
});
afterAll(async () => {
  for (const c of [client, ...clients]) c?.close();
  for (const x of [b, ...brokers]) await x?.close();
});

/** A broker with another migration policy (closed after the file). */
async function brokerWith(policy: 'disabled' | 'upgrade' | 'downgrade') {
  const x = await startBroker({ consumerGroupMigrationPolicy: policy });
  brokers.push(x);
  return { broker: x, client: await connect(x) };
}

/** One connection per classic member: a parked JoinGroup holds up its connection's answers. */
async function connect(x: RunningBroker = b): Promise<RawClient> {
  const c = await RawClient.connect(x.host, x.port);
  clients.push(c);
  return c;
}

function classicJoin(
  c: RawClient,
  groupId: string,
  memberId: string,
  topics: string[],
  extra: Partial<JoinGroupRequest> & { protocol?: string } = {},
) {
  const { protocol = 'range', ...fields } = extra;
  return classicJoinRequest(c, {
    groupId,
    memberId,
    protocols: [{ name: protocol, metadata: subscription(topics, 0) }],
    ...fields,
  });
}

function classicSync(
  c: RawClient,
  groupId: string,
  memberId: string,
  generationId: number,
  assignments: { memberId: string; assignment: Buffer }[] = [],
  protocolName: string | null = 'range',
) {
  return c.send('SyncGroup', 5, {
    groupId,
    generationId,
    memberId,
    groupInstanceId: null,
    protocolType: 'consumer',
    protocolName,
    assignments,
  });
}

function classicHeartbeat(c: RawClient, groupId: string, memberId: string, generationId: number) {
  return c.send('Heartbeat', 4, { groupId, generationId, memberId, groupInstanceId: null });
}

async function listed(c: RawClient, groupId: string) {
  const r = await c.send('ListGroups', 5, { statesFilter: [], typesFilter: [] });
  return r.groups.find((g) => g.groupId === groupId);
}

async function described(c: RawClient, groupId: string) {
  const r = await c.send('DescribeGroups', 5, { groups: [groupId], includeAuthorizedOperations: false });
  return r.groups[0]!;
}

async function consumerDescribed(c: RawClient, groupId: string) {
  const r = await c.send('ConsumerGroupDescribe', 0, {
    groupIds: [groupId],
    includeAuthorizedOperations: false,
  });
  return r.groups[0]!;
}

/**
 * Two classic members of `groupId`, each on its connection, Stable at generation 2 with one
 * partition of the 2-partition `topic` each: the first alone at generation 1, then the second.
 */
async function twoClassicMembers(x: RunningBroker, c: RawClient, groupId: string, topic: string) {
  await createTopicWithId(c, topicIds, topic, 2);
  const [c1, c2] = [await connect(x), await connect(x)];
  const id1 = (await classicJoin(c1, groupId, '', [topic])).memberId;
  const j1 = await classicJoin(c1, groupId, id1, [topic]);
  expect(j1).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, leader: id1 });
  const s1 = await classicSync(c1, groupId, id1, 1, [
    { memberId: id1, assignment: assignmentBytes({ [topic]: [0, 1] }) },
  ]);
  expect(s1.errorCode).toBe(ErrorCode.NONE);
  const id2 = (await classicJoin(c2, groupId, '', [topic])).memberId;
  const parked2 = classicJoin(c2, groupId, id2, [topic]);
  await vi.waitFor(async () => expect((await described(c, groupId)).groupState).toBe('PreparingRebalance'));
  expect((await classicHeartbeat(c1, groupId, id1, 1)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  const j1b = await classicJoin(c1, groupId, id1, [topic]);
  expect((await parked2).generationId).toBe(2);
  const assignments = [
    { memberId: id1, assignment: assignmentBytes({ [topic]: [0] }) },
    { memberId: id2, assignment: assignmentBytes({ [topic]: [1] }) },
  ];
  expect((await classicSync(c1, groupId, id1, j1b.generationId, assignments)).errorCode).toBe(ErrorCode.NONE);
  expect((await classicSync(c2, groupId, id2, 2)).errorCode).toBe(ErrorCode.NONE);
  expect((await described(c, groupId)).groupState).toBe('Stable');
  return { c1, c2, id1, id2 };
}

describe('upgrade and downgrade with a real classic consumer (kafkajs)', () => {
  it('a KIP-848 member joins a consuming kafkajs group and leaves it; partitions move, offsets stay', async () => {
    const topic = 'mig-kjs';
    const groupId = 'mig-kjs-g';
    await createTopicWithId(client, topicIds, topic, 4);
    const kafka = new Kafka({ clientId: 'mig', brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const produce = (round: number) =>
      producer.send({
        topic,
        messages: [0, 1, 2, 3].flatMap((partition) =>
          Array.from({ length: 5 }, (_, i) => ({ partition, value: `r${round}-p${partition}-${i}` })),
        ),
      });
    await produce(1);

    // The classic consumer: every partition it was given by each JoinGroup/SyncGroup, and each record.
    const consumer: Consumer = kafka.consumer({
      groupId,
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
      heartbeatInterval: 100,
      maxWaitTimeInMs: 100,
    });
    const assignments: number[][] = [];
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      assignments.push([...(e.payload.memberAssignment[topic] ?? [])].sort((x, y) => x - y));
    });
    const seen: { partition: number; value: string }[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen.push({ partition, value: message.value!.toString() });
      },
    });
    const admin = kafka.admin();
    await admin.connect();
    const committed = async () =>
      new Map(
        (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions.map((p) => [
          p.partition,
          Number(p.offset),
        ]),
      );
    await vi.waitFor(async () => expect([...(await committed()).values()]).toEqual([5, 5, 5, 5]), {
      timeout: 20_000,
      interval: 100,
    });
    expect(assignments.at(-1)).toEqual([0, 1, 2, 3]);
    expect((await listed(client, groupId))?.groupType).toBe('classic');

    // Upgrade: a KIP-848 member joins. The group becomes a consumer group at the next epoch; its
    // partitions are all the kafkajs member's still, so it gets none yet.
    const joined = await consumerJoin(client, groupId, [topic]);
    expect(joined.errorCode).toBe(ErrorCode.NONE);
    expect(partitionsIn(topicIds, joined.assignment, topic)).toEqual([]);
    expect(await listed(client, groupId)).toMatchObject({ groupType: 'consumer', protocolType: 'consumer' });
    const K = joined.memberId!;

    // kafkajs is told REBALANCE_IN_PROGRESS by its heartbeat, rejoins through JoinGroup and SyncGroup
    // and keeps two partitions; the KIP-848 member gets the two it gave up.
    await vi.waitFor(() => expect(assignments.at(-1)).toHaveLength(2), { timeout: 20_000, interval: 50 });
    const kept = assignments.at(-1)!;
    let epoch = joined.memberEpoch;
    let mine: number[] = [];
    await vi.waitFor(
      async () => {
        const hb = await consumerHeartbeat(client, {
          groupId,
          memberId: K,
          memberEpoch: epoch,
          topicPartitions: [{ topicId: topicIds.get(topic)!, partitions: mine }],
        });
        expect(hb.errorCode).toBe(ErrorCode.NONE);
        epoch = hb.memberEpoch;
        if (hb.assignment) mine = partitionsIn(topicIds, hb.assignment, topic);
        expect(mine).toHaveLength(2);
      },
      { timeout: 10_000, interval: 50 },
    );
    // Never one partition owned by both.
    expect([...kept, ...mine].sort()).toEqual([0, 1, 2, 3]);
    const d = await consumerDescribed(client, groupId);
    expect(d).toMatchObject({ errorCode: ErrorCode.NONE, groupState: 'Stable' });
    expect(d.members).toHaveLength(2);

    // kafkajs goes on from its committed offsets with its partitions only, and commits in the consumer
    // group (with its generation, the member epoch); the offsets of the others stay as committed.
    const before = seen.length;
    await produce(2);
    await vi.waitFor(
      async () => {
        const offsets = await committed();
        for (const p of kept) expect(offsets.get(p)).toBe(10);
      },
      { timeout: 20_000, interval: 100 },
    );
    const after = seen.slice(before);
    expect(after).toHaveLength(10);
    expect(after.every((m) => kept.includes(m.partition) && m.value.startsWith('r2-'))).toBe(true);
    for (const p of mine) expect((await committed()).get(p)).toBe(5);

    // Downgrade: the KIP-848 member leaves; the group is classic again and rebalances, and kafkajs
    // gets every partition, reading on from the committed offsets.
    const left = await consumerHeartbeat(client, { groupId, memberId: K, memberEpoch: -1 });
    expect(left.errorCode).toBe(ErrorCode.NONE);
    expect(await listed(client, groupId)).toMatchObject({ groupType: 'classic', protocolType: 'consumer' });
    await vi.waitFor(() => expect(assignments.at(-1)).toEqual([0, 1, 2, 3]), {
      timeout: 20_000,
      interval: 50,
    });
    await vi.waitFor(async () => expect([...(await committed()).values()]).toEqual([10, 10, 10, 10]), {
      timeout: 20_000,
      interval: 100,
    });
    const all = seen.slice(before + 10);
    expect(all.map((m) => m.partition).sort()).toEqual(mine.flatMap((p) => [p, p, p, p, p]).sort());
    expect(all.every((m) => m.value.startsWith('r2-'))).toBe(true);
    expect((await described(client, groupId)).groupState).toBe('Stable');

    await consumer.disconnect();
    await producer.disconnect();
    await admin.disconnect();
  });
});

describe('group.consumer.migration.policy', () => {
  it('disabled (and downgrade): a join to a classic group with members gets GROUP_ID_NOT_FOUND', async () => {
    for (const policy of ['disabled', 'downgrade'] as const) {
      const x = await brokerWith(policy);
      const groupId = `mig-off-${policy}`;
      await twoClassicMembers(x.broker, x.client, groupId, `mig-off-t-${policy}`);
      const r = await consumerJoin(x.client, groupId, [`mig-off-t-${policy}`]);
      expect(r).toMatchObject({
        errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
        errorMessage: `Group ${groupId} is not a consumer group`,
      });
      expect(await listed(x.client, groupId)).toMatchObject({ groupType: 'classic', groupState: 'Stable' });
    }
  });

  it('upgrade: parked classic requests are told to rejoin; the last KIP-848 member leaving does not downgrade', async () => {
    const x = await brokerWith('upgrade');
    const groupId = 'mig-up';
    const { c1, c2, id1, id2 } = await twoClassicMembers(x.broker, x.client, groupId, 'mig-up-t');
    // The first member rejoins: parked until the second does.
    const parked = classicJoin(c1, groupId, id1, ['mig-up-t']);
    await vi.waitFor(async () =>
      expect((await described(x.client, groupId)).groupState).toBe('PreparingRebalance'),
    );
    const k = await consumerJoin(x.client, groupId, ['mig-up-t']);
    expect(k).toMatchObject({ errorCode: ErrorCode.NONE, memberEpoch: 3 });
    expect((await parked).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const d = await consumerDescribed(x.client, groupId);
    expect(d).toMatchObject({ groupEpoch: 3, assignmentEpoch: 3 });
    // The classic members are members at the classic generation, with their classic assignment.
    const byId = new Map(d.members.map((m) => [m.memberId, m]));
    expect(byId.get(id1)).toMatchObject({
      memberEpoch: 2,
      subscribedTopicNames: ['mig-up-t'],
      assignment: { topicPartitions: [expect.objectContaining({ topicName: 'mig-up-t', partitions: [0] })] },
    });
    expect(byId.get(id2)!.memberEpoch).toBe(2);
    expect((await classicHeartbeat(c2, groupId, id2, 2)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);

    // The KIP-848 member leaves: with upgrade only, the group stays a consumer group of classic members.
    await consumerHeartbeat(x.client, { groupId, memberId: k.memberId!, memberEpoch: -1 });
    expect(await listed(x.client, groupId)).toMatchObject({ groupType: 'consumer' });
    const after = await consumerDescribed(x.client, groupId);
    expect(after.members.map((m) => m.memberId).sort()).toEqual([id1, id2].sort());
    expect(after.groupEpoch).toBe(4);
  });

  it('bidirectional: upgraded and downgraded again, the classic members rebalance as a classic group', async () => {
    const groupId = 'mig-bi';
    const { c1, c2, id1, id2 } = await twoClassicMembers(b, client, groupId, 'mig-bi-t');
    const k = await consumerJoin(client, groupId, ['mig-bi-t']);
    expect(k.memberEpoch).toBe(3);
    expect((await listed(client, groupId))?.groupType).toBe('consumer');
    const left = await consumerHeartbeat(client, { groupId, memberId: k.memberId!, memberEpoch: -1 });
    expect(left.errorCode).toBe(ErrorCode.NONE);
    // Classic again, at the group epoch, rebalancing ("Downgrade group ... from consumer to classic.").
    expect(await listed(client, groupId)).toMatchObject({
      groupType: 'classic',
      protocolType: 'consumer',
      groupState: 'PreparingRebalance',
    });
    expect((await described(client, groupId)).members.map((m) => m.memberId).sort()).toEqual(
      [id1, id2].sort(),
    );
    expect((await classicHeartbeat(c2, groupId, id2, 3)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const parked = classicJoin(c2, groupId, id2, ['mig-bi-t']);
    const j1 = await classicJoin(c1, groupId, id1, ['mig-bi-t']);
    expect(j1).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 4 });
    expect((await parked).generationId).toBe(4);
    // The leader assigns again, in a classic group.
    expect(j1.leader === id1 ? j1.members : (await parked).members).toHaveLength(2);
  });
});

describe('classic members of a consumer group', () => {
  it('JoinGroup, SyncGroup, Heartbeat and LeaveGroup answered from the consumer group, with Kafka’s errors', async () => {
    const groupId = 'mig-cls';
    const topic = 'mig-cls-t';
    await createTopicWithId(client, topicIds, topic, 2);
    const a = await consumerJoin(client, groupId, [topic]);
    expect(partitionsIn(topicIds, a.assignment, topic)).toEqual([0, 1]);
    const A = a.memberId!;
    const c = await connect();

    // KIP-394's member id, then protocols the group's classic members must share.
    const required = await classicJoin(c, groupId, '', [topic]);
    expect(required.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    const M = required.memberId;
    const j = await classicJoin(c, groupId, M, [topic]);
    expect(j).toMatchObject({
      errorCode: ErrorCode.NONE,
      memberId: M,
      generationId: 2,
      protocolType: 'consumer',
      protocolName: 'range',
      leader: '',
      members: [],
    });
    expect((await classicJoin(c, groupId, 'other', [topic], { protocol: 'roundrobin' })).errorCode).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    const wrongType = await classicJoin(c, groupId, 'other', [topic], { protocolType: 'connect' });
    expect(wrongType.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);

    // SyncGroup: a member of the consumer protocol, another generation, another protocol name.
    expect((await classicSync(c, groupId, A, 2)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await classicSync(c, groupId, M, 1)).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect((await classicSync(c, groupId, M, 2, [], 'roundrobin')).errorCode).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    // Its target partition is still A's: nothing yet, and its heartbeat waits.
    const s = await classicSync(c, groupId, M, 2);
    expect(s).toMatchObject({ errorCode: ErrorCode.NONE, protocolType: 'consumer', protocolName: 'range' });
    expect(assignedPartitions(s.assignment)).toEqual({});
    expect((await classicHeartbeat(c, groupId, M, 2)).errorCode).toBe(ErrorCode.NONE);
    expect((await classicHeartbeat(c, groupId, M, 1)).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect((await classicHeartbeat(c, groupId, 'ghost', 2)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await classicHeartbeat(c, groupId, A, 2)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);

    // A revokes the partition: the classic member's heartbeat tells it to rejoin, and it gets it.
    const owned = (ps: number[]) => [{ topicId: topicIds.get(topic)!, partitions: ps }];
    const a2 = await consumerHeartbeat(client, {
      groupId,
      memberId: A,
      memberEpoch: 1,
      topicPartitions: owned([0, 1]),
    });
    const kept = partitionsIn(topicIds, a2.assignment, topic);
    expect(kept).toHaveLength(1);
    await consumerHeartbeat(client, { groupId, memberId: A, memberEpoch: 1, topicPartitions: owned(kept) });
    expect((await classicHeartbeat(c, groupId, M, 2)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const j2 = await classicJoin(c, groupId, M, [topic]);
    expect(j2.generationId).toBe(2);
    const s2 = await classicSync(c, groupId, M, 2);
    expect(assignedPartitions(s2.assignment)).toEqual({ [topic]: [0, 1].filter((p) => !kept.includes(p)) });
    expect((await classicHeartbeat(c, groupId, M, 2)).errorCode).toBe(ErrorCode.NONE);

    // A new member raises the group epoch: Heartbeat and SyncGroup say REBALANCE_IN_PROGRESS.
    const bj = await consumerJoin(client, groupId, [topic]);
    expect(bj.memberEpoch).toBe(3);
    expect((await classicHeartbeat(c, groupId, M, 2)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect((await classicSync(c, groupId, M, 2)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);

    // LeaveGroup: per member; a member of the consumer protocol cannot leave this way.
    const leave = await c.send('LeaveGroup', 3, {
      groupId,
      members: [
        { memberId: M, groupInstanceId: null },
        { memberId: A, groupInstanceId: null },
        { memberId: 'ghost', groupInstanceId: null },
      ],
    });
    expect(leave).toMatchObject({
      errorCode: ErrorCode.NONE,
      members: [
        { memberId: M, errorCode: ErrorCode.NONE },
        { memberId: A, errorCode: ErrorCode.UNKNOWN_MEMBER_ID },
        { memberId: 'ghost', errorCode: ErrorCode.UNKNOWN_MEMBER_ID },
      ],
    });
    const d = await consumerDescribed(client, groupId);
    expect(d.groupEpoch).toBe(4);
    expect(d.members.map((m) => m.memberId).sort()).toEqual([A, bj.memberId!].sort());
  });

  it('a classic static member taking the place of the last KIP-848 member downgrades the group at once', async () => {
    const groupId = 'mig-static';
    const topic = 'mig-static-t';
    await createTopicWithId(client, topicIds, topic, 2);
    const s = await consumerJoin(client, groupId, [topic], { instanceId: 'i1' });
    const c = await connect();
    expect((await classicJoin(c, groupId, 'cls', [topic])).generationId).toBe(2);
    // The KIP-848 member gives a partition up to the classic one.
    const owned = (ps: number[]) => [{ topicId: topicIds.get(topic)!, partitions: ps }];
    const s2 = await consumerHeartbeat(client, {
      groupId,
      memberId: s.memberId!,
      memberEpoch: 1,
      topicPartitions: owned([0, 1]),
    });
    const kept = partitionsIn(topicIds, s2.assignment, topic);
    expect(kept).toHaveLength(1);
    await consumerHeartbeat(client, {
      groupId,
      memberId: s.memberId!,
      memberEpoch: 1,
      topicPartitions: owned(kept),
    });

    // Its instance id rejoins with the classic protocol: every member is classic, the group too,
    // Stable, the new member with the partition of the member it replaced.
    const c2 = await connect();
    const j = await classicJoin(c2, groupId, '', [topic], { groupInstanceId: 'i1' });
    expect(j).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 2 });
    expect(j.memberId).not.toBe(s.memberId);
    expect(await listed(client, groupId)).toMatchObject({ groupType: 'classic', groupState: 'Stable' });
    const synced = await c2.send('SyncGroup', 5, {
      groupId,
      generationId: 2,
      memberId: j.memberId,
      groupInstanceId: 'i1',
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [],
    });
    expect(synced.errorCode).toBe(ErrorCode.NONE);
    expect(assignedPartitions(synced.assignment)).toEqual({ [topic]: kept });
  });

  it('fences a classic member that does not send SyncGroup within its rebalance timeout', async () => {
    const groupId = 'mig-sync';
    const topic = 'mig-sync-t';
    await createTopicWithId(client, topicIds, topic, 1);
    await consumerJoin(client, groupId, [topic]);
    const c = await connect();
    const j = await classicJoin(c, groupId, 'late', [topic], { rebalanceTimeoutMs: 200 });
    expect(j.errorCode).toBe(ErrorCode.NONE);
    expect((await consumerDescribed(client, groupId)).members).toHaveLength(2);
    await vi.waitFor(async () => expect((await consumerDescribed(client, groupId)).members).toHaveLength(1), {
      timeout: 5_000,
      interval: 50,
    });
    expect((await classicHeartbeat(c, groupId, 'late', j.generationId)).errorCode).toBe(
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
  });
});
