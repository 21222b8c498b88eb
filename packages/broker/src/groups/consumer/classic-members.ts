/**
 * Members of the classic protocol in a KIP-848 consumer group (Kafka 4's online migration): the
 * JoinGroup, SyncGroup, Heartbeat and LeaveGroup of a consumer that still speaks the classic
 * protocol, answered from the consumer group's own state, as Kafka's GroupMetadataManager
 * classicGroupJoinToConsumerGroup, classicGroupSyncToConsumerGroup,
 * classicGroupHeartbeatToConsumerGroup and classicGroupLeaveToConsumerGroup do. Such a member was a
 * member of a classic group that was upgraded (migration.ts), or joins a consumer group that has
 * members. The broker's assignor chooses its partitions like any member's: its JoinGroup is its
 * heartbeat with a subscription (reconciled toward its target, its owned partitions read from the
 * subscription), and its SyncGroup answers its current assignment; it is never a leader. A member
 * that must move on learns it from Heartbeat (REBALANCE_IN_PROGRESS) and rejoins.
 *
 * Its classic session timeout applies, and two timeouts of Kafka fence it too: the sync timeout (no
 * SyncGroup within the rebalance timeout after a JoinGroup) and the join timeout (no JoinGroup within
 * the rebalance timeout after it was told to rejoin).
 */
import { ErrorCode } from '@kch/protocol';
import { randomUuid } from '../../kafka-uuid.js';
import type { Logger } from '../../logger.js';
import type { BrokerConfig } from '../../options.js';
import {
  CONSUMER_PROTOCOL_TYPE,
  type JoinGroupResult,
  joinError,
  protocolNames,
  type SyncGroupResult,
  syncError,
} from '../classic/group.js';
import type { JoinGroupParams } from '../classic/join.js';
import type {
  HeartbeatParams,
  LeaveGroupResult,
  LeavingMember,
  SyncGroupParams,
} from '../classic/members.js';
import { decodeSubscription, encodeAssignment, subscriptionVersion } from '../consumer-protocol.js';
import type { CoordinatorTimers } from '../timers.js';
import type { Assignment } from './assignors.js';
import { type ConsumerGroup, type ConsumerMember, newMember } from './group.js';
import { fail, GroupRequestError } from './group-error.js';
import { type ConsumerGroupStore, type ConsumerHeartbeats, sameNames, type TopicsView } from './heartbeat.js';
import { reconcile } from './reconcile.js';

export type ClassicMembersConfig = Pick<
  BrokerConfig,
  'groupMinSessionTimeoutMs' | 'groupMaxSessionTimeoutMs' | 'consumerGroupMaxSize'
>;

/** The error code of what a request step threw: Kafka's answer for its exception. */
function errorCodeOf(e: unknown): number {
  if (e instanceof GroupRequestError) return e.code;
  throw e;
}

/** Partitions by topic id, from partitions by topic name; topics that do not exist are left out. */
export function partitionsByTopicId(
  byName: readonly { topic: string; partitions: readonly number[] }[],
  topics: TopicsView,
): Assignment {
  const a: Assignment = new Map();
  for (const { topic, partitions } of byName) {
    const id = topics.byName(topic)?.topicId;
    if (id !== undefined) a.set(id, new Set([...(a.get(id) ?? []), ...partitions]));
  }
  return a;
}

/**
 * A member's partitions as consumer protocol assignment bytes, at the version of its subscription
 * (Kafka's ConsumerProtocol.serializeAssignment of toConsumerProtocolAssignment); topics that no
 * longer exist are left out.
 */
export function assignmentBytes(partitions: Assignment, metadata: Buffer, topics: TopicsView): Buffer {
  const byName: { topic: string; partitions: number[] }[] = [];
  for (const [topicId, ps] of partitions) {
    const topic = topics.nameOf(topicId);
    if (topic !== undefined && ps.size > 0) byName.push({ topic, partitions: [...ps].sort((x, y) => x - y) });
  }
  return encodeAssignment(byName, subscriptionVersion(metadata));
}

export class ClassicMembersOfConsumerGroups {
  constructor(
    private readonly config: ClassicMembersConfig,
    private readonly groups: ConsumerGroupStore,
    private readonly heartbeats: ConsumerHeartbeats,
    private readonly topics: TopicsView,
    private readonly timers: CoordinatorTimers,
    private readonly logger: Logger,
  ) {}

  /** Kafka's classicGroupJoinToConsumerGroup: answered at once, never parked. */
  join(group: ConsumerGroup, p: JoinGroupParams): JoinGroupResult {
    // GroupCoordinatorService checks the session timeout before any group is looked at.
    if (
      p.sessionTimeoutMs < this.config.groupMinSessionTimeoutMs ||
      p.sessionTimeoutMs > this.config.groupMaxSessionTimeoutMs
    )
      return joinError(p.memberId, ErrorCode.INVALID_SESSION_TIMEOUT);
    try {
      return this.joinMember(group, p);
    } catch (e) {
      return joinError(p.memberId, errorCodeOf(e));
    }
  }

