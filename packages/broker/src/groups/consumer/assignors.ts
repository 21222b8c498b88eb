/**
 * The server-side assignors of KIP-848 consumer groups (group.consumer.assignors): `uniform` and
 * `range`, as Kafka's UniformAssignor and RangeAssignor. Each maps the members' subscriptions and the
 * subscribed topics' partition counts to a target assignment; the coordinator then moves each member
 * there (reconcile.ts), so an assignor never has to care who owns what right now.
 */

/** topic id -> partitions: a member's assignment, as KIP-848 keys it. */
export type Assignment = Map<string, Set<number>>;

export interface AssignorMember {
  memberId: string;
  /** The static member's group.instance.id (the range assignor orders by it, as Kafka). */
  instanceId: string | null;
  /** Topic ids the member subscribes to that exist. */
  topicIds: readonly string[];
  /** The member's current target: the uniform assignor keeps what it can of it (stickiness). */
  previous: Assignment;
}

export interface Assignor {
  readonly name: string;
  assign(
    members: readonly AssignorMember[],
    partitionCounts: ReadonlyMap<string, number>,
  ): Map<string, Assignment>;
}

export const ASSIGNOR_NAMES = ['uniform', 'range'] as const;

function add(assignment: Assignment, topicId: string, partition: number): void {
  const set = assignment.get(topicId);
  if (set) set.add(partition);
  else assignment.set(topicId, new Set([partition]));
}

export function assignmentSize(a: Assignment): number {
  let n = 0;
  for (const s of a.values()) n += s.size;
  return n;
}

/**
 * Kafka's UniformAssignor: spreads every subscribed partition so that members' counts differ by at
 * most one among members with the same subscription, keeping each member's previous partitions where
 * the balance allows (sticky), and giving the rest to the eligible member holding the fewest. With
 * different subscriptions per member, the same greedy rule applies (Kafka's
 * UniformHeterogeneousAssignmentBuilder balances the same way, partition by partition).
 */
export const uniformAssignor: Assignor = {
  name: 'uniform',
  assign(members, partitionCounts) {
    const out = new Map<string, Assignment>(members.map((m) => [m.memberId, new Map()]));
    const sorted = [...members].sort((a, b) =>
      a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0,
    );
    // Eligible members per topic, and the fair share of each member: the partitions it could get
    // divided among the members that could get them, rounded up.
    const eligible = new Map<string, AssignorMember[]>();
    for (const m of sorted)
      for (const t of m.topicIds)
        if (partitionCounts.has(t)) (eligible.get(t) ?? eligible.set(t, []).get(t)!).push(m);
    // A member's fair share: the partitions it may get divided among the members that may get them.
    // It keeps previous partitions up to the share rounded down, and one more while the partitions
    // left over by rounding down last (Kafka's minQuota / expected extra partitions).
    let total = 0;
    for (const t of eligible.keys()) total += partitionCounts.get(t)!;
    const floor = new Map<string, number>();
    for (const m of sorted) {
      let share = 0;
      for (const t of m.topicIds) {
        const n = partitionCounts.get(t);
        if (n !== undefined) share += n / eligible.get(t)!.length;
      }
      floor.set(m.memberId, Math.floor(share + 1e-9));
    }
    let extras = total - [...floor.values()].reduce((a, b) => a + b, 0);
    const counts = new Map<string, number>(sorted.map((m) => [m.memberId, 0]));
    const taken = new Set<string>();
    for (const m of sorted) {
      const min = floor.get(m.memberId)!;
      for (const [t, ps] of m.previous) {
        const n = partitionCounts.get(t);
        if (n === undefined || !m.topicIds.includes(t)) continue;
        for (const p of [...ps].sort((a, b) => a - b)) {
          const key = `${t}:${p}`;
          if (p >= n || taken.has(key)) continue;
          const c = counts.get(m.memberId)!;
          if (c > min || (c === min && extras <= 0)) break;
          if (c === min) extras--;
          taken.add(key);
          counts.set(m.memberId, c + 1);
          add(out.get(m.memberId)!, t, p);
        }
      }
    }
    // Every other partition to the eligible member with the fewest (ties: the lowest member id).
    for (const t of [...eligible.keys()].sort()) {
      const ms = eligible.get(t)!;
      for (let p = 0; p < partitionCounts.get(t)!; p++) {
        if (taken.has(`${t}:${p}`)) continue;
        let best = ms[0]!;
        for (const m of ms) if (counts.get(m.memberId)! < counts.get(best.memberId)!) best = m;
        counts.set(best.memberId, counts.get(best.memberId)! + 1);
        add(out.get(best.memberId)!, t, p);
      }
    }
    return out;
  },
};

/**
 * Kafka's RangeAssignor: topic by topic, the members subscribed to it, in order (static members by
 * instance id first, then the others by member id, as Kafka sorts them), each get a contiguous range
 * of partitions: partitions / members each, the first partitions % members one more. Members with the
 * same subscription thus get the same partition numbers of co-partitioned topics (joins).
 */
export const rangeAssignor: Assignor = {
  name: 'range',
  assign(members, partitionCounts) {
    const out = new Map<string, Assignment>(members.map((m) => [m.memberId, new Map()]));
    const order = (m: AssignorMember) => (m.instanceId !== null ? `0${m.instanceId}` : `1${m.memberId}`);
    const sorted = [...members].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
    for (const [t, n] of partitionCounts) {
      const ms = sorted.filter((m) => m.topicIds.includes(t));
      if (ms.length === 0) continue;
      const each = Math.floor(n / ms.length);
      const extra = n % ms.length;
      let next = 0;
      ms.forEach((m, i) => {
        const count = each + (i < extra ? 1 : 0);
        for (let k = 0; k < count; k++) add(out.get(m.memberId)!, t, next++);
      });
    }
    return out;
  },
};

export const ASSIGNORS: ReadonlyMap<string, Assignor> = new Map([
  [uniformAssignor.name, uniformAssignor],
  [rangeAssignor.name, rangeAssignor],
]);
