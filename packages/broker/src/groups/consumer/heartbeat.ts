/**
 * ConsumerGroupHeartbeat of KIP-848 consumer groups (Kafka 4's GroupMetadataManager
 * .consumerGroupHeartbeat): joins (epoch 0), heartbeats and leaves (epoch -1, or -2 for a static
 * member leaving for a while) of the members; fencing by member epoch; the group epoch bumped by
 * membership, subscription and partition count changes; the target assignment computed by the
 * server-side assignor once the group epoch moved past it; each member reconciled toward it
 * (reconcile.ts); the session and rebalance timeouts. A join to a classic group with members may
 * upgrade it, and the last member of this protocol leaving a group of classic members may downgrade
 * it (migration.ts, through GroupMigrations). Everything runs to completion on one thread, as
 * the classic side (../coordinator.ts says why no event queue is needed).
 */
import { type ConsumerGroupHeartbeatRequest, ErrorCode } from '@kch/protocol';
import { randomUuid } from '../../kafka-uuid.js';
import type { Logger } from '../../logger.js';
import type { CoordinatorTimers } from '../timers.js';
import { ASSIGNORS, type Assignment, type AssignorMember } from './assignors.js';
import {
  ConsumerGroup,
  type ConsumerMember,
  LEAVE_GROUP_MEMBER_EPOCH,
  LEAVE_GROUP_STATIC_MEMBER_EPOCH,
  newMember,
} from './group.js';
import { fail, GroupRequestError } from './group-error.js';
import { reconcile } from './reconcile.js';
import { compileTopicRegex, matchingTopics } from './regex.js';

export interface ConsumerGroupConfig {
  consumerGroupSessionTimeoutMs: number;
  consumerGroupHeartbeatIntervalMs: number;
  consumerGroupMaxSize: number;
  /** Names of the server assignors, the first the default (group.consumer.assignors). */
  consumerGroupAssignors: readonly string[];
}

/** The topics a consumer group can subscribe to: names, ids and partition counts. */
export interface TopicsView {
  byName(name: string): { topicId: string; partitions: number } | undefined;
  names(): Iterable<string>;
  /** The name of a topic id; undefined for a topic that no longer exists. */
  nameOf(topicId: string): string | undefined;
}

/**
 * The conversions between classic and consumer groups (migration.ts), as the heartbeat sees them:
 * a join to a classic group with members may upgrade it, and fencing the last member of the
 * consumer protocol may downgrade the group.
 */
export interface GroupMigrations {
  /** The classic group converted to a consumer group, or why not (GROUP_ID_NOT_FOUND, GROUP_MAX_SIZE_REACHED). */
  upgrade(groupId: string): ConsumerGroup | { code: number; message: string };
  /** Whether removing the member turned the group into a classic one (the member is gone then). */
  maybeDowngrade(group: ConsumerGroup, fenced: ConsumerMember): boolean;
  /** Whether the group may become classic once a classic static member replaces this member. */
  mayDowngradeReplacing(group: ConsumerGroup, replacedMemberId: string): boolean;
  /** The group, now of classic members only after such a replacement, becomes a classic group. */
  downgradeReplacing(group: ConsumerGroup): void;
}

/** A ConsumerGroupHeartbeat request with its version and the client's id and host. */
export type HeartbeatParams = Omit<ConsumerGroupHeartbeatRequest, 'unknownTaggedFields'> & {
  apiVersion: number;
  clientId: string;
  clientHost: string;
};

export interface HeartbeatResult {
  errorCode: number;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment: { topicPartitions: { topicId: string; partitions: number[] }[] } | null;
}

/** The groups' store the heartbeat works on (consumer/registry of the coordinator). */
export interface ConsumerGroupStore {
  get(groupId: string): ConsumerGroup | undefined;
  /** A new consumer group; undefined when a non-empty classic group holds the id. */
  create(groupId: string): ConsumerGroup | undefined;
  changed(group: ConsumerGroup): void;
}

