/** The classic group coordinator as a state machine: no network, fake timers, memory storage. */
import { ErrorCode } from '@kch/protocol';
import { memoryStorage } from '@kch/storage';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GroupCoordinator, JoinGroupResult } from '../src/groups/coordinator.js';
import { join, settled, setup, subscription } from './groups-helpers.js';

/** Advances the fake clock by exactly `ms`. */
const tick = (ms: number) => vi.advanceTimersByTimeAsync(ms);

/**
 * Lets zero-delay timers run: with an initial delay of 0 a join phase completes on a timer (Node
 * runs a 0 ms timer after 1 ms), twice over when several members arrive together (the delay is
 * extended once, as in Kafka).
 */
async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await vi.advanceTimersByTimeAsync(1);
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Joins one member and completes the rebalance (initial delay 0): the join result. */
async function joinOne(
  c: GroupCoordinator,
  overrides: Parameters<typeof join>[0] = {},
): Promise<JoinGroupResult> {
  const p = c.joinGroup(join(overrides));
  await flush();
  return p;
}

/** A stable group of one member: its join result. */
async function stableOfOne(
  c: GroupCoordinator,
  overrides: Parameters<typeof join>[0] = {},
): Promise<JoinGroupResult> {
  const j = await joinOne(c, overrides);
  expect(j.errorCode).toBe(ErrorCode.NONE);
  const s = await c.syncGroup({
    groupId: overrides.groupId ?? 'g',
    generationId: j.generationId,
    memberId: j.memberId,
    groupInstanceId: overrides.groupInstanceId ?? null,
    protocolType: overrides.protocolType ?? 'consumer',
    protocolName: j.protocolName,
    assignments: [{ memberId: j.memberId, assignment: Buffer.from('all') }],
  });
  expect(s.errorCode).toBe(ErrorCode.NONE);
  return j;
}

