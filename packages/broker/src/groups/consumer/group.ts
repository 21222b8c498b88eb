/**
 * A KIP-848 consumer group (Kafka's ConsumerGroup and ConsumerGroupMember): the group epoch, bumped
 * whenever membership, subscriptions or the subscribed topics' partitions change; the target
 * assignment and the epoch it was computed at; and each member's own epoch and current assignment,
 * which reconcile.ts moves toward the target. Kept in memory only, as classic membership is.
 */
import type { Protocol } from '../classic/group.js';
import type { Assignment } from './assignors.js';

/** Kafka's MemberState: where a member is on its way to its target assignment. */
export type MemberState = 'STABLE' | 'UNREVOKED_PARTITIONS' | 'UNRELEASED_PARTITIONS';

/** Kafka's ConsumerGroup.ConsumerGroupState, as ListGroups and ConsumerGroupDescribe print it. */
export type ConsumerGroupState = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable' | 'Dead';

/** The member epoch of a heartbeat that leaves the group; -2: a static member leaving for a while. */
export const LEAVE_GROUP_MEMBER_EPOCH = -1;
export const LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2;

/**
 * What a member that joined with the classic protocol (JoinGroup) keeps of it, as Kafka's
 * ClassicMemberMetadata: its session timeout and its protocols (name and subscription metadata, in
 * its order of preference). Such a member sits in a consumer group after an upgrade, or joins one.
 */
export interface ClassicMemberMetadata {
  sessionTimeoutMs: number;
  protocols: Protocol[];
}

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
  /** Set for a member that uses the classic protocol (../consumer/classic-members.ts). */
  classic: ClassicMemberMetadata | null;
  sessionTimer?: NodeJS.Timeout;
  rebalanceTimer?: NodeJS.Timeout;
  /** A classic member told to rejoin must do so within its rebalance timeout (Kafka's join timeout). */
  joinTimer?: NodeJS.Timeout;
  /** A classic member that joined must send SyncGroup within its rebalance timeout (Kafka's sync timeout). */
  syncTimer?: NodeJS.Timeout;
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
    classic: null,
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

  /** Kafka's allMembersUseClassicProtocolExcept: the member uses the consumer protocol, all others the classic one. */
  allOthersUseClassicProtocol(memberId: string): boolean {
    for (const m of this.members.values())
      if ((m.memberId === memberId) !== (m.classic === null)) return false;
    return this.members.has(memberId);
  }

  /**
   * Kafka's supportsClassicProtocols: a classic member may join when its protocol type is "consumer"
   * and, unless the group is empty, one of its protocols is supported by every classic member.
   */
  supportsClassicProtocols(protocolType: string, names: readonly string[]): boolean {
    if (protocolType !== 'consumer') return false;
    if (this.members.size === 0) return names.length > 0;
    const classic = [...this.members.values()].filter((m) => m.classic !== null);
    return names.some((name) => classic.every((m) => m.classic!.protocols.some((p) => p.name === name)));
  }

  /**
   * Kafka's waitingOnUnreleasedPartition: a member in UNRELEASED_PARTITIONS whose target holds a
   * partition another member still owns.
   */
  waitingOnUnreleasedPartition(member: ConsumerMember): boolean {
    if (member.state !== 'UNRELEASED_PARTITIONS') return false;
    const owners = this.owners();
    for (const [t, ps] of this.targetAssignment.get(member.memberId) ?? [])
      for (const p of ps) if (!member.assigned.get(t)?.has(p) && owners.has(`${t}:${p}`)) return true;
    return false;
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