/** A heartbeat answered with an error: no member, epoch or assignment. */
export function heartbeatError(errorCode: number, errorMessage: string | null = null): HeartbeatResult {
  return {
    errorCode,
    errorMessage,
    memberId: null,
    memberEpoch: 0,
    heartbeatIntervalMs: 0,
    assignment: null,
  };
}

export class ConsumerHeartbeats {
  /** Set by the coordinator: without it, groups never change type while they have members. */
  migrations: GroupMigrations | undefined;

  constructor(
    private readonly config: ConsumerGroupConfig,
    private readonly groups: ConsumerGroupStore,
    private readonly topics: TopicsView,
    private readonly timers: CoordinatorTimers,
    private readonly logger: Logger,
  ) {}

  /** Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid: INVALID_REQUEST or UNSUPPORTED_ASSIGNOR. */
  validate(p: HeartbeatParams): HeartbeatResult | undefined {
    const invalid = (message: string) => heartbeatError(ErrorCode.INVALID_REQUEST, message);
    // From v1 the client makes its member id (Kafka's CONSUMER_GENERATED_MEMBER_ID_REQUIRED_VERSION).
    if (
      (p.apiVersion >= 1 || p.memberEpoch > 0 || p.memberEpoch === LEAVE_GROUP_MEMBER_EPOCH) &&
      p.memberId === ''
    )
      return invalid("MemberId can't be empty.");
    if (p.groupId === '') return invalid("GroupId can't be empty.");
    if (p.instanceId === '') return invalid("InstanceId can't be empty.");
    if (p.rackId === '') return invalid("RackId can't be empty.");
    if (p.memberEpoch === 0) {
      if (p.rebalanceTimeoutMs === -1)
        return invalid('RebalanceTimeoutMs must be provided in first request.');
      if (p.topicPartitions === null || p.topicPartitions.length > 0)
        return invalid('TopicPartitions must be empty when (re-)joining.');
      if (p.subscribedTopicNames === null && p.subscribedTopicRegex === null)
        return invalid(
          'Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.',
        );
    } else if (p.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      if (p.instanceId === null) return invalid("InstanceId can't be null.");
    } else if (p.memberEpoch < LEAVE_GROUP_STATIC_MEMBER_EPOCH) return invalid('MemberEpoch is invalid.');
    if (p.subscribedTopicRegex) {
      const re = compileTopicRegex(p.subscribedTopicRegex);
      if (re instanceof Error)
        return heartbeatError(
          ErrorCode.INVALID_REGULAR_EXPRESSION,
          `SubscribedTopicRegex \`${p.subscribedTopicRegex}\` is not a valid regular expression: ${re.message}.`,
        );
    }
    if (p.serverAssignor !== null && !this.config.consumerGroupAssignors.includes(p.serverAssignor))
      return heartbeatError(
        ErrorCode.UNSUPPORTED_ASSIGNOR,
        `ServerAssignor ${p.serverAssignor} is not supported. Supported assignors: ${this.config.consumerGroupAssignors.join(', ')}.`,
      );
    return undefined;
  }

  heartbeat(p: HeartbeatParams): HeartbeatResult {
    const invalid = this.validate(p);
    if (invalid) return invalid;
    try {
      if (p.memberEpoch === LEAVE_GROUP_MEMBER_EPOCH || p.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH)
        return this.leave(p);
      return this.regular(p);
    } catch (e) {
      if (e instanceof GroupRequestError) return heartbeatError(e.code, e.message);
      throw e;
    }
  }

