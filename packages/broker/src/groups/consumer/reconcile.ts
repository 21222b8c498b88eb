/**
 * Moves a member toward its target assignment, as Kafka's CurrentAssignmentBuilder: a member first
 * gives up (revokes) what its target no longer holds, staying at its epoch in UNREVOKED_PARTITIONS
 * until its heartbeat no longer reports those partitions; only then does it take the next epoch and
 * the new partitions, and of those only the ones no other member owns any more. Partitions another
 * member still holds wait (UNRELEASED_PARTITIONS) until that member revokes them. So a partition is
 * owned by one member at a time.
 */
import type { Assignment } from './assignors.js';
import type { ConsumerMember } from './group.js';

export interface ReconcileInput {
  member: ConsumerMember;
  targetEpoch: number;
  target: Assignment;
  /** partition key `topicId:p` -> owning member id. */
  owners: ReadonlyMap<string, string>;
  /** What the member reports owning; null when its heartbeat did not say. */
  owned: Assignment | null;
}

/** The member's next assignment state (a new object; the input is not changed). */
export function reconcile(input: ReconcileInput): ConsumerMember {
  const { member, targetEpoch, owned } = input;
  switch (member.state) {
    case 'STABLE':
      if (member.memberEpoch !== targetEpoch) return next(input, member.memberEpoch);
      return member;
    case 'UNREVOKED_PARTITIONS':
      // Revoked once the heartbeat no longer lists them; without owned partitions we cannot know.
      if (owned === null || ownsAny(owned, member.pendingRevocation)) return member;
      return next(input, Math.min(member.memberEpoch + 1, targetEpoch));
    case 'UNRELEASED_PARTITIONS':
      return next(input, member.memberEpoch);
  }
}

function ownsAny(owned: Assignment, partitions: Assignment): boolean {
  for (const [t, ps] of partitions) {
    const o = owned.get(t);
    if (o) for (const p of ps) if (o.has(p)) return true;
  }
  return false;
}

function next(input: ReconcileInput, memberEpoch: number): ConsumerMember {
  const { member, targetEpoch, target, owners, owned } = input;
  const assigned: Assignment = new Map();
  const revoke: Assignment = new Map();
  const pending: Assignment = new Map();
  let unreleased = false;
  for (const t of new Set([...target.keys(), ...member.assigned.keys()])) {
    const want = target.get(t) ?? new Set<number>();
    const have = member.assigned.get(t) ?? new Set<number>();
    const keep = new Set([...have].filter((p) => want.has(p)));
    const drop = new Set([...have].filter((p) => !want.has(p)));
    const take = new Set<number>();
    for (const p of want) {
      if (have.has(p)) continue;
      const owner = owners.get(`${t}:${p}`);
      if (owner === undefined || owner === member.memberId) take.add(p);
      else unreleased = true;
    }
    if (keep.size) assigned.set(t, keep);
    if (drop.size) revoke.set(t, drop);
    if (take.size) pending.set(t, take);
  }
  if (revoke.size > 0 && (owned === null || ownsAny(owned, revoke))) {
    // Revoke first, at the current epoch: the new partitions come with the next one.
    return {
      ...member,
      state: 'UNREVOKED_PARTITIONS',
      memberEpoch,
      previousMemberEpoch: member.memberEpoch,
      assigned,
      pendingRevocation: revoke,
    };
  }
  for (const [t, ps] of pending) assigned.set(t, new Set([...(assigned.get(t) ?? []), ...ps]));
  return {
    ...member,
    state: unreleased ? 'UNRELEASED_PARTITIONS' : 'STABLE',
    memberEpoch: targetEpoch,
    previousMemberEpoch: member.memberEpoch,
    assigned,
    pendingRevocation: new Map(),
  };
}
