/**
 * One classic consumer group and its members, as Kafka's GroupMetadata/MemberMetadata (and the
 * ClassicGroup/ClassicGroupMember of Kafka 4's group coordinator) model them. This module holds the
 * state and the bookkeeping that keeps it consistent (protocol vote counts, the number of members
 * awaiting a join response, the static member mapping); the decisions and the timers live in
 * rebalance.ts, join.ts and members.ts. Committed offsets are not kept here but by the offset
 * manager (../offsets.ts), as Kafka 4 keeps them apart from group metadata.
 */
import { ErrorCode } from '@kch/protocol';
import type { CommittedOffset } from '@kch/storage';

/** The states of a classic group, spelled as Kafka spells them in DescribeGroups and ListGroups. */
export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export const GROUP_STATES: readonly GroupState[] = [
  'Empty',
  'PreparingRebalance',
  'CompletingRebalance',
  'Stable',
  'Dead',
];

/** Kafka's GroupState.validPreviousStates: a transition from any other state is a bug. */
const VALID_PREVIOUS_STATES: Record<GroupState, readonly GroupState[]> = {
  PreparingRebalance: ['Stable', 'CompletingRebalance', 'Empty'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Stable', 'PreparingRebalance', 'CompletingRebalance', 'Empty', 'Dead'],
  Empty: ['PreparingRebalance'],
};

/** ConsumerProtocol.PROTOCOL_TYPE: the protocol type of groups of Kafka consumers. */
export const CONSUMER_PROTOCOL_TYPE = 'consumer';

export const EMPTY_BYTES: Buffer = Buffer.alloc(0);

export interface Protocol {
  name: string;
  metadata: Buffer;
}

export interface JoinGroupMember {
  memberId: string;
  groupInstanceId: string | null;
  metadata: Buffer;
}

/** What a JoinGroup is answered with (Kafka's JoinGroupResult). */
export interface JoinGroupResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  /** The leader's member id; "" when unknown. */
  leader: string;
  skipAssignment: boolean;
  memberId: string;
  /** Every member's metadata for the selected protocol: given to the leader only. */
  members: JoinGroupMember[];
}

/** What a SyncGroup is answered with (Kafka's SyncGroupResult). */
export interface SyncGroupResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

/** A JoinGroup error response: JoinGroupResult(memberId, error) in Kafka. */
export function joinError(memberId: string, errorCode: number): JoinGroupResult {
  return {
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leader: '',
    skipAssignment: false,
    memberId,
    members: [],
  };
}

export function syncError(errorCode: number): SyncGroupResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY_BYTES };
}

export type JoinCallback = (result: JoinGroupResult) => void;
export type SyncCallback = (result: SyncGroupResult) => void;

export class ClassicMember {
  assignment: Buffer = EMPTY_BYTES;
  awaitingJoin: JoinCallback | null = null;
  awaitingSync: SyncCallback | null = null;
  /** Added in the current rebalance: its session timer is the new-member join timeout. */
  isNew = false;
  /** Kafka's heartbeatSatisfied: set when a heartbeat (or equivalent) arrives. */
  heartbeatSatisfied = false;
  /** The pending session expiration, if any. */
  heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(
    public memberId: string,
    readonly groupInstanceId: string | null,
    readonly clientId: string,
    readonly clientHost: string,
    public rebalanceTimeoutMs: number,
    public sessionTimeoutMs: number,
    readonly protocolType: string,
    /** In the member's order of preference. */
    public protocols: Protocol[],
  ) {}

  get isAwaitingJoin(): boolean {
    return this.awaitingJoin !== null;
  }

  get isAwaitingSync(): boolean {
    return this.awaitingSync !== null;
  }

  get isStatic(): boolean {
    return this.groupInstanceId !== null;
  }

  /** MemberMetadata.hasSatisfiedHeartbeat. */
  hasSatisfiedHeartbeat(): boolean {
    // New members can be expired while awaiting join, so this comes first.
    if (this.isNew) return this.heartbeatSatisfied;
    // Members awaiting a rebalance response satisfy expected heartbeats automatically.
    if (this.isAwaitingJoin || this.isAwaitingSync) return true;
    return this.heartbeatSatisfied;
  }

