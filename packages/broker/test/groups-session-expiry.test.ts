/**
 * The coordinator's session timers hold static members (KIP-345) to their session.timeout.ms: a
 * static member that closes sends no LeaveGroup, so only its session's expiry takes it out of the
 * group, and DeleteGroups answers NON_EMPTY_GROUP until then and deletes the group from then on. A
 * member that closed while its JoinGroup or SyncGroup was parked counts as alive until that step ends
 * (Kafka's ClassicGroupMember.hasSatisfiedHeartbeat), and its session starts when it is answered.
 * A pending member id (KIP-394) is forgotten a session after it was handed out unless it joins or
 * leaves first: then its timer goes at once, as Kafka's is replaced under the member's heartbeat key.
 * Fake timers: each test asserts the group a millisecond before and at the expiry.
 */
import { ErrorCode } from '@kch/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GroupCoordinator, JoinGroupResult } from '../src/groups/coordinator.js';
import { join, setup } from './groups-helpers.js';

const SESSION_MS = 6_000;
const REBALANCE_MS = 300_000;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const tick = (ms: number) => vi.advanceTimersByTimeAsync(ms);

function staticJoin(c: GroupCoordinator, instance: string, memberId = ''): Promise<JoinGroupResult> {
  return c.joinGroup(
    join({
      groupInstanceId: instance,
      memberId,
      sessionTimeoutMs: SESSION_MS,
      rebalanceTimeoutMs: REBALANCE_MS,
    }),
  );
}

function sync(c: GroupCoordinator, j: JoinGroupResult, instance: string | null, assign = false) {
  return c.syncGroup({
    groupId: 'g',
    generationId: j.generationId,
    memberId: j.memberId,
    groupInstanceId: instance,
    protocolType: 'consumer',
    protocolName: j.protocolName,
    assignments: assign ? j.members.map((m) => ({ memberId: m.memberId, assignment: Buffer.from('p') })) : [],
  });
}

/** Static members "a" (the leader) and "b" in a Stable group: their join results. */
async function stableOfTwo(c: GroupCoordinator): Promise<[JoinGroupResult, JoinGroupResult]> {
  const pa = staticJoin(c, 'a');
  const pb = staticJoin(c, 'b');
  // The initial delay of 0 ms is extended once because b arrived during it.
  await tick(2);
  const [a, b] = await Promise.all([pa, pb]);
  const leader = a.leader === a.memberId ? a : b;
  const follower = leader === a ? b : a;
  const followerSync = sync(c, follower, follower === a ? 'a' : 'b');
  expect((await sync(c, leader, leader === a ? 'a' : 'b', true)).errorCode).toBe(ErrorCode.NONE);
  expect((await followerSync).errorCode).toBe(ErrorCode.NONE);
  expect(c.groupInfo('g')).toMatchObject({ state: 'Stable', generationId: 1 });
  return [a, b];
}

async function deleteError(c: GroupCoordinator): Promise<number> {
  return (await c.deleteGroups(['g']))[0]!.errorCode;
}

const instances = (c: GroupCoordinator) =>
  c
    .groupInfo('g')!
    .members.map((m) => m.groupInstanceId)
    .sort();