  private joinMember(group: ConsumerGroup, p: JoinGroupParams): JoinGroupResult {
    const isUnknownMember = p.memberId === '';
    const memberId = isUnknownMember ? randomUuid() : p.memberId;
    const max = this.config.consumerGroupMaxSize;
    if (group.members.size >= max && (isUnknownMember || !group.members.has(memberId)))
      fail(
        ErrorCode.GROUP_MAX_SIZE_REACHED,
        `The consumer group has reached its maximum capacity of ${max} members.`,
      );
    if (!group.supportsClassicProtocols(p.protocolType, protocolNames(p.protocols)))
      fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, `Member ${memberId}'s protocols are not supported.`);
    if (p.requireKnownMemberId && p.groupInstanceId === null && isUnknownMember) {
      // KIP-394: the member rejoins with this id; a consumer group keeps no pending ids.
      this.logger.info('classic member without id joins a consumer group: asked to rejoin with one', {
        groupId: group.groupId,
        memberId,
      });
      return joinError(memberId, ErrorCode.MEMBER_ID_REQUIRED);
    }
    // Every protocol carries the same subscription (Kafka reads the first one).
    let subscription: ReturnType<typeof decodeSubscription>;
    try {
      subscription = decodeSubscription(p.protocols[0]!.metadata);
    } catch {
      // Kafka's IllegalStateException: an unknown server error for the member.
      return fail(
        ErrorCode.UNKNOWN_SERVER_ERROR,
        'Malformed embedded consumer protocol in subscription deserialization.',
      );
    }

    // Kafka's step 4, decided on the group as it was: a classic static member taking the place of the
    // last member of the consumer protocol turns the group classic.
    const replacedId = p.groupInstanceId === null ? undefined : group.staticMembers.get(p.groupInstanceId);
    const downgrade =
      replacedId !== undefined &&
      (this.heartbeats.migrations?.mayDowngradeReplacing(group, replacedId) ?? false);

    const { member, isNew } =
      p.groupInstanceId === null
        ? this.dynamicMember(group, memberId)
        : this.staticMember(group, memberId, p.groupInstanceId, isUnknownMember);
    const topicNames = [...subscription.topics].sort();
    const updated: ConsumerMember = {
      ...member,
      instanceId: p.groupInstanceId ?? member.instanceId,
      rackId: subscription.rackId ?? member.rackId,
      rebalanceTimeoutMs: p.rebalanceTimeoutMs !== -1 ? p.rebalanceTimeoutMs : member.rebalanceTimeoutMs,
      clientId: p.clientId,
      clientHost: p.clientHost,
      subscribedTopicNames: topicNames,
      classic: {
        sessionTimeoutMs: p.sessionTimeoutMs,
        protocols: p.protocols.map((x) => ({ name: x.name, metadata: Buffer.from(x.metadata) })),
      },
    };
    let bump = isNew || !sameNames(topicNames, member.subscribedTopicNames);
    group.members.set(updated.memberId, updated);
    if (updated.instanceId !== null) group.staticMembers.set(updated.instanceId, updated.memberId);

    const metadata = this.heartbeats.subscriptionMetadata(group);
    if (metadata !== group.subscriptionMetadata) {
      group.subscriptionMetadata = metadata;
      bump = true;
    }
    if (bump) group.groupEpoch++;
    if (group.groupEpoch > group.assignmentEpoch) this.heartbeats.computeTarget(group);

