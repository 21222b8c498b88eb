/**
 * The rebalance protocol of a classic group, after the join and sync requests have been admitted:
 * the phases a rebalance goes through and the sessions of the members, each bounded by a timer
 * where Kafka parks a purgatory operation:
 * - the join phase (DelayedJoin): completes when every member rejoined, or after the largest
 *   rebalance timeout, dropping the dynamic members that did not rejoin;
 * - the initial delay of an empty group (InitialDelayedJoin): group.initial.rebalance.delay.ms,
 *   extended by the same delay while new members keep arriving, up to the rebalance timeout;
 * - the sync phase (DelayedSync): members that got their JoinGroup response must send SyncGroup
 *   within the rebalance timeout or be removed;
 * - a member's session (DelayedHeartbeat): rescheduled on every heartbeat, sync and commit; expiry
 *   removes the member and rebalances what remains.
 *
 * A timer can fire after what it was armed for has moved on (the member rejoined, the generation
 * advanced): each one is cancelled when its phase ends and checks, when it fires, that the state it
 * was armed for still holds, as Kafka's purgatory operations do.
 */
import { ErrorCode } from '@kch/protocol';
import type { Logger } from '../../logger.js';
import type { BrokerConfig } from '../../options.js';
import { subscribedTopics } from '../consumer-protocol.js';
import type { GroupRegistry } from '../registry.js';
import type { CoordinatorTimers } from '../timers.js';
import { type ClassicGroup, type ClassicMember, EMPTY_BYTES, joinError, syncError } from './group.js';

export class ClassicRebalancer {
  constructor(
    private readonly config: Pick<BrokerConfig, 'groupInitialRebalanceDelayMs'>,
    private readonly groups: GroupRegistry,
    private readonly timers: CoordinatorTimers,
    private readonly logger: Logger,
  ) {}

  // ---------------------------------------------------------------------------------------------
  // Join phase

  maybePrepareRebalance(group: ClassicGroup, reason: string, clientReason?: string | null): void {
    if (group.canRebalance()) this.prepareRebalance(group, reason, clientReason);
  }

  prepareRebalance(group: ClassicGroup, reason: string, clientReason?: string | null): void {
    // Members waiting for their assignment are told to rejoin.
    if (group.is('CompletingRebalance'))
      this.resetAndPropagateAssignmentError(group, ErrorCode.REBALANCE_IN_PROGRESS);
    this.removeSyncExpiration(group);
    const initial = group.is('Empty');
    const rebalanceTimeoutMs = group.rebalanceTimeoutMs();
    this.groups.transition(group, 'PreparingRebalance');
    this.logger.info('preparing to rebalance group', {
      groupId: group.groupId,
      generationId: group.generationId,
      reason,
      clientReason: clientReason ?? 'not provided',
    });
    if (initial) {
      const delay = this.config.groupInitialRebalanceDelayMs;
      this.scheduleInitialJoin(group, delay, Math.max(rebalanceTimeoutMs - delay, 0));
    } else {
      this.scheduleJoin(group, rebalanceTimeoutMs);
      this.tryCompleteJoin(group);
    }
  }

  private scheduleInitialJoin(group: ClassicGroup, delayMs: number, remainingMs: number): void {
    this.timers.cancel(group.joinTimer);
    group.initialJoinDelay = true;
    group.joinTimer = this.timers.schedule(delayMs, () => {
      group.joinTimer = undefined;
      if (!group.is('PreparingRebalance')) return;
      if (group.newMemberAdded && remainingMs !== 0) {
        group.newMemberAdded = false;
        const delay = Math.min(this.config.groupInitialRebalanceDelayMs, remainingMs);
        const remaining = Math.max(remainingMs - delayMs, 0);
        this.scheduleInitialJoin(group, delay, remaining);
      } else {
        this.completeJoin(group);
      }
    });
  }

  private scheduleJoin(group: ClassicGroup, timeoutMs: number): void {
    this.timers.cancel(group.joinTimer);
    group.initialJoinDelay = false;
    group.joinTimer = this.timers.schedule(timeoutMs, () => {
      group.joinTimer = undefined;
      this.completeJoin(group);
    });
  }