  private regular(p: HeartbeatParams): HeartbeatResult {
    let group = this.groups.get(p.groupId);
    if (!group) {
      if (p.memberEpoch !== 0) fail(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group ${p.groupId} not found.`);
      group = this.groups.create(p.groupId);
      if (!group) {
        const upgraded = this.migrations?.upgrade(p.groupId) ?? {
          code: ErrorCode.GROUP_ID_NOT_FOUND,
          message: `Group ${p.groupId} is not a consumer group`,
        };
        group = upgraded instanceof ConsumerGroup ? upgraded : fail(upgraded.code, upgraded.message);
      }
    }
    if (
      group.members.size >= this.config.consumerGroupMaxSize &&
      (p.memberId === '' || !group.members.has(p.memberId))
    )
      fail(
        ErrorCode.GROUP_MAX_SIZE_REACHED,
        `The consumer group has reached its maximum capacity of ${this.config.consumerGroupMaxSize} members.`,
      );

    const owned = p.topicPartitions && toAssignment(p.topicPartitions);
    const { member, isNew } =
      p.instanceId === null ? this.dynamicMember(group, p, owned) : this.staticMember(group, p, owned);

    // The member's subscription and client details; a new member or a new subscription bumps the epoch.
    let bump = isNew;
    // A member of this protocol keeps nothing of the classic one (a static member replacing a classic one).
    const updated: ConsumerMember = {
      ...member,
      clientId: p.clientId,
      clientHost: p.clientHost,
      classic: null,
    };
    if (p.rackId !== null) updated.rackId = p.rackId;
    if (p.rebalanceTimeoutMs !== -1) updated.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    if (p.serverAssignor !== null) updated.serverAssignor = p.serverAssignor;
    if (p.subscribedTopicNames !== null && !sameNames(p.subscribedTopicNames, member.subscribedTopicNames)) {
      updated.subscribedTopicNames = [...p.subscribedTopicNames].sort();
      bump = true;
    }
    // "" is no regex (librdkafka sends it on each full heartbeat): kept as null, and no change.
    const regex = p.subscribedTopicRegex === '' ? null : p.subscribedTopicRegex;
    if (p.subscribedTopicRegex !== null && regex !== member.subscribedTopicRegex) {
      updated.subscribedTopicRegex = regex;
      bump = true;
    }
    group.members.set(updated.memberId, updated);
    if (updated.instanceId !== null) group.staticMembers.set(updated.instanceId, updated.memberId);

    // The subscribed topics' partitions: new topics, more partitions, deleted topics bump the epoch.
    const metadata = this.subscriptionMetadata(group);
    if (metadata !== group.subscriptionMetadata) {
      group.subscriptionMetadata = metadata;
      bump = true;
    }
    if (bump) group.groupEpoch++;
    if (group.groupEpoch > group.assignmentEpoch) this.computeTarget(group);

    const reconciled = reconcile({
      member: updated,
      targetEpoch: group.assignmentEpoch,
      target: group.targetAssignment.get(updated.memberId) ?? new Map(),
      owners: group.owners(),
      owned,
    });
    group.members.set(reconciled.memberId, reconciled);
    this.scheduleSession(group, reconciled);
    this.scheduleRebalance(group, member, reconciled);
    this.groups.changed(group);

    // The assignment goes out on a full request (a join) and whenever it changed.
    const full =
      p.memberEpoch === 0 ||
      (p.rebalanceTimeoutMs !== -1 && p.subscribedTopicNames !== null && owned !== null);
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: reconciled.memberId,
      memberEpoch: reconciled.memberEpoch,
      heartbeatIntervalMs: this.config.consumerGroupHeartbeatIntervalMs,
      assignment:
        full || !sameAssignment(member.assigned, reconciled.assigned)
          ? { topicPartitions: fromAssignment(reconciled.assigned) }
          : null,
    };
  }

  /** Kafka's getOrMaybeSubscribeDynamicMember and throwIfMemberEpochIsInvalid. */
  private dynamicMember(group: ConsumerGroup, p: HeartbeatParams, owned: Assignment | null) {
    if (p.memberEpoch === 0) {
      const existing = p.memberId === '' ? undefined : group.members.get(p.memberId);
      if (existing) {
        // A member that rejoins with epoch 0 has lost its partitions: it starts over, keeping its id.
        return {
          member: {
            ...existing,
            memberEpoch: 0,
            state: 'STABLE' as const,
            assigned: new Map(),
            pendingRevocation: new Map(),
          },
          isNew: false,
        };
      }
      return { member: newMember(p.memberId === '' ? randomUuid() : p.memberId, null), isNew: true };
    }
    const member =
      group.members.get(p.memberId) ??
      fail(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${p.memberId} is not a member of group ${group.groupId}.`);
    this.checkEpoch(member, p.memberEpoch, owned);
    return { member, isNew: false };
  }

  /** Kafka's getOrMaybeCreateStaticMember: a static member rejoins under a new id once the old left (-2). */
  private staticMember(group: ConsumerGroup, p: HeartbeatParams, owned: Assignment | null) {
    const instanceId = p.instanceId!;
    const existingId = group.staticMembers.get(instanceId);
    const existing = existingId === undefined ? undefined : group.members.get(existingId);
    if (p.memberEpoch === 0) {
      const memberId = p.memberId === '' ? randomUuid() : p.memberId;
      if (!existing) return { member: newMember(memberId, instanceId), isNew: true };
      // A classic member's instance id is taken over without waiting for its leave (Kafka).
      if (existing.classic === null && existing.memberEpoch !== LEAVE_GROUP_STATIC_MEMBER_EPOCH)
        fail(
          ErrorCode.UNRELEASED_INSTANCE_ID,
          `Static member ${existing.memberId} with instance id ${instanceId} is not released yet.`,
        );
      // The new member takes the old one's place, assignment and target: no rebalance.
      return { member: this.replaceStatic(group, existing, memberId), isNew: false };
    }
    if (!existing) fail(ErrorCode.UNKNOWN_MEMBER_ID, `Instance id ${instanceId} is unknown.`);
    if (existing!.memberId !== p.memberId)
      fail(
        ErrorCode.FENCED_INSTANCE_ID,
        `Static member ${p.memberId} with instance id ${instanceId} was fenced by member ${existing!.memberId}.`,
      );
    this.checkEpoch(existing!, p.memberEpoch, owned);
    return { member: existing!, isNew: false };
  }

  /**
   * Kafka's replaceMember: a static member rejoining under a new member id takes the old one's place,
   * assignment and target; no rebalance.
   */
  replaceStatic(group: ConsumerGroup, existing: ConsumerMember, memberId: string): ConsumerMember {
    const target = group.targetAssignment.get(existing.memberId);
    this.removeMember(group, existing, false);
    if (target) group.targetAssignment.set(memberId, target);
    // The old member's timers went with it.
    return {
      ...existing,
      memberId,
      sessionTimer: undefined,
      rebalanceTimer: undefined,
      joinTimer: undefined,
      syncTimer: undefined,
    };
  }

  /**
   * Kafka's throwIfMemberEpochIsInvalid: a newer epoch than the member's is fenced; an older one only
   * passes when it is the previous epoch and the member owns no more than its assignment (the answer
   * that bumped its epoch was lost).
   */
  private checkEpoch(member: ConsumerMember, received: number, owned: Assignment | null): void {
    if (received > member.memberEpoch)
      fail(
        ErrorCode.FENCED_MEMBER_EPOCH,
        `The consumer group member has a greater member epoch (${received}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`,
      );
    if (
      received < member.memberEpoch &&
      (received !== member.previousMemberEpoch || !isSubset(owned, member.assigned))
    )
      fail(
        ErrorCode.FENCED_MEMBER_EPOCH,
        `The consumer group member has a smaller member epoch (${received}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`,
      );
  }

  private leave(p: HeartbeatParams): HeartbeatResult {
    const group =
      this.groups.get(p.groupId) ??
      fail(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group ${p.groupId} not found.`);
    let member: ConsumerMember;
    if (p.instanceId === null) {
      member =
        group.members.get(p.memberId) ??
        fail(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${p.memberId} is not a member of group ${p.groupId}.`);
    } else {
      const id = group.staticMembers.get(p.instanceId);
      member =
        (id !== undefined && group.members.get(id)) ||
        fail(ErrorCode.UNKNOWN_MEMBER_ID, `Instance id ${p.instanceId} is unknown.`);
      if (member.memberId !== p.memberId)
        fail(
          ErrorCode.FENCED_INSTANCE_ID,
          `Static member ${p.memberId} with instance id ${p.instanceId} was fenced by member ${member.memberId}.`,
        );
    }
    if (p.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      // Leaves for a while: keeps its assignment until its session expires or it comes back.
      const left = { ...member, memberEpoch: LEAVE_GROUP_STATIC_MEMBER_EPOCH };
      group.members.set(left.memberId, left);
      this.timers.cancel(member.rebalanceTimer);
      this.groups.changed(group);
    } else {
      this.logger.info('consumer group member left', { groupId: group.groupId, memberId: member.memberId });
      this.fence(group, member);
    }
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: p.memberId,
      memberEpoch: p.memberEpoch,
      heartbeatIntervalMs: 0,
      assignment: null,
    };
  }

  /**
   * Kafka's consumerGroupFenceMember: the member goes and its partitions are reassigned, unless it was
   * the last member of the consumer protocol among classic ones and the group goes back to classic.
   */
  fence(group: ConsumerGroup, member: ConsumerMember): void {
    if (this.migrations?.maybeDowngrade(group, member)) return;
    this.removeMember(group, member, true);
  }

  /** The member goes with its timers; `bump`: its partitions are to be reassigned (group epoch + 1). */
  removeMember(group: ConsumerGroup, member: ConsumerMember, bump: boolean): void {
    this.cancelTimers(member);
    group.members.delete(member.memberId);
    group.targetAssignment.delete(member.memberId);
    if (member.instanceId !== null && group.staticMembers.get(member.instanceId) === member.memberId)
      group.staticMembers.delete(member.instanceId);
    if (bump) this.bumpEpoch(group);
  }

  /** Kafka's cancelTimers: the member's session, rebalance, join and sync timeouts. */
  cancelTimers(member: ConsumerMember): void {
    for (const t of [member.sessionTimer, member.rebalanceTimer, member.joinTimer, member.syncTimer])
      this.timers.cancel(t);
  }

  /** Members left: the subscribed topics are computed again and the group epoch moves on. */
  bumpEpoch(group: ConsumerGroup): void {
    group.subscriptionMetadata = this.subscriptionMetadata(group);
    group.groupEpoch++;
    this.groups.changed(group);
  }

  /**
   * group.consumer.session.timeout.ms from the last heartbeat (a classic member's own session timeout
   * from its last Heartbeat, JoinGroup or SyncGroup): then the member is fenced.
   */
  scheduleSession(group: ConsumerGroup, member: ConsumerMember): void {
    this.timers.cancel(member.sessionTimer);
    const ms = member.classic?.sessionTimeoutMs ?? this.config.consumerGroupSessionTimeoutMs;
    member.sessionTimer = this.timers.schedule(ms, () => {
      if (
        this.groups.get(group.groupId) !== group ||
        group.members.get(member.memberId)?.sessionTimer !== member.sessionTimer
      )
        return;
      this.logger.info('consumer group member session expired', {
        groupId: group.groupId,
        memberId: member.memberId,
      });
      this.fence(group, group.members.get(member.memberId)!);
    });
  }

  /**
   * A member that must revoke partitions has its rebalance timeout to do so (Kafka's
   * scheduleConsumerGroupRebalanceTimeout): still unrevoked at the same epoch then, it is fenced.
   */
  private scheduleRebalance(group: ConsumerGroup, before: ConsumerMember, after: ConsumerMember): void {
    if (after.state !== 'UNREVOKED_PARTITIONS') {
      this.timers.cancel(before.rebalanceTimer);
      after.rebalanceTimer = undefined;
      return;
    }
    if (
      before.state === 'UNREVOKED_PARTITIONS' &&
      before.memberEpoch === after.memberEpoch &&
      before.rebalanceTimer
    )
      return;
    this.timers.cancel(before.rebalanceTimer);
    const epoch = after.memberEpoch;
    const timer = this.timers.schedule(after.rebalanceTimeoutMs, () => {
      const current = group.members.get(after.memberId);
      if (this.groups.get(group.groupId) !== group || !current || current.rebalanceTimer !== timer) return;
      if (current.state !== 'UNREVOKED_PARTITIONS' || current.memberEpoch !== epoch) return;
      this.logger.info('consumer group member did not revoke in its rebalance timeout', {
        groupId: group.groupId,
        memberId: current.memberId,
      });
      this.fence(group, current);
    });
    after.rebalanceTimer = timer;
  }

  /** The topic ids a member subscribes to that exist, by name or by regex. */
  private subscribedTopics(member: ConsumerMember): Map<string, { topicId: string; partitions: number }> {
    const out = new Map<string, { topicId: string; partitions: number }>();
    const names = [...member.subscribedTopicNames];
    if (member.subscribedTopicRegex !== null)
      names.push(...matchingTopics(member.subscribedTopicRegex, this.topics.names()));
    for (const name of names) {
      const t = this.topics.byName(name);
      if (t) out.set(name, t);
    }
    return out;
  }

  /** Every subscribed topic with its id and partition count, as one comparable string. */
  subscriptionMetadata(group: ConsumerGroup): string {
    const all = new Map<string, { topicId: string; partitions: number }>();
    for (const m of group.members.values()) for (const [n, t] of this.subscribedTopics(m)) all.set(n, t);
    return [...all]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([n, t]) => `${n}/${t.topicId}/${t.partitions}`)
      .join(',');
  }

  /** Kafka's TargetAssignmentBuilder: the assignor's answer for every member, at the group epoch. */
  computeTarget(group: ConsumerGroup): void {
    const name = group.preferredAssignor(this.config.consumerGroupAssignors[0]!);
    const assignor = ASSIGNORS.get(name)!;
    const counts = new Map<string, number>();
    const members: AssignorMember[] = [];
    for (const m of group.members.values()) {
      const topicIds: string[] = [];
      for (const t of this.subscribedTopics(m).values()) {
        counts.set(t.topicId, t.partitions);
        topicIds.push(t.topicId);
      }
      members.push({
        memberId: m.memberId,
        instanceId: m.instanceId,
        topicIds,
        previous: group.targetAssignment.get(m.memberId) ?? new Map(),
      });
    }
    group.targetAssignment = assignor.assign(members, counts);
    group.assignmentEpoch = group.groupEpoch;
    group.assignorName = name;
  }
}