  metadata(protocol: string): Buffer {
    const p = this.protocols.find((x) => x.name === protocol);
    if (!p) throw new Error(`member ${this.memberId} does not support protocol ${protocol}`);
    return p.metadata;
  }

  /** Whether the given protocols (names, order and metadata) are the ones the member has. */
  matches(protocols: readonly Protocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    for (let i = 0; i < protocols.length; i++) {
      const a = protocols[i]!;
      const b = this.protocols[i]!;
      if (a.name !== b.name || !a.metadata.equals(b.metadata)) return false;
    }
    return true;
  }

  /** The member's most preferred protocol among the candidates. */
  vote(candidates: ReadonlySet<string>): string {
    const p = this.protocols.find((x) => candidates.has(x.name));
    if (!p) throw new Error(`member ${this.memberId} does not support any of the candidate protocols`);
    return p.name;
  }
}

/** Protocol names, each once, in the member's order. */
export function protocolNames(protocols: readonly Protocol[]): string[] {
  return [...new Set(protocols.map((p) => p.name))];
}

export class ClassicGroup {
  state: GroupState = 'Empty';
  previousState: GroupState = 'Dead';
  /**
   * When the group entered its current state; undefined for a group loaded from storage, whose
   * history is unknown (offset expiration then goes by commit timestamps, as Kafka does for group
   * metadata without a state timestamp).
   */
  stateTimestamp: number | undefined;
  /** null until the first member joins; null for "simple" groups that only commit offsets. */
  protocolType: string | null = null;
  protocolName: string | null = null;
  generationId = 0;
  leaderId: string | null = null;

  /** Members in the order they joined (the first one becomes leader when the leader leaves). */
  readonly members = new Map<string, ClassicMember>();
  /** group.instance.id -> member id. */
  readonly staticMembers = new Map<string, string>();
  /**
   * Member ids handed out with MEMBER_ID_REQUIRED that have not joined yet, each with what cancels
   * the timer that forgets it a session later (Kafka schedules it under the member's heartbeat key,
   * so the member's own session replaces it when it joins): the id leaves by any way, the timer goes.
   */
  readonly pendingMembers = new Map<string, () => void>();
  /** Members that got their JoinGroup response and have not sent SyncGroup yet. */
  readonly pendingSyncMembers = new Set<string>();
  numMembersAwaitingJoin = 0;
  private readonly supportedProtocols = new Map<string, number>();
  /** Topics the members subscribe to (consumer protocol); null when unknown. */
  subscribedTopics: Set<string> | null = null;
  /** Whether a member was added during the initial delayed join (which then waits longer). */
  newMemberAdded = false;