  /** Completes the join phase now when every member has rejoined (and no initial delay runs). */
  tryCompleteJoin(group: ClassicGroup): void {
    if (group.is('PreparingRebalance') && !group.initialJoinDelay && group.hasAllMembersJoined())
      this.completeJoin(group);
  }

  /** Kafka's onCompleteJoin. */
  private completeJoin(group: ClassicGroup): void {
    this.timers.cancel(group.joinTimer);
    group.joinTimer = undefined;
    group.initialJoinDelay = false;
    if (!group.is('PreparingRebalance')) return;
    // Dynamic members that did not rejoin in time are gone; static ones stay until their session expires.
    const dropped: string[] = [];
    for (const member of [...group.members.values()]) {
      if (!member.isAwaitingJoin && !member.isStatic) {
        this.dropMember(group, member.memberId);
        dropped.push(member.memberId);
      }
    }
    if (dropped.length > 0) {
      this.logger.info('group removed dynamic members who did not rejoin', {
        groupId: group.groupId,
        members: dropped,
      });
    }
    if (!group.maybeElectNewJoinedLeader() && group.size > 0) {
      // No member rejoined: wait another rebalance timeout, until session timeouts remove the silent members.
      this.logger.error('group could not complete rebalance because no members rejoined', {
        groupId: group.groupId,
      });
      this.scheduleJoin(group, group.rebalanceTimeoutMs());
      return;
    }
    this.initNextGeneration(group);
    if (group.is('Empty')) {
      this.logger.info('group is now empty', { groupId: group.groupId, generationId: group.generationId });
      return;
    }
    this.logger.info('group stabilized', {
      groupId: group.groupId,
      generationId: group.generationId,
      protocol: group.protocolName,
      members: group.size,
    });
    const leaderMembers = group.currentMemberMetadata();
    for (const member of [...group.members.values()]) {
      const isLeader = group.isLeader(member.memberId);
      group.invokeJoin(member, group.joinResult(member.memberId, isLeader ? leaderMembers : []));
      this.scheduleHeartbeat(group, member, member.sessionTimeoutMs);
      member.isNew = false;
      group.pendingSyncMembers.add(member.memberId);
    }
    this.schedulePendingSync(group);
  }

  private initNextGeneration(group: ClassicGroup): void {
    group.generationId++;
    if (group.size > 0) {
      group.protocolName = group.selectProtocol();
      group.subscribedTopics = this.computeSubscribedTopics(group);
      this.groups.transition(group, 'CompletingRebalance');
    } else {
      group.protocolName = null;
      group.subscribedTopics = this.computeSubscribedTopics(group);
      this.groups.transition(group, 'Empty');
    }
    group.pendingSyncMembers.clear();
  }

  /** The topics the members subscribe to (consumer protocol); null when unknown. */
  computeSubscribedTopics(group: ClassicGroup): Set<string> | null {
    if (!group.isConsumerGroup) return null;
    if (group.size === 0) return new Set();
    if (group.protocolName === null) return null;
    const all = new Set<string>();
    for (const m of group.members.values()) {
      const topics = subscribedTopics(m.metadata(group.protocolName));
      if (topics === null) {
        this.logger.warn('cannot parse the consumer protocol subscription; subscribed topics are unknown', {
          groupId: group.groupId,
          memberId: m.memberId,
        });
        return null;
      }
      for (const t of topics) all.add(t);
    }
    return all;
  }

  // ---------------------------------------------------------------------------------------------
  // Sync phase

  private schedulePendingSync(group: ClassicGroup): void {
    this.timers.cancel(group.syncTimer);
    const generationId = group.generationId;
    group.syncTimer = this.timers.schedule(group.rebalanceTimeoutMs(), () => {
      group.syncTimer = undefined;
      this.onExpirePendingSync(group, generationId);
    });
  }

  removePendingSyncMember(group: ClassicGroup, memberId: string): void {
    group.pendingSyncMembers.delete(memberId);
    if (group.pendingSyncMembers.size === 0) {
      this.timers.cancel(group.syncTimer);
      group.syncTimer = undefined;
    }
  }

  private removeSyncExpiration(group: ClassicGroup): void {
    group.pendingSyncMembers.clear();
    this.timers.cancel(group.syncTimer);
    group.syncTimer = undefined;
  }