describe('join, sync, heartbeat', () => {
  it('a single member joins, leads, syncs and heartbeats', async () => {
    const { coordinator: c, changes } = await setup();
    const pending = c.joinGroup(join());
    expect(await settled(pending)).toBe(false); // the initial delay (0 ms) runs on a timer
    expect(c.groupInfo('g')!.state).toBe('PreparingRebalance');
    await flush();
    const j = await pending;
    expect(j).toMatchObject({
      errorCode: ErrorCode.NONE,
      generationId: 1,
      protocolType: 'consumer',
      protocolName: 'range',
    });
    expect(j.memberId).toMatch(/^client-[0-9a-f-]{36}$/);
    expect(j.leader).toBe(j.memberId);
    expect(j.members).toEqual([
      { memberId: j.memberId, groupInstanceId: null, metadata: subscription(['orders']) },
    ]);
    expect(c.groupInfo('g')!.state).toBe('CompletingRebalance');

    // Heartbeats between JoinGroup and SyncGroup are normal heartbeats.
    expect(c.heartbeat({ groupId: 'g', generationId: 1, memberId: j.memberId, groupInstanceId: null })).toBe(
      ErrorCode.NONE,
    );
    const s = await c.syncGroup({
      groupId: 'g',
      generationId: 1,
      memberId: j.memberId,
      groupInstanceId: null,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [{ memberId: j.memberId, assignment: Buffer.from('a0') }],
    });
    expect(s).toEqual({
      errorCode: ErrorCode.NONE,
      protocolType: 'consumer',
      protocolName: 'range',
      assignment: Buffer.from('a0'),
    });
    expect(c.groupInfo('g')!.state).toBe('Stable');
    expect(c.heartbeat({ groupId: 'g', generationId: 1, memberId: j.memberId, groupInstanceId: null })).toBe(
      ErrorCode.NONE,
    );
    expect(c.heartbeat({ groupId: 'g', generationId: 0, memberId: j.memberId, groupInstanceId: null })).toBe(
      ErrorCode.ILLEGAL_GENERATION,
    );
    expect(c.heartbeat({ groupId: 'g', generationId: 1, memberId: 'nobody', groupInstanceId: null })).toBe(
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    expect(
      c.heartbeat({ groupId: 'nope', generationId: 1, memberId: j.memberId, groupInstanceId: null }),
    ).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    // A SyncGroup in Stable returns the current assignment.
    const again = await c.syncGroup({
      groupId: 'g',
      generationId: 1,
      memberId: j.memberId,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [],
    });
    expect(again.assignment).toEqual(Buffer.from('a0'));
    expect(changes.map((e) => `${e.state}:${e.generationId}:${e.members}`)).toEqual([
      'PreparingRebalance:0:1',
      'CompletingRebalance:1:1',
      'Stable:1:1',
    ]);
  });

  it('three members: the leader gets everyone, followers wait in SyncGroup for the assignment', async () => {
    const { coordinator: c } = await setup({ groupInitialRebalanceDelayMs: 3_000 });
    const joins = ['a', 'b', 'c'].map((clientId) => c.joinGroup(join({ clientId })));
    // Members arrived during the initial delay: it runs once more (3 s + 3 s).
    await tick(5_999);
    for (const p of joins) expect(await settled(p)).toBe(false);
    await tick(1);
    const results = await Promise.all(joins);
    const leader = results[0]!.leader;
    expect(new Set(results.map((r) => r.leader))).toEqual(new Set([leader]));
    expect(results.every((r) => r.generationId === 1)).toBe(true);
    const leaderResult = results.find((r) => r.memberId === leader)!;
    expect(leaderResult.members.map((m) => m.memberId).sort()).toEqual(results.map((r) => r.memberId).sort());
    for (const r of results) if (r.memberId !== leader) expect(r.members).toEqual([]);

    const followers = results.filter((r) => r.memberId !== leader);
    const waiting = followers.map((f) =>
      c.syncGroup({
        groupId: 'g',
        generationId: 1,
        memberId: f.memberId,
        groupInstanceId: null,
        protocolType: 'consumer',
        protocolName: 'range',
        assignments: [],
      }),
    );
    for (const w of waiting) expect(await settled(w)).toBe(false);
    const leaderSync = await c.syncGroup({
      groupId: 'g',
      generationId: 1,
      memberId: leader,
      groupInstanceId: null,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: results.map((r) => ({
        memberId: r.memberId,
        assignment: Buffer.from(`for-${r.memberId}`),
      })),
    });
    expect(leaderSync.assignment.toString()).toBe(`for-${leader}`);
    const got = await Promise.all(waiting);
    for (const [i, g] of got.entries()) expect(g.assignment.toString()).toBe(`for-${followers[i]!.memberId}`);
    expect(c.describeGroup('g').groupState).toBe('Stable');
    expect(c.describeGroup('g').members).toHaveLength(3);
  });

  it('the initial delay is extended while new members arrive, up to the rebalance timeout', async () => {
    const { coordinator: c } = await setup({ groupInitialRebalanceDelayMs: 3_000 });
    const first = c.joinGroup(join({ rebalanceTimeoutMs: 10_000 }));
    await tick(2_000);
    const second = c.joinGroup(join({ rebalanceTimeoutMs: 10_000 }));
    await tick(1_000); // t = 3000: a member arrived during the delay, so it waits 3000 more
    expect(await settled(first)).toBe(false);
    await tick(2_999);
    expect(await settled(second)).toBe(false);
    await tick(1); // t = 6000
    expect((await first).generationId).toBe(1);
    expect((await second).generationId).toBe(1);
  });

  it('MEMBER_ID_REQUIRED (JoinGroup v4+): the member rejoins with the id it was given', async () => {
    const { coordinator: c } = await setup();
    const first = await c.joinGroup(join({ requireKnownMemberId: true, clientId: 'rdkafka' }));
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    expect(first.memberId).toMatch(/^rdkafka-[0-9a-f-]{36}$/);
    expect(first.generationId).toBe(-1);
    expect(c.groupInfo('g')).toMatchObject({ state: 'Empty', pendingMembers: [first.memberId] });
    const second = c.joinGroup(
      join({ requireKnownMemberId: true, clientId: 'rdkafka', memberId: first.memberId }),
    );
    await flush();
    expect(await second).toMatchObject({
      errorCode: ErrorCode.NONE,
      memberId: first.memberId,
      leader: first.memberId,
    });
    expect(c.groupInfo('g')!.pendingMembers).toEqual([]);
  });

  it('a pending member id expires after the session timeout', async () => {
    const { coordinator: c } = await setup();
    const first = await c.joinGroup(join({ requireKnownMemberId: true, sessionTimeoutMs: 5_000 }));
    await tick(5_000);
    expect(c.groupInfo('g')!.pendingMembers).toEqual([]);
    // With the group still there, an unknown member id is refused.
    expect((await c.joinGroup(join({ memberId: first.memberId }))).errorCode).toBe(
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
  });

  it('a member joining a stable group triggers a rebalance the others learn from heartbeats', async () => {
    const { coordinator: c } = await setup();
    const a = await stableOfOne(c, { clientId: 'a' });
    const bJoin = c.joinGroup(join({ clientId: 'b' }));
    expect(c.groupInfo('g')!.state).toBe('PreparingRebalance');
    expect(c.heartbeat({ groupId: 'g', generationId: 1, memberId: a.memberId, groupInstanceId: null })).toBe(
      ErrorCode.REBALANCE_IN_PROGRESS,
    );
    // Commits of the current generation are still accepted while the group prepares to rebalance.
    const commit = await c.commitOffsets({
      groupId: 'g',
      generationId: 1,
      memberId: a.memberId,
      groupInstanceId: null,
      apiVersion: 8,
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, committedOffset: 5, committedLeaderEpoch: -1, committedMetadata: null },
          ],
        },
      ],
    });
    expect(commit[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(await settled(bJoin)).toBe(false);
    const aJoin = c.joinGroup(join({ clientId: 'a', memberId: a.memberId }));
    const [aj, bj] = await Promise.all([aJoin, bJoin]);
    expect(aj.generationId).toBe(2);
    expect(bj.generationId).toBe(2);
    expect(aj.leader).toBe(a.memberId); // the leader that rejoined stays leader
    expect(aj.members).toHaveLength(2);
    // The old generation is over.
    const stale = await c.commitOffsets({
      groupId: 'g',
      generationId: 1,
      memberId: a.memberId,
      groupInstanceId: null,
      apiVersion: 8,
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, committedOffset: 6, committedLeaderEpoch: -1, committedMetadata: null },
          ],
        },
      ],
    });
    expect(stale[0]!.partitions[0]!.errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    // Commits between JoinGroup and SyncGroup: REBALANCE_IN_PROGRESS.
    const early = await c.commitOffsets({
      groupId: 'g',
      generationId: 2,
      memberId: a.memberId,
      groupInstanceId: null,
      apiVersion: 8,
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, committedOffset: 6, committedLeaderEpoch: -1, committedMetadata: null },
          ],
        },
      ],
    });
    expect(early[0]!.partitions[0]!.errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  });

  it('a follower that does not rejoin within the rebalance timeout is removed', async () => {
    const { coordinator: c } = await setup();
    const a = c.joinGroup(join({ clientId: 'a', rebalanceTimeoutMs: 20_000, sessionTimeoutMs: 60_000 }));
    const b = c.joinGroup(join({ clientId: 'b', rebalanceTimeoutMs: 20_000, sessionTimeoutMs: 60_000 }));
    await flush();
    const [aj, bj] = await Promise.all([a, b]);
    const leader = aj.leader === aj.memberId ? aj : bj;
    const follower = leader === aj ? bj : aj;
    await Promise.all([
      c.syncGroup({
        groupId: 'g',
        generationId: 1,
        memberId: follower.memberId,
        groupInstanceId: null,
        protocolType: null,
        protocolName: null,
        assignments: [],
      }),
      c.syncGroup({
        groupId: 'g',
        generationId: 1,
        memberId: leader.memberId,
        groupInstanceId: null,
        protocolType: null,
        protocolName: null,
        assignments: [],
      }),
    ]);
    // The leader rejoins (as after a metadata change); the follower heartbeats but never rejoins.
    const rejoin = c.joinGroup(
      join({
        clientId: 'a',
        memberId: leader.memberId,
        rebalanceTimeoutMs: 20_000,
        sessionTimeoutMs: 60_000,
      }),
    );
    for (let t = 0; t < 19; t++) {
      await tick(1_000);
      expect(
        c.heartbeat({ groupId: 'g', generationId: 1, memberId: follower.memberId, groupInstanceId: null }),
      ).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    }
    expect(await settled(rejoin)).toBe(false);
    await tick(1_000);
    const r = await rejoin;
    expect(r).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 2, leader: leader.memberId });
    expect(r.members.map((m) => m.memberId)).toEqual([leader.memberId]);
    expect(
      c.heartbeat({ groupId: 'g', generationId: 2, memberId: follower.memberId, groupInstanceId: null }),
    ).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('a member that stops heartbeating is expired after its session timeout and the group rebalances', async () => {
    const { coordinator: c, changes } = await setup();
    const a = c.joinGroup(join({ clientId: 'a', sessionTimeoutMs: 10_000 }));
    const b = c.joinGroup(join({ clientId: 'b', sessionTimeoutMs: 10_000 }));
    await flush();
    const [aj, bj] = await Promise.all([a, b]);
    const sync = (m: JoinGroupResult, assignments: { memberId: string; assignment: Buffer }[] = []) =>
      c.syncGroup({
        groupId: 'g',
        generationId: m.generationId,
        memberId: m.memberId,
        groupInstanceId: null,
        protocolType: 'consumer',
        protocolName: 'range',
        assignments,
      });
    const leader = aj.leader === aj.memberId ? aj : bj;
    const other = leader === aj ? bj : aj;
    await Promise.all([sync(other), sync(leader)]);
    // Only the leader heartbeats.
    for (let t = 0; t < 9; t++) {
      await tick(1_000);
      expect(
        c.heartbeat({ groupId: 'g', generationId: 1, memberId: leader.memberId, groupInstanceId: null }),
      ).toBe(ErrorCode.NONE);
    }
    await tick(1_000); // the other member's 10 s session is over
    expect(c.groupInfo('g')!.members.map((m) => m.memberId)).toEqual([leader.memberId]);
    expect(c.groupInfo('g')!.state).toBe('PreparingRebalance');
    expect(
      c.heartbeat({ groupId: 'g', generationId: 1, memberId: leader.memberId, groupInstanceId: null }),
    ).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const r = await c.joinGroup(join({ clientId: 'a', memberId: leader.memberId }));
    expect(r.generationId).toBe(2);
    expect(r.members).toHaveLength(1);
    expect(changes.at(-1)).toEqual({
      groupId: 'g',
      state: 'CompletingRebalance',
      generationId: 2,
      members: 1,
    });
    // If nobody heartbeats at all, the group ends up empty.
    await tick(10_000);
    expect(c.groupInfo('g')).toMatchObject({ state: 'Empty', generationId: 3, members: [] });
  });

  it('members that never send SyncGroup are removed after the rebalance timeout', async () => {
    const { coordinator: c } = await setup();
    const a = c.joinGroup(join({ clientId: 'a', rebalanceTimeoutMs: 5_000 }));
    const b = c.joinGroup(join({ clientId: 'b', rebalanceTimeoutMs: 5_000 }));
    await flush();
    const [aj, bj] = await Promise.all([a, b]);
    const leader = aj.leader === aj.memberId ? aj : bj;
    await c.syncGroup({
      groupId: 'g',
      generationId: 1,
      memberId: leader.memberId,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [],
    });
    expect(c.groupInfo('g')!.state).toBe('Stable');
    await tick(5_000);
    expect(c.groupInfo('g')!.members.map((m) => m.memberId)).toEqual([leader.memberId]);
    expect(c.groupInfo('g')!.state).toBe('PreparingRebalance');
  });

  it('SyncGroup checks member, generation and protocol', async () => {
    const { coordinator: c } = await setup();
    const j = await joinOne(c);
    const base = {
      groupId: 'g',
      generationId: 1,
      memberId: j.memberId,
      groupInstanceId: null,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [],
    };
    expect((await c.syncGroup({ ...base, protocolName: 'roundrobin' })).errorCode).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    expect((await c.syncGroup({ ...base, protocolType: 'connect' })).errorCode).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    expect((await c.syncGroup({ ...base, generationId: 7 })).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect((await c.syncGroup({ ...base, memberId: 'x' })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await c.syncGroup({ ...base, groupId: 'other' })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await c.syncGroup({ ...base, groupId: '' })).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    expect((await c.syncGroup(base)).errorCode).toBe(ErrorCode.NONE);
  });

  it('selects the protocol every member supports, by vote, and refuses incompatible members', async () => {
    const { coordinator: c } = await setup();
    const meta = (s: string) => Buffer.from(s);
    const a = c.joinGroup(
      join({
        protocols: [
          { name: 'range', metadata: meta('a-r') },
          { name: 'roundrobin', metadata: meta('a-rr') },
        ],
      }),
    );
    const b = c.joinGroup(
      join({
        protocols: [
          { name: 'sticky', metadata: meta('b-s') },
          { name: 'roundrobin', metadata: meta('b-rr') },
        ],
      }),
    );
    // No protocol in common with the group.
    const bad = await c.joinGroup(join({ protocols: [{ name: 'sticky', metadata: meta('x') }] }));
    expect(bad.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const wrongType = await c.joinGroup(join({ protocolType: 'connect' }));
    expect(wrongType.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    await flush();
    const [aj] = await Promise.all([a, b]);
    expect(aj.protocolName).toBe('roundrobin');
    const leader = aj.leader === aj.memberId ? aj : await b;
    expect(leader.members.map((m) => m.metadata.toString()).sort()).toEqual(['a-rr', 'b-rr']);
    // An empty group refuses a member with no protocols or an empty protocol type.
    const { coordinator: c2 } = await setup();
    expect((await c2.joinGroup(join({ protocols: [] }))).errorCode).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    expect((await c2.joinGroup(join({ protocolType: '' }))).errorCode).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
  });

  it('validates group id, session timeout and group size', async () => {
    const { coordinator: c } = await setup({ groupMaxSize: 2 });
    expect((await c.joinGroup(join({ groupId: '' }))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    expect((await c.joinGroup(join({ sessionTimeoutMs: 999 }))).errorCode).toBe(
      ErrorCode.INVALID_SESSION_TIMEOUT,
    );
    expect((await c.joinGroup(join({ sessionTimeoutMs: 300_001 }))).errorCode).toBe(
      ErrorCode.INVALID_SESSION_TIMEOUT,
    );
    expect((await c.joinGroup(join({ memberId: 'ghost' }))).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const a = c.joinGroup(join());
    const b = c.joinGroup(join());
    const third = await c.joinGroup(join());
    expect(third).toMatchObject({ errorCode: ErrorCode.GROUP_MAX_SIZE_REACHED, memberId: '' });
    await flush();
    await Promise.all([a, b]);
    expect(c.groupInfo('g')!.members).toHaveLength(2);
    expect((await c.joinGroup(join())).errorCode).toBe(ErrorCode.GROUP_MAX_SIZE_REACHED);
  });
});

describe('static membership (KIP-345)', () => {
  it('a known instance rejoining with unchanged protocols takes a new member id without a rebalance', async () => {
    const { coordinator: c } = await setup();
    const first = await stableOfOne(c, { groupInstanceId: 'pod-0' });
    expect(first.memberId).toMatch(/^pod-0-/);
    const rejoin = await c.joinGroup(join({ groupInstanceId: 'pod-0' }));
    expect(rejoin.errorCode).toBe(ErrorCode.NONE);
    expect(rejoin.memberId).not.toBe(first.memberId);
    expect(rejoin.generationId).toBe(1);
    // Before JoinGroup v9, the old leader id is returned so the member does not reassign.
    expect(rejoin.leader).toBe(first.memberId);
    expect(rejoin.members).toEqual([]);
    expect(c.groupInfo('g')).toMatchObject({ state: 'Stable', generationId: 1, leaderId: rejoin.memberId });
    // The old member id is fenced; the new one has the old assignment.
    expect(
      c.heartbeat({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: 'pod-0' }),
    ).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect(
      c.heartbeat({ groupId: 'g', generationId: 1, memberId: rejoin.memberId, groupInstanceId: 'pod-0' }),
    ).toBe(ErrorCode.NONE);
    const s = await c.syncGroup({
      groupId: 'g',
      generationId: 1,
      memberId: rejoin.memberId,
      groupInstanceId: 'pod-0',
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [],
    });
    expect(s.assignment.toString()).toBe('all');
    // Joining with the fenced id is refused.
    expect((await c.joinGroup(join({ groupInstanceId: 'pod-0', memberId: first.memberId }))).errorCode).toBe(
      ErrorCode.FENCED_INSTANCE_ID,
    );
    // JoinGroup v9: the static leader is told it leads, and to skip the assignment.
    const v9 = await c.joinGroup(join({ groupInstanceId: 'pod-0', supportSkippingAssignment: true }));
    expect(v9).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, skipAssignment: true });
    expect(v9.leader).toBe(v9.memberId);
    expect(v9.members).toHaveLength(1);
  });

  it('a known instance rejoining with other protocols rebalances', async () => {
    const { coordinator: c } = await setup();
    await stableOfOne(c, { groupInstanceId: 'pod-0' });
    // The new protocol list must share a protocol with the group (range), else INCONSISTENT_GROUP_PROTOCOL.
    const bad = await c.joinGroup(
      join({
        groupInstanceId: 'pod-0',
        protocols: [{ name: 'cooperative-sticky', metadata: Buffer.from('x') }],
      }),
    );
    expect(bad.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const p = c.joinGroup(
      join({
        groupInstanceId: 'pod-0',
        protocols: [
          { name: 'cooperative-sticky', metadata: Buffer.from('x') },
          { name: 'range', metadata: Buffer.from('y') },
        ],
      }),
    );
    // A group of one completes the rebalance at once.
    expect(c.groupInfo('g')!.state).toBe('CompletingRebalance');
    const r = await p;
    expect(r).toMatchObject({
      errorCode: ErrorCode.NONE,
      generationId: 2,
      protocolName: 'cooperative-sticky',
    });
  });

  it('static members that miss a rebalance stay through the join phase, then must sync in time', async () => {
    const { coordinator: c } = await setup();
    const a = c.joinGroup(
      join({ groupInstanceId: 'a', sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 5_000 }),
    );
    const b = c.joinGroup(
      join({ groupInstanceId: 'b', sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 5_000 }),
    );
    await flush();
    const [aj, bj] = await Promise.all([a, b]);
    await Promise.all(
      [aj, bj].map((m, i) =>
        c.syncGroup({
          groupId: 'g',
          generationId: 1,
          memberId: m.memberId,
          groupInstanceId: i === 0 ? 'a' : 'b',
          protocolType: null,
          protocolName: null,
          assignments: [],
        }),
      ),
    );
    // A new dynamic member joins; only a rejoins in time.
    const newcomer = c.joinGroup(join({ clientId: 'n', rebalanceTimeoutMs: 5_000 }));
    const aRe = c.joinGroup(join({ groupInstanceId: 'a', memberId: aj.memberId, rebalanceTimeoutMs: 5_000 }));
    await tick(5_000);
    const r = await aRe;
    expect(r.generationId).toBe(2);
    expect(await newcomer).toMatchObject({ generationId: 2 });
    // b did not rejoin but is static: still a member.
    expect(
      c
        .groupInfo('g')!
        .members.map((m) => m.groupInstanceId)
        .sort(),
    ).toEqual(['a', 'b', null]);
    // It is in the new generation but has not heard of it: unless it sends SyncGroup within the
    // rebalance timeout, it is removed (and the group rebalances again).
    const n = await newcomer;
    const sync = (memberId: string, groupInstanceId: string | null) =>
      c.syncGroup({
        groupId: 'g',
        generationId: 2,
        memberId,
        groupInstanceId,
        protocolType: null,
        protocolName: null,
        assignments: [],
      });
    await Promise.all([sync(r.memberId, 'a'), sync(n.memberId, null)]);
    expect(c.groupInfo('g')!.state).toBe('Stable');
    await tick(5_000);
    expect(
      c
        .groupInfo('g')!
        .members.map((m) => m.groupInstanceId)
        .sort(),
    ).toEqual(['a', null]);
    expect(c.groupInfo('g')!.state).toBe('PreparingRebalance');
  });

  it('LeaveGroup by group.instance.id removes the static member', async () => {
    const { coordinator: c } = await setup();
    await stableOfOne(c, { groupInstanceId: 'pod-0' });
    const res = c.leaveGroup('g', [
      { memberId: '', groupInstanceId: 'pod-0' },
      { memberId: '', groupInstanceId: 'pod-9' },
    ]);
    expect(res).toEqual({
      errorCode: ErrorCode.NONE,
      members: [
        { memberId: '', groupInstanceId: 'pod-0', errorCode: ErrorCode.NONE },
        { memberId: '', groupInstanceId: 'pod-9', errorCode: ErrorCode.UNKNOWN_MEMBER_ID },
      ],
    });
    await flush();
    expect(c.groupInfo('g')).toMatchObject({ state: 'Empty', members: [] });
  });
});

describe('leave', () => {
  it('batched LeaveGroup answers per member; the group rebalances and empties', async () => {
    const { coordinator: c } = await setup();
    const a = c.joinGroup(join());
    const b = c.joinGroup(join());
    await flush();
    const [aj, bj] = await Promise.all([a, b]);
    const res = c.leaveGroup('g', [
      { memberId: aj.memberId, groupInstanceId: null },
      { memberId: 'nobody', groupInstanceId: null },
    ]);
    expect(res.members.map((m) => m.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID]);
    expect(c.groupInfo('g')!.state).toBe('PreparingRebalance');
    // The remaining member rejoins alone.
    const r = await c.joinGroup(join({ memberId: bj.memberId }));
    expect(r).toMatchObject({ generationId: 2, leader: bj.memberId });
    c.leaveGroup('g', [{ memberId: bj.memberId, groupInstanceId: null }]);
    await flush();
    expect(c.groupInfo('g')).toMatchObject({ state: 'Empty', generationId: 3 });
    expect(c.leaveGroup('nope', [{ memberId: 'x', groupInstanceId: null }]).errorCode).toBe(
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    expect(c.leaveGroup('', [{ memberId: 'x', groupInstanceId: null }]).errorCode).toBe(
      ErrorCode.INVALID_GROUP_ID,
    );
  });

  it('a member leaving while another waits in JoinGroup completes the join', async () => {
    const { coordinator: c } = await setup();
    const a = c.joinGroup(join());
    const b = c.joinGroup(join());
    await flush();
    const [aj, bj] = await Promise.all([a, b]);
    const rejoin = c.joinGroup(
      join({ memberId: aj.memberId, protocols: [{ name: 'range', metadata: Buffer.from('new') }] }),
    );
    expect(await settled(rejoin)).toBe(false);
    c.leaveGroup('g', [{ memberId: bj.memberId, groupInstanceId: null }]);
    expect((await rejoin).members.map((m) => m.memberId)).toEqual([aj.memberId]);
  });
});

describe('offsets', () => {
  const orders0 = (offset: number, metadata: string | null = null) => [
    {
      name: 'orders',
      partitions: [
        { partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: 3, committedMetadata: metadata },
      ],
    },
  ];

  it('a simple consumer commits with generation -1 and fetches back', async () => {
    const { coordinator: c, storage } = await setup();
    const res = await c.commitOffsets({
      groupId: 'simple',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      apiVersion: 8,
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: 3, committedMetadata: 'meta' },
            { partitionIndex: 1, committedOffset: 7, committedLeaderEpoch: -1, committedMetadata: null },
            { partitionIndex: 9, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null },
            {
              partitionIndex: 2,
              committedOffset: 1,
              committedLeaderEpoch: -1,
              committedMetadata: 'x'.repeat(4097),
            },
          ],
        },
        {
          name: 'missing',
          partitions: [
            { partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null },
          ],
        },
      ],
    });
    expect(res).toEqual([
      {
        name: 'orders',
        partitions: [
          { partitionIndex: 0, errorCode: ErrorCode.NONE },
          { partitionIndex: 1, errorCode: ErrorCode.NONE },
          { partitionIndex: 9, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
          { partitionIndex: 2, errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE },
        ],
      },
      {
        name: 'missing',
        partitions: [{ partitionIndex: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }],
      },
    ]);
    expect(c.describeGroup('simple')).toMatchObject({ groupState: 'Empty', protocolType: '' });
    const fetched = await c.fetchOffsets('simple', [{ name: 'orders', partitionIndexes: [0, 1, 2] }]);
    expect(fetched.topics[0]!.partitions).toEqual([
      { partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: 3, metadata: 'meta', errorCode: 0 },
      { partitionIndex: 1, committedOffset: 7, committedLeaderEpoch: -1, metadata: '', errorCode: 0 },
      { partitionIndex: 2, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: 0 },
    ]);
    const all = await c.fetchOffsets('simple', null);
    expect(all.topics.map((t) => [t.name, t.partitions.map((p) => p.committedOffset)])).toEqual([
      ['orders', [42, 7]],
    ]);
    expect((await c.fetchOffsets('unknown-group', null)).topics).toEqual([]);
    expect(
      (await storage.fetchOffsets('simple')).map((o) => [o.topic, o.partition, o.offset]).sort(),
    ).toEqual([
      ['orders', 0, 42],
      ['orders', 1, 7],
    ]);
    // Exactly 4096 characters fit.
    const max = await c.commitOffsets({
      groupId: 'simple',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      apiVersion: 8,
      topics: orders0(1, 'y'.repeat(4096)),
    });
    expect(max[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
  });

  it('checks generation and membership of group members', async () => {
    const { coordinator: c } = await setup();
    const j = await stableOfOne(c);
    const commit = (p: { generationId: number; memberId: string; apiVersion?: number; groupId?: string }) =>
      c
        .commitOffsets({
          groupId: p.groupId ?? 'g',
          groupInstanceId: null,
          apiVersion: p.apiVersion ?? 8,
          generationId: p.generationId,
          memberId: p.memberId,
          topics: orders0(10),
        })
        .then((r) => r[0]!.partitions[0]!.errorCode);
    expect(await commit({ generationId: 1, memberId: j.memberId })).toBe(ErrorCode.NONE);
    expect(await commit({ generationId: 2, memberId: j.memberId })).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(await commit({ generationId: 1, memberId: 'other' })).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    // A simple commit to a group with members is refused.
    expect(await commit({ generationId: -1, memberId: '' })).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    // A generation of a group that does not exist.
    expect(await commit({ groupId: 'gone', generationId: 3, memberId: 'm' })).toBe(
      ErrorCode.ILLEGAL_GENERATION,
    );
    expect(await commit({ groupId: 'gone', generationId: 3, memberId: 'm', apiVersion: 9 })).toBe(
      ErrorCode.GROUP_ID_NOT_FOUND,
    );
    expect(
      (await c.fetchOffsets('g', [{ name: 'orders', partitionIndexes: [0] }])).topics[0]!.partitions[0]!
        .committedOffset,
    ).toBe(10);
  });

  it('committed offsets survive a restart: the group comes back Empty', async () => {
    const storage = memoryStorage();
    const first = await setup({}, storage);
    const j = await stableOfOne(first.coordinator);
    await first.coordinator.commitOffsets({
      groupId: 'g',
      generationId: 1,
      memberId: j.memberId,
      groupInstanceId: null,
      apiVersion: 8,
      topics: orders0(99),
    });
    await first.coordinator.close();
    const second = await setup({}, storage);
    const c = second.coordinator;
    expect(c.listGroups()).toEqual([
      { groupId: 'g', protocolType: '', groupState: 'Empty', groupType: 'classic' },
    ]);
    expect((await c.fetchOffsets('g', null)).topics[0]!.partitions[0]).toMatchObject({
      committedOffset: 99,
      committedLeaderEpoch: 3,
    });
    // Members join it again from scratch.
    const r = await joinOne(c);
    expect(r).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1 });
  });

  it('OffsetDelete refuses topics a live consumer group subscribes to', async () => {
    const { coordinator: c } = await setup();
    const j = await stableOfOne(c); // subscribed to "orders"
    await c.commitOffsets({
      groupId: 'g',
      generationId: 1,
      memberId: j.memberId,
      groupInstanceId: null,
      apiVersion: 8,
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null },
          ],
        },
        {
          name: 'events',
          partitions: [
            { partitionIndex: 1, committedOffset: 2, committedLeaderEpoch: -1, committedMetadata: null },
          ],
        },
      ],
    });
    const res = await c.deleteOffsets('g', [
      { name: 'orders', partitions: [0] },
      { name: 'events', partitions: [1, 7] },
    ]);
    expect(res).toEqual({
      errorCode: ErrorCode.NONE,
      topics: [
        {
          name: 'orders',
          partitions: [{ partitionIndex: 0, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC }],
        },
        {
          name: 'events',
          partitions: [
            { partitionIndex: 1, errorCode: ErrorCode.NONE },
            { partitionIndex: 7, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
          ],
        },
      ],
    });
    expect(c.committedOffsets('g').map((o) => o.topic)).toEqual(['orders']);
    expect((await c.deleteOffsets('nope', [{ name: 'orders', partitions: [0] }])).errorCode).toBe(
      ErrorCode.GROUP_ID_NOT_FOUND,
    );
    expect((await c.deleteOffsets('', [])).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    // Once the group is empty, any topic's offsets may go.
    c.leaveGroup('g', [{ memberId: j.memberId, groupInstanceId: null }]);
    await flush();
    const after = await c.deleteOffsets('g', [{ name: 'orders', partitions: [0] }]);
    expect(after.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(c.committedOffsets('g')).toEqual([]);
  });

  it('OffsetDelete on a non-consumer group with members is NON_EMPTY_GROUP', async () => {
    const { coordinator: c } = await setup();
    await stableOfOne(c, {
      protocolType: 'connect',
      protocols: [{ name: 'default', metadata: Buffer.from('x') }],
    });
    expect((await c.deleteOffsets('g', [{ name: 'orders', partitions: [0] }])).errorCode).toBe(
      ErrorCode.NON_EMPTY_GROUP,
    );
  });

  it('offsets expire after the retention; an empty group without offsets is removed', async () => {
    const { coordinator: c, storage } = await setup({ offsetsRetentionMs: 60_000 });
    await c.commitOffsets({
      groupId: 's',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      apiVersion: 8,
      topics: orders0(5),
    });
    await tick(30_000);
    await c.expireOffsets();
    expect(c.committedOffsets('s')).toHaveLength(1);
    await tick(30_000);
    await c.expireOffsets();
    expect(c.committedOffsets('s')).toEqual([]);
    expect(await storage.fetchOffsets('s')).toEqual([]);
    expect(c.listGroups()).toEqual([]);
  });

  it('a deleted topic takes its committed offsets along', async () => {
    const { coordinator: c, events } = await setup();
    await c.commitOffsets({
      groupId: 's',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      apiVersion: 8,
      topics: orders0(5),
    });
    events.emit('topic-deleted', { topic: 'orders', topicId: 'x', by: { via: 'DeleteTopics' } });
    expect(c.committedOffsets('s')).toEqual([]);
  });

  it('a fetch waits for commits still being written', async () => {
    const { coordinator: c } = await setup();
    const commit = c.commitOffsets({
      groupId: 's',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      apiVersion: 8,
      topics: orders0(5),
    });
    const fetched = c.fetchOffsets('s', [{ name: 'orders', partitionIndexes: [0] }]);
    await commit;
    expect((await fetched).topics[0]!.partitions[0]!.committedOffset).toBe(5);
  });
});

describe('describe, list, delete', () => {
  it('describes a stable group with metadata and assignments, an unknown one as Dead', async () => {
    const { coordinator: c } = await setup();
    const j = await stableOfOne(c, { clientId: 'app' });
    expect(c.describeGroup('g')).toEqual({
      errorCode: ErrorCode.NONE,
      groupId: 'g',
      groupState: 'Stable',
      protocolType: 'consumer',
      protocolData: 'range',
      members: [
        {
          memberId: j.memberId,
          groupInstanceId: null,
          clientId: 'app',
          clientHost: '/127.0.0.1',
          memberMetadata: subscription(['orders']),
          memberAssignment: Buffer.from('all'),
        },
      ],
    });
    expect(c.describeGroup('unknown')).toEqual({
      errorCode: ErrorCode.NONE,
      groupId: 'unknown',
      groupState: 'Dead',
      protocolType: '',
      protocolData: '',
      members: [],
    });
    // While rebalancing, no protocol and no member metadata are shown.
    void c.joinGroup(join({ clientId: 'app2' }));
    const d = c.describeGroup('g');
    expect(d).toMatchObject({ groupState: 'PreparingRebalance', protocolData: '' });
    expect(d.members.every((m) => m.memberMetadata.length === 0 && m.memberAssignment.length === 0)).toBe(
      true,
    );
  });

  it('lists groups filtered by state and type', async () => {
    const { coordinator: c } = await setup();
    await stableOfOne(c, { groupId: 'live' });
    await c.commitOffsets({
      groupId: 'idle',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      apiVersion: 8,
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null },
          ],
        },
      ],
    });
    const ids = (states: string[] = [], types: string[] = []) =>
      c
        .listGroups(states, types)
        .map((g) => g.groupId)
        .sort();
    expect(ids()).toEqual(['idle', 'live']);
    expect(ids(['Stable'])).toEqual(['live']);
    expect(ids(['empty'])).toEqual(['idle']);
    expect(ids(['Dead'])).toEqual([]);
    expect(ids([], ['classic'])).toEqual(['idle', 'live']);
    expect(ids([], ['consumer'])).toEqual([]);
    expect(c.listGroups().find((g) => g.groupId === 'live')).toEqual({
      groupId: 'live',
      protocolType: 'consumer',
      groupState: 'Stable',
      groupType: 'classic',
    });
  });

  it('deletes empty groups with their offsets; refuses non-empty and unknown ones', async () => {
    const { coordinator: c, storage, changes } = await setup();
    await stableOfOne(c, { groupId: 'live' });
    await c.commitOffsets({
      groupId: 'idle',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      apiVersion: 8,
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null },
          ],
        },
      ],
    });
    const res = await c.deleteGroups(['idle', 'live', 'nope', 'idle']);
    expect(res).toEqual([
      { groupId: 'idle', errorCode: ErrorCode.NONE },
      { groupId: 'live', errorCode: ErrorCode.NON_EMPTY_GROUP },
      { groupId: 'nope', errorCode: ErrorCode.GROUP_ID_NOT_FOUND },
    ]);
    expect(await storage.fetchOffsets('idle')).toEqual([]);
    expect(c.listGroups().map((g) => g.groupId)).toEqual(['live']);
    expect(changes.at(-1)).toMatchObject({ groupId: 'idle', state: 'Dead' });
    expect((await c.deleteGroups(['idle']))[0]!.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
  });
});

describe('close', () => {
  it('answers parked joins with NOT_COORDINATOR', async () => {
    const { coordinator: c } = await setup({ groupInitialRebalanceDelayMs: 3_000 });
    const p = c.joinGroup(join());
    await c.close();
    expect((await p).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
  });
});