export function toAssignment(
  list: readonly { topicId: string; partitions: readonly number[] }[],
): Assignment {
  const a: Assignment = new Map();
  for (const t of list) a.set(t.topicId, new Set([...(a.get(t.topicId) ?? []), ...t.partitions]));
  return a;
}

export function fromAssignment(a: Assignment): { topicId: string; partitions: number[] }[] {
  return [...a]
    .filter(([, ps]) => ps.size > 0)
    .sort(([x], [y]) => (x < y ? -1 : 1))
    .map(([topicId, ps]) => ({ topicId, partitions: [...ps].sort((x, y) => x - y) }));
}

function isSubset(owned: Assignment | null, assigned: Assignment): boolean {
  if (owned === null) return true;
  for (const [t, ps] of owned) for (const p of ps) if (!assigned.get(t)?.has(p)) return false;
  return true;
}

function sameAssignment(a: Assignment, b: Assignment): boolean {
  return JSON.stringify(fromAssignment(a)) === JSON.stringify(fromAssignment(b));
}

/** Whether `a` (in any order) names the same topics as `b`, which is sorted. */
export function sameNames(a: readonly string[], b: readonly string[]): boolean {
  const x = [...a].sort();
  return x.length === b.length && x.every((n, i) => n === b[i]);
}