describe('static members that close without LeaveGroup', () => {
  it('are removed when their session expires; DeleteGroups succeeds from then on', async () => {
    const { coordinator: c } = await setup({ groupMinSessionTimeoutMs: SESSION_MS });
    await stableOfTwo(c);
    // Both close: no heartbeat from now on.
    await tick(SESSION_MS - 1);
    expect(instances(c)).toEqual(['a', 'b']);
    expect(await deleteError(c)).toBe(ErrorCode.NON_EMPTY_GROUP);
    await tick(1);
    expect(c.groupInfo('g')).toMatchObject({ state: 'Empty', members: [] });
    expect(await deleteError(c)).toBe(ErrorCode.NONE);
    expect(c.groupInfo('g')).toBeUndefined();
  });

  it('one that closed with its JoinGroup parked is removed a session after the rebalance answered it', async () => {
    const { coordinator: c } = await setup({ groupMinSessionTimeoutMs: SESSION_MS });
    const [a] = await stableOfTwo(c);
    await tick(1_000);
    // a rejoins (the leader: a rebalance) and closes; its JoinGroup waits for b, which closed too.
    const parked = staticJoin(c, 'a', a.memberId);
    expect(c.groupInfo('g')!.state).toBe('PreparingRebalance');
    // b's session, running since the sync, ends first; the join phase then completes with a alone.
    await tick(SESSION_MS - 1_000);
    expect(instances(c)).toEqual(['a']);
    expect((await parked).errorCode).toBe(ErrorCode.NONE);
    expect(c.groupInfo('g')!.state).toBe('CompletingRebalance');
    // a never sends SyncGroup: its session, restarted by the JoinGroup answer, ends it.
    await tick(SESSION_MS - 1);
    expect(await deleteError(c)).toBe(ErrorCode.NON_EMPTY_GROUP);
    await tick(1);
    expect(c.groupInfo('g')).toMatchObject({ state: 'Empty', members: [] });
    expect(await deleteError(c)).toBe(ErrorCode.NONE);
  });

  it('one that closed with its SyncGroup parked is removed a session after the rebalance answered it', async () => {
    const { coordinator: c } = await setup({ groupMinSessionTimeoutMs: SESSION_MS });
    const [a, b] = await stableOfTwo(c);
    // A rebalance: both rejoin, then the follower syncs and closes; the leader closes before syncing.
    const ra = staticJoin(c, 'a', a.memberId);
    const rb = staticJoin(c, 'b', b.memberId);
    const [ja, jb] = await Promise.all([ra, rb]);
    expect(ja.generationId).toBe(2);
    const follower = ja.leader === ja.memberId ? jb : ja;
    const parked = sync(c, follower, follower === ja ? 'a' : 'b');
    // The leader's session ends it; the parked SyncGroup is answered by the rebalance that follows.
    await tick(SESSION_MS);
    expect(instances(c)).toEqual([follower === ja ? 'a' : 'b']);
    expect((await parked).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    await tick(SESSION_MS - 1);
    expect(await deleteError(c)).toBe(ErrorCode.NON_EMPTY_GROUP);
    await tick(1);
    expect(c.groupInfo('g')).toMatchObject({ state: 'Empty', members: [] });
    expect(await deleteError(c)).toBe(ErrorCode.NONE);
  });
});

describe('pending member ids (KIP-394)', () => {
  /** A member id handed out with MEMBER_ID_REQUIRED. */
  async function pendingId(c: GroupCoordinator): Promise<string> {
    const r = await c.joinGroup(join({ requireKnownMemberId: true, sessionTimeoutMs: SESSION_MS }));
    expect(r.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    return r.memberId;
  }

  it('lose their expiry timer when they join, leave, or their group is deleted, not a session later', async () => {
    const { coordinator: c } = await setup({ groupMinSessionTimeoutMs: SESSION_MS });
    const id = await pendingId(c);
    expect(c.stats()).toMatchObject({ pendingMembers: 1, timers: 1 });

    // It joins: its session is the one timer left (as Kafka's, under the same heartbeat key).
    const joining = c.joinGroup(
      join({ memberId: id, requireKnownMemberId: true, sessionTimeoutMs: SESSION_MS }),
    );
    await tick(1);
    const j = await joining;
    expect(j.errorCode).toBe(ErrorCode.NONE);
    expect((await sync(c, j, null, true)).errorCode).toBe(ErrorCode.NONE);
    expect(c.stats()).toMatchObject({ members: 1, pendingMembers: 0, timers: 1 });

    // Another id is handed out and leaves (LeaveGroup) before joining; then the member leaves.
    const leaving = await pendingId(c);
    expect(c.stats()).toMatchObject({ pendingMembers: 1, timers: 2 });
    c.leaveGroup('g', [{ memberId: leaving, groupInstanceId: null }]);
    expect(c.stats()).toMatchObject({ pendingMembers: 0, timers: 1 });
    c.leaveGroup('g', [{ memberId: j.memberId, groupInstanceId: null }]);
    expect(c.groupInfo('g')!.state).toBe('Empty');
    expect(c.stats()).toMatchObject({ members: 0, timers: 0 });

    // An id handed out by the Empty group, which is then deleted.
    await pendingId(c);
    expect(c.stats()).toMatchObject({ pendingMembers: 1, timers: 1 });
    expect(await deleteError(c)).toBe(ErrorCode.NONE);
    expect(c.stats()).toEqual({ groups: 0, members: 0, pendingMembers: 0, groupsWithOffsets: 0, timers: 0 });
  });
});