  /** The pending join completion (DelayedJoin / InitialDelayedJoin in Kafka). */
  joinTimer: NodeJS.Timeout | undefined;
  /** Whether `joinTimer` is the initial delay, which no join completes early. */
  initialJoinDelay = false;
  /** The pending sync expiration (DelayedSync). */
  syncTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly groupId: string,
    now: number | undefined,
  ) {
    this.stateTimestamp = now;
  }

  is(state: GroupState): boolean {
    return this.state === state;
  }

  has(memberId: string): boolean {
    return this.members.has(memberId);
  }

  get size(): number {
    return this.members.size;
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  get isConsumerGroup(): boolean {
    return this.protocolType === CONSUMER_PROTOCOL_TYPE;
  }

  canRebalance(): boolean {
    return VALID_PREVIOUS_STATES.PreparingRebalance.includes(this.state);
  }

  transitionTo(state: GroupState, now: number): void {
    if (!VALID_PREVIOUS_STATES[state].includes(this.state)) {
      throw new Error(
        `group ${this.groupId} should be in one of the states ${VALID_PREVIOUS_STATES[state].join(',')} before moving to ${state}; it is in ${this.state}`,
      );
    }
    this.previousState = this.state;
    this.state = state;
    this.stateTimestamp = now;
  }

  add(member: ClassicMember, callback: JoinCallback | null): void {
    if (member.groupInstanceId !== null) {
      if (this.staticMembers.has(member.groupInstanceId)) {
        throw new Error(
          `static member ${member.groupInstanceId} is already a member of group ${this.groupId}`,
        );
      }
      this.staticMembers.set(member.groupInstanceId, member.memberId);
    }
    if (this.members.size === 0) this.protocolType = member.protocolType;
    if (this.leaderId === null) this.leaderId = member.memberId;
    this.members.set(member.memberId, member);
    this.incSupportedProtocols(member);
    member.awaitingJoin = callback;
    if (member.isAwaitingJoin) this.numMembersAwaitingJoin++;
    this.forgetPending(member.memberId);
  }

  /** Removes a member (or a pending member id) without answering anything it waits for. */
  remove(memberId: string): ClassicMember | undefined {
    const member = this.members.get(memberId);
    if (member) {
      this.members.delete(memberId);
      this.decSupportedProtocols(member);
      if (member.isAwaitingJoin) this.numMembersAwaitingJoin--;
      if (member.groupInstanceId !== null) this.staticMembers.delete(member.groupInstanceId);
    }
    if (this.isLeader(memberId)) {
      const next = this.members.keys().next();
      this.leaderId = next.done ? null : next.value;
    }
    this.forgetPending(memberId);
    this.pendingSyncMembers.delete(memberId);
    return member;
  }

  /** Drops a pending member id and cancels its expiry. */
  forgetPending(memberId: string): void {
    this.pendingMembers.get(memberId)?.();
    this.pendingMembers.delete(memberId);
  }

  /**
   * Keeps the leader if it rejoined, else elects the first member that did. False when there is no
   * leader (empty group) or no member rejoined.
   */
  maybeElectNewJoinedLeader(): boolean {
    if (this.leaderId === null) return false;
    const leader = this.members.get(this.leaderId);
    if (leader?.isAwaitingJoin) return true;
    for (const m of this.members.values()) {
      if (m.isAwaitingJoin) {
        this.leaderId = m.memberId;
        return true;
      }
    }
    return false;
  }

  /**
   * Static membership: the member of `groupInstanceId` continues under `newMemberId`. Whoever waits
   * on the old member id is fenced at once.
   */
  replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMemberId: string): ClassicMember {
    const member = this.members.get(oldMemberId);
    if (!member) throw new Error(`cannot replace non-existing member id ${oldMemberId}`);
    this.members.delete(oldMemberId);
    this.invokeJoin(member, joinError(oldMemberId, ErrorCode.FENCED_INSTANCE_ID));
    this.invokeSync(member, syncError(ErrorCode.FENCED_INSTANCE_ID));
    member.memberId = newMemberId;
    this.members.set(newMemberId, member);
    if (this.isLeader(oldMemberId)) this.leaderId = newMemberId;
    this.staticMembers.set(groupInstanceId, newMemberId);
    return member;
  }

  hasAllMembersJoined(): boolean {
    return this.members.size === this.numMembersAwaitingJoin && this.pendingMembers.size === 0;
  }

  /** The largest rebalance timeout of the members; 0 without members. */
  rebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  /** The protocol every member supports that most members prefer. */
  selectProtocol(): string {
    if (this.members.size === 0) throw new Error('cannot select a protocol for an empty group');
    const candidates = new Set<string>();
    for (const [name, count] of this.supportedProtocols)
      if (count === this.members.size) candidates.add(name);
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const p = m.vote(candidates);
      votes.set(p, (votes.get(p) ?? 0) + 1);
    }
    // Kafka breaks ties by hash order; here the first protocol voted for (by join order) wins them.
    let best = '';
    let bestVotes = -1;
    for (const [name, count] of votes) {
      if (count > bestVotes) {
        best = name;
        bestVotes = count;
      }
    }
    return best;
  }

  /** Whether a member with this protocol type and these protocols may be in the group. */
  supportsProtocols(protocolType: string, protocols: readonly string[]): boolean {
    if (this.is('Empty')) return protocolType.length > 0 && protocols.length > 0;
    return (
      this.protocolType === protocolType &&
      protocols.some((name) => (this.supportedProtocols.get(name) ?? 0) === this.members.size)
    );
  }

  updateMember(
    member: ClassicMember,
    protocols: Protocol[],
    rebalanceTimeoutMs: number,
    sessionTimeoutMs: number,
    callback: JoinCallback | null,
  ): void {
    this.decSupportedProtocols(member);
    member.protocols = protocols;
    this.incSupportedProtocols(member);
    member.rebalanceTimeoutMs = rebalanceTimeoutMs;
    member.sessionTimeoutMs = sessionTimeoutMs;
    if (callback !== null && !member.isAwaitingJoin) this.numMembersAwaitingJoin++;
    else if (callback === null && member.isAwaitingJoin) this.numMembersAwaitingJoin--;
    const previous = member.awaitingJoin;
    member.awaitingJoin = callback;
    // Kafka drops a superseded join callback (its channel was muted, so the client had given up on
    // it). Here the connection answers in order, so an unanswered request would hold up the ones
    // behind it: answer it as a rebalance in progress.
    if (previous !== null && previous !== callback) {
      previous(joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
    }
  }

  invokeJoin(member: ClassicMember, result: JoinGroupResult): boolean {
    const callback = member.awaitingJoin;
    if (callback === null) return false;
    member.awaitingJoin = null;
    this.numMembersAwaitingJoin--;
    callback(result);
    return true;
  }

  invokeSync(member: ClassicMember, result: SyncGroupResult): boolean {
    const callback = member.awaitingSync;
    if (callback === null) return false;
    member.awaitingSync = null;
    callback(result);
    return true;
  }

  /** A successful JoinGroup answer in the current generation; `members` go to the leader only. */
  joinResult(memberId: string, members: JoinGroupMember[]): JoinGroupResult {
    return {
      errorCode: ErrorCode.NONE,
      generationId: this.generationId,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      leader: this.leaderId ?? '',
      skipAssignment: false,
      memberId,
      members,
    };
  }

  /** Every member's metadata for the selected protocol (what the leader assigns from). */
  currentMemberMetadata(): JoinGroupMember[] {
    if (this.is('Dead') || this.is('PreparingRebalance') || this.protocolName === null) {
      throw new Error(`cannot obtain member metadata for group ${this.groupId} in state ${this.state}`);
    }
    const protocol = this.protocolName;
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.metadata(protocol),
    }));
  }

  /**
   * Whether the group actively subscribes to the topic. Unknown subscriptions count as subscribed
   * for groups of the consumer protocol (to be safe), and as not subscribed otherwise.
   */
  isSubscribedToTopic(topic: string): boolean {
    return this.subscribedTopics !== null ? this.subscribedTopics.has(topic) : this.isConsumerGroup;
  }

  /**
   * From when a committed offset's retention runs, or null while none of the group's offsets may
   * expire (Kafka 4's ClassicGroup.offsetExpirationCondition): an Empty group's from when it became
   * empty (from the commit when that moment is unknown); a group without protocol type (simple
   * consumers) or a Stable consumer group whose subscription is known, from the commit (the
   * offset manager spares the topics the group still subscribes to).
   */
  offsetExpirationBase(): ((offset: CommittedOffset) => number) | null {
    if (this.protocolType === null) return (o) => o.commitTimestamp;
    if (this.is('Empty')) return (o) => this.stateTimestamp ?? o.commitTimestamp;
    if (this.isConsumerGroup && this.subscribedTopics !== null && this.is('Stable'))
      return (o) => o.commitTimestamp;
    return null;
  }

  private incSupportedProtocols(member: ClassicMember): void {
    for (const name of protocolNames(member.protocols)) {
      this.supportedProtocols.set(name, (this.supportedProtocols.get(name) ?? 0) + 1);
    }
  }

  private decSupportedProtocols(member: ClassicMember): void {
    for (const name of protocolNames(member.protocols)) {
      const n = (this.supportedProtocols.get(name) ?? 0) - 1;
      if (n > 0) this.supportedProtocols.set(name, n);
      else this.supportedProtocols.delete(name);
    }
  }
}
