/**
 * A KIP-848 consumer group (Kafka's ConsumerGroup and ConsumerGroupMember): the group epoch, bumped
 * whenever membership, subscriptions or the subscribed topics' partitions change; the target
 * assignment and the epoch it was computed at; and each member's own epoch and current assignment,
 * which reconcile.ts moves toward the target. Kept in memory only, as classic membership is.
 */
import type { Assignment } from './assignors.js';

/** Kafka's MemberState: where a member is on its way to its target assignment. */
export type MemberState = 'STABLE' | 'UNREVOKED_PARTITIONS' | 'UNRELEASED_PARTITIONS';

/** Kafka's ConsumerGroup.ConsumerGroupState, as ListGroups and ConsumerGroupDescribe print it. */
export type ConsumerGroupState = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable' | 'Dead';

/** The member epoch of a heartbeat that leaves the group; -2: a static member leaving for a while. */
export const LEAVE_GROUP_MEMBER_EPOCH = -1;
export const LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2;

export interface ConsumerMember {
  memberId: string;
  instanceId: string | null;
  rackId: string | null;
  clientId: string;
  clientHost: string;
  memberEpoch: number;
  previousMemberEpoch: number;
  state: MemberState;
  rebalanceTimeoutMs: number;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
  /** Partitions the member owns at its epoch (what it is told to consume). */
  assigned: Assignment;
  /** Partitions it still owns but must give up before it moves on. */
  pendingRevocation: Assignment;
  sessionTimer?: NodeJS.Timeout;
  rebalanceTimer?: NodeJS.Timeout;
}

export function newMember(memberId: string, instanceId: string | null): ConsumerMember {
  return {
    memberId,
    instanceId,
    rackId: null,
    clientId: '',
    clientHost: '',
    memberEpoch: 0,
    previousMemberEpoch: 0,
    state: 'STABLE',
    rebalanceTimeoutMs: -1,
    subscribedTopicNames: [],
    subscribedTopicRegex: null,
    serverAssignor: null,
    assigned: new Map(),
    pendingRevocation: new Map(),
  };
}

export class ConsumerGroup {
  groupEpoch = 0;
  assignmentEpoch = 0;
  readonly members = new Map<string, ConsumerMember>();
  /** group.instance.id -> member id. */
  readonly staticMembers = new Map<string, string>();
  /** member id -> its target assignment (at assignmentEpoch). */
  targetAssignment = new Map<string, Assignment>();
  /** The subscribed topics' partition counts the target was computed for: a change bumps the epoch. */
  subscriptionMetadata = '';
  /** The assignor that computed the target (ConsumerGroupDescribe's AssignorName). */
  assignorName = '';

  constructor(readonly groupId: string) {}

  get state(): ConsumerGroupState {
    if (this.members.size === 0) return 'Empty';
    if (this.groupEpoch > this.assignmentEpoch) return 'Assigning';
    for (const m of this.members.values())
      if (m.state !== 'STABLE' || m.memberEpoch !== this.assignmentEpoch) return 'Reconciling';
    return 'Stable';
  }

  /**
   * Who owns each partition now (Kafka's partition epochs): a partition assigned to or pending
   * revocation from a member. A partition goes to its next owner only once it is free.
   */
  owners(): Map<string, string> {
    const owners = new Map<string, string>();
    for (const m of this.members.values())
      for (const a of [m.assigned, m.pendingRevocation])
        for (const [t, ps] of a) for (const p of ps) owners.set(`${t}:${p}`, m.memberId);
    return owners;
  }

  /** The member ids of members whose assignor is named, most used first (Kafka's preferred assignor). */
  preferredAssignor(defaultName: string): string {
    const uses = new Map<string, number>();
    for (const m of this.members.values())
      if (m.serverAssignor !== null) uses.set(m.serverAssignor, (uses.get(m.serverAssignor) ?? 0) + 1);
    let best = defaultName;
    let most = 0;
    for (const [name, n] of uses)
      if (n > most) {
        best = name;
        most = n;
      }
    return best;
  }
}