    const reconciled: ConsumerMember = reconcile({
      member: updated,
      targetEpoch: group.assignmentEpoch,
      target: group.targetAssignment.get(updated.memberId) ?? new Map(),
      owners: group.owners(),
      owned: partitionsByTopicId(subscription.ownedPartitions, this.topics),
    });
    // The member joined: its join timeout ends, its session and its sync timeout start (in the
    // classic group it is now part of, when the group was downgraded).
    this.timers.cancel(reconciled.joinTimer);
    reconciled.joinTimer = undefined;
    group.members.set(reconciled.memberId, reconciled);
    if (downgrade) {
      this.logger.info('classic static member replaced the last member of the consumer protocol', {
        groupId: group.groupId,
        memberId: reconciled.memberId,
      });
      this.heartbeats.migrations!.downgradeReplacing(group);
    } else {
      this.heartbeats.scheduleSession(group, reconciled);
      this.scheduleSyncTimeout(group, reconciled, p.rebalanceTimeoutMs);
      this.groups.changed(group);
    }
    return {
      errorCode: ErrorCode.NONE,
      generationId: reconciled.memberEpoch,
      protocolType: CONSUMER_PROTOCOL_TYPE,
      protocolName: p.protocols[0]!.name,
      leader: '',
      skipAssignment: false,
      memberId: reconciled.memberId,
      members: [],
    };
  }

  /** Kafka's getOrMaybeSubscribeDynamicConsumerGroupMember with createIfNotExists: any id joins. */
  private dynamicMember(group: ConsumerGroup, memberId: string) {
    const existing = group.members.get(memberId);
    return existing ? { member: existing, isNew: false } : { member: newMember(memberId, null), isNew: true };
  }

  /**
   * Kafka's getOrMaybeSubscribeStaticConsumerGroupMember: a static member without id joins, or takes
   * the place of its instance id's member (its assignment, from epoch 0); with an id, it must be the
   * instance id's member.
   */
  private staticMember(group: ConsumerGroup, memberId: string, instanceId: string, isUnknown: boolean) {
    const existingId = group.staticMembers.get(instanceId);
    const existing = existingId === undefined ? undefined : group.members.get(existingId);
    if (isUnknown) {
      if (!existing) return { member: newMember(memberId, instanceId), isNew: true };
      const replaced = this.heartbeats.replaceStatic(group, existing, memberId);
      this.logger.info('static member rejoins the consumer group with the classic protocol under a new id', {
        groupId: group.groupId,
        instanceId,
        memberId,
        replacedMemberId: existing.memberId,
      });
      return { member: { ...replaced, memberEpoch: 0, previousMemberEpoch: 0 }, isNew: false };
    }
    return { member: this.staticOf(group, memberId, instanceId), isNew: false };
  }

  /** Kafka's throwIfStaticMemberIsUnknown and throwIfInstanceIdIsFenced. */
  private staticOf(group: ConsumerGroup, memberId: string, instanceId: string): ConsumerMember {
    const id = group.staticMembers.get(instanceId);
    const member =
      (id !== undefined && group.members.get(id)) ||
      fail(ErrorCode.UNKNOWN_MEMBER_ID, `Instance id ${instanceId} is unknown.`);
    if (member.memberId !== memberId)
      fail(
        ErrorCode.FENCED_INSTANCE_ID,
        `Static member ${memberId} with instance id ${instanceId} was fenced by member ${member.memberId}.`,
      );
    return member;
  }

  /** Kafka's validateConsumerGroupMember and throwIfMemberDoesNotUseClassicProtocol. */
  private classicMember(group: ConsumerGroup, memberId: string, instanceId: string | null): ConsumerMember {
    const member =
      instanceId === null
        ? (group.members.get(memberId) ??
          fail(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${memberId} is not a member of group ${group.groupId}.`))
        : this.staticOf(group, memberId, instanceId);
    if (member.classic === null)
      fail(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${member.memberId} does not use the classic protocol.`);
    return member;
  }

  /** Kafka's throwIfGenerationIdUnmatched. */
  private checkGeneration(member: ConsumerMember, generationId: number): void {
    if (generationId !== member.memberEpoch)
      fail(
        ErrorCode.ILLEGAL_GENERATION,
        `The request generation id ${generationId} is not equal to the member epoch ${member.memberEpoch} of member ${member.memberId}.`,
      );
  }

  /** Kafka's classicGroupSyncToConsumerGroup: the member's current partitions. */
  sync(group: ConsumerGroup, p: SyncGroupParams): SyncGroupResult {
    try {
      const member = this.classicMember(group, p.memberId, p.groupInstanceId);
      this.checkGeneration(member, p.generationId);
      // Kafka's throwIfClassicProtocolUnmatched: the type and name of the JoinGroup answer.
      const protocol = member.classic!.protocols[0]!;
      if (
        (p.protocolType !== null && p.protocolType !== CONSUMER_PROTOCOL_TYPE) ||
        (p.protocolName !== null && p.protocolName !== protocol.name)
      )
        fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, `Member ${member.memberId}'s protocol does not match.`);
      // Kafka's throwIfRebalanceInProgress: a member behind the group epoch rejoins first, unless it
      // is revoking partitions (its next JoinGroup moves it on anyway).
      if (group.groupEpoch > member.memberEpoch && member.state !== 'UNREVOKED_PARTITIONS') {
        this.scheduleJoinTimeoutIfAbsent(group, member);
        fail(
          ErrorCode.REBALANCE_IN_PROGRESS,
          `A new rebalance is triggered in group ${group.groupId} and member ${member.memberId} should rejoin to catch up.`,
        );
      }
      this.timers.cancel(member.syncTimer);
      member.syncTimer = undefined;
      this.heartbeats.scheduleSession(group, member);
      return {
        errorCode: ErrorCode.NONE,
        protocolType: p.protocolType,
        protocolName: p.protocolName,
        assignment: assignmentBytes(member.assigned, protocol.metadata, this.topics),
      };
    } catch (e) {
      return syncError(errorCodeOf(e));
    }
  }

  /**
   * Kafka's classicGroupHeartbeatToConsumerGroup: REBALANCE_IN_PROGRESS when the member must rejoin
   * (the group epoch moved past it, it has partitions to revoke, or partitions it waited for are free).
   */
  heartbeat(group: ConsumerGroup, p: HeartbeatParams): number {
    try {
      const member = this.classicMember(group, p.memberId, p.groupInstanceId);
      this.checkGeneration(member, p.generationId);
      this.heartbeats.scheduleSession(group, member);
      if (
        member.memberEpoch < group.groupEpoch ||
        member.state === 'UNREVOKED_PARTITIONS' ||
        (member.state === 'UNRELEASED_PARTITIONS' && !group.waitingOnUnreleasedPartition(member))
      ) {
        this.scheduleJoinTimeoutIfAbsent(group, member);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      }
      return ErrorCode.NONE;
    } catch (e) {
      return errorCodeOf(e);
    }
  }

  /**
   * Kafka's classicGroupLeaveToConsumerGroup: each classic member named leaves (a member of the
   * consumer protocol gets UNKNOWN_MEMBER_ID); the group epoch moves once for all of them.
   */
  leave(group: ConsumerGroup, leaving: readonly LeavingMember[]): LeaveGroupResult {
    const members: LeaveGroupResult['members'] = [];
    let removed = false;
    for (const l of leaving) {
      let memberId = l.memberId;
      try {
        let member: ConsumerMember;
        if (l.groupInstanceId === null) member = this.classicMember(group, memberId, null);
        else {
          // By instance id alone (no member id): an administrative removal (KIP-345).
          const id = group.staticMembers.get(l.groupInstanceId);
          const found =
            (id !== undefined && group.members.get(id)) ||
            fail(ErrorCode.UNKNOWN_MEMBER_ID, `Instance id ${l.groupInstanceId} is unknown.`);
          member = this.classicMember(group, memberId === '' ? found.memberId : memberId, l.groupInstanceId);
          memberId = member.memberId;
        }
        this.logger.info('classic member left the consumer group', {
          groupId: group.groupId,
          memberId,
          clientReason: l.reason ?? 'not provided',
        });
        this.heartbeats.removeMember(group, member, false);
        removed = true;
        members.push({ memberId, groupInstanceId: l.groupInstanceId, errorCode: ErrorCode.NONE });
      } catch (e) {
        members.push({ memberId, groupInstanceId: l.groupInstanceId, errorCode: errorCodeOf(e) });
      }
    }
    if (removed) this.heartbeats.bumpEpoch(group);
    return { errorCode: ErrorCode.NONE, members };
  }

  /** Kafka's scheduleConsumerGroupSyncTimeout: a SyncGroup within the rebalance timeout, or fenced. */
  private scheduleSyncTimeout(
    group: ConsumerGroup,
    member: ConsumerMember,
    rebalanceTimeoutMs: number,
  ): void {
    this.timers.cancel(member.syncTimer);
    const timer = this.timers.schedule(rebalanceTimeoutMs, () =>
      this.fenceOnTimeout(group, member.memberId, (m) => m.syncTimer === timer, 'did not sync in time'),
    );
    member.syncTimer = timer;
  }

  /** Kafka's scheduleConsumerGroupJoinTimeoutIfAbsent: a JoinGroup within the rebalance timeout, or fenced. */
  private scheduleJoinTimeoutIfAbsent(group: ConsumerGroup, member: ConsumerMember): void {
    if (member.joinTimer !== undefined) return;
    const timer = this.timers.schedule(member.rebalanceTimeoutMs, () =>
      this.fenceOnTimeout(group, member.memberId, (m) => m.joinTimer === timer, 'did not rejoin in time'),
    );
    member.joinTimer = timer;
  }

  /** Kafka's consumerGroupFenceMemberOperation, when the timer is still the member's own. */
  private fenceOnTimeout(
    group: ConsumerGroup,
    memberId: string,
    armed: (m: ConsumerMember) => boolean,
    reason: string,
  ): void {
    const member = group.members.get(memberId);
    if (this.groups.get(group.groupId) !== group || !member || !armed(member)) return;
    this.logger.info(`classic member of a consumer group fenced: it ${reason}`, {
      groupId: group.groupId,
      memberId,
    });
    this.heartbeats.fence(group, member);
  }
}