  private onExpirePendingSync(group: ClassicGroup, generationId: number): void {
    if (generationId !== group.generationId) return;
    if (!group.is('CompletingRebalance') && !group.is('Stable')) return;
    if (group.pendingSyncMembers.size === 0) return;
    const missing = [...group.pendingSyncMembers];
    for (const memberId of missing) this.dropMember(group, memberId);
    this.logger.info('group removed members who did not send SyncGroup in time', {
      groupId: group.groupId,
      members: missing,
    });
    this.prepareRebalance(group, `removing ${missing.join(', ')} on pending sync request expiration`);
  }

  private resetAndPropagateAssignmentError(group: ClassicGroup, errorCode: number): void {
    for (const m of group.members.values()) m.assignment = EMPTY_BYTES;
    this.propagateAssignment(group, errorCode);
  }

  /** Answers every parked SyncGroup with its member's assignment, or with `errorCode`. */
  propagateAssignment(group: ClassicGroup, errorCode: number): void {
    const ok = errorCode === ErrorCode.NONE;
    for (const member of [...group.members.values()]) {
      const answered = group.invokeSync(member, {
        errorCode,
        protocolType: ok ? group.protocolType : null,
        protocolName: ok ? group.protocolName : null,
        assignment: member.assignment,
      });
      // The session restarts once the member has its assignment: an expiration that happened while
      // it waited was ignored, and no later one was scheduled.
      if (answered) this.scheduleHeartbeat(group, member, member.sessionTimeoutMs);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Sessions

  /**
   * Kafka's completeAndScheduleNextExpiration: the member's session restarts with `timeoutMs`. As in
   * Kafka's purgatory, no expiration is scheduled while the member's heartbeat is satisfied anyway
   * (it waits for a join or sync response): the response reschedules it.
   */
  scheduleHeartbeat(group: ClassicGroup, member: ClassicMember, timeoutMs: number): void {
    this.timers.cancel(member.heartbeatTimer);
    member.heartbeatTimer = undefined;
    member.heartbeatSatisfied = false;
    if (member.hasSatisfiedHeartbeat()) return;
    member.heartbeatTimer = this.timers.schedule(timeoutMs, () => {
      member.heartbeatTimer = undefined;
      this.onExpireHeartbeat(group, member);
    });
  }

  /** A heartbeat, or what counts as one (an offset commit): the session starts over. */
  heartbeatReceived(group: ClassicGroup, member: ClassicMember): void {
    member.heartbeatSatisfied = true;
    this.scheduleHeartbeat(group, member, member.sessionTimeoutMs);
  }

  private onExpireHeartbeat(group: ClassicGroup, member: ClassicMember): void {
    if (group.is('Dead')) return;
    if (group.members.get(member.memberId) !== member) return;
    if (member.hasSatisfiedHeartbeat()) return;
    this.logger.info('member session expired; removing it from the group', {
      groupId: group.groupId,
      memberId: member.memberId,
      groupInstanceId: member.groupInstanceId,
    });
    this.removeMemberAndUpdateGroup(group, member, `member ${member.memberId} session expired`);
  }

  // ---------------------------------------------------------------------------------------------
  // Members leaving

  /** Removes a member after its session expired or it left, and rebalances what remains. */
  removeMemberAndUpdateGroup(group: ClassicGroup, member: ClassicMember, reason: string): void {
    // A new member may still wait in JoinGroup: it retries with UNKNOWN_MEMBER_ID.
    group.invokeJoin(member, joinError('', ErrorCode.UNKNOWN_MEMBER_ID));
    // Kafka leaves a parked SyncGroup of a removed member unanswered (its channel is muted); answer it,
    // so the connection can go on answering in order.
    group.invokeSync(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    this.dropMember(group, member.memberId);
    switch (group.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.maybePrepareRebalance(group, reason);
        return;
      case 'PreparingRebalance':
        this.tryCompleteJoin(group);
        return;
      default:
        return;
    }
  }

  removePendingMemberAndUpdateGroup(group: ClassicGroup, memberId: string): void {
    group.remove(memberId);
    if (group.is('PreparingRebalance')) this.tryCompleteJoin(group);
  }

  /** group.remove plus the member's session timer. */
  dropMember(group: ClassicGroup, memberId: string): void {
    const member = group.remove(memberId);
    if (member) {
      this.timers.cancel(member.heartbeatTimer);
      member.heartbeatTimer = undefined;
    }
  }
}
