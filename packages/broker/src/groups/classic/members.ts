/**
 * What a member of a classic group asks after it has joined: SyncGroup (its assignment), Heartbeat
 * and LeaveGroup, and the membership check an OffsetCommit of a member passes (Kafka 4's
 * ClassicGroup.validateOffsetCommit). Requests arrive here after the coordinator's own checks (a
 * group id is given, the coordinator is active).
 */
import { ErrorCode } from '@kch/protocol';
import type { Logger } from '../../logger.js';
import type { CommitOffsetsParams } from '../offsets.js';
import type { GroupRegistry } from '../registry.js';
import { type ClassicGroup, EMPTY_BYTES, type SyncGroupResult, syncError } from './group.js';
import type { ClassicRebalancer } from './rebalance.js';

export interface SyncGroupParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** v5+: must match the group's when given. */
  protocolType: string | null;
  protocolName: string | null;
  /** The leader's assignment, by member id. */
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface HeartbeatParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface LeavingMember {
  memberId: string;
  groupInstanceId: string | null;
  reason?: string | null;
}

export interface LeaveGroupResult {
  errorCode: number;
  members: { memberId: string; groupInstanceId: string | null; errorCode: number }[];
}

/** NONE when the member may act; the error otherwise (Kafka's validateCurrentMember). */
export function validateCurrentMember(
  group: ClassicGroup,
  memberId: string,
  groupInstanceId: string | null,
  logger: Logger,
): number {
  if (groupInstanceId !== null) {
    const current = group.staticMembers.get(groupInstanceId);
    if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (current !== memberId) {
      logger.info('static member fenced by a newer member id', {
        groupId: group.groupId,
        groupInstanceId,
        memberId,
        currentMemberId: current,
      });
      return ErrorCode.FENCED_INSTANCE_ID;
    }
  }
  return group.has(memberId) ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
}

export class ClassicMembers {
  constructor(
    private readonly groups: GroupRegistry,
    private readonly rebalancer: ClassicRebalancer,
    private readonly logger: Logger,
  ) {}

  /** Resolves with the member's assignment: at once, or when the leader's SyncGroup arrives. */
  syncGroup(p: SyncGroupParams): Promise<SyncGroupResult> {
    const group = this.groups.get(p.groupId);
    if (!group) return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    if (group.is('Dead')) return Promise.resolve(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    let error = validateCurrentMember(group, p.memberId, p.groupInstanceId, this.logger);
    if (error === ErrorCode.NONE) {
      if (p.generationId !== group.generationId) error = ErrorCode.ILLEGAL_GENERATION;
      else if (p.protocolType !== null && p.protocolType !== group.protocolType)
        error = ErrorCode.INCONSISTENT_GROUP_PROTOCOL;
      else if (p.protocolName !== null && p.protocolName !== group.protocolName)
        error = ErrorCode.INCONSISTENT_GROUP_PROTOCOL;
    }
    if (error !== ErrorCode.NONE) return Promise.resolve(syncError(error));
    switch (group.state) {
      case 'Empty':
        return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      case 'PreparingRebalance':
        return Promise.resolve(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      case 'CompletingRebalance':
        return new Promise<SyncGroupResult>((resolve) => {
          const member = group.members.get(p.memberId)!;
          // A superseded SyncGroup of the same member (Kafka drops it) is answered so its connection
          // is not held up.
          const previous = member.awaitingSync;
          member.awaitingSync = resolve;
          if (previous !== null) previous(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
          this.rebalancer.removePendingSyncMember(group, p.memberId);
          if (group.isLeader(p.memberId)) this.distributeAssignment(group, p);
        });
      case 'Stable': {
        this.rebalancer.removePendingSyncMember(group, p.memberId);
        const member = group.members.get(p.memberId)!;
        const result: SyncGroupResult = {
          errorCode: ErrorCode.NONE,
          protocolType: group.protocolType,
          protocolName: group.protocolName,
          assignment: member.assignment,
        };
        this.rebalancer.scheduleHeartbeat(group, member, member.sessionTimeoutMs);
        return Promise.resolve(result);
      }
      case 'Dead':
        return Promise.resolve(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    }
  }

  /** The leader's SyncGroup: every member gets its part, and the group is Stable. */
  private distributeAssignment(group: ClassicGroup, p: SyncGroupParams): void {
    this.logger.info('assignment received from the group leader', {
      groupId: group.groupId,
      generationId: group.generationId,
      leader: p.memberId,
      members: group.size,
      staticMembers: group.staticMembers.size,
    });
    const assignment = new Map<string, Buffer>();
    for (const a of p.assignments) assignment.set(a.memberId, Buffer.from(a.assignment));
    const missing = [...group.members.keys()].filter((id) => !assignment.has(id));
    if (missing.length > 0) {
      this.logger.warn('setting empty assignments for members the leader did not assign', {
        groupId: group.groupId,
        generationId: group.generationId,
        members: missing,
      });
    }
    for (const m of group.members.values()) m.assignment = assignment.get(m.memberId) ?? EMPTY_BYTES;
    this.rebalancer.propagateAssignment(group, ErrorCode.NONE);
    this.groups.transition(group, 'Stable');
  }

  /** The Heartbeat error code. */
  heartbeat(p: HeartbeatParams): number {
    const group = this.groups.get(p.groupId);
    if (!group) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const error = validateCurrentMember(group, p.memberId, p.groupInstanceId, this.logger);
    if (error !== ErrorCode.NONE) return error;
    if (p.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    const member = group.members.get(p.memberId)!;
    switch (group.state) {
      case 'Empty':
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case 'CompletingRebalance':
      case 'Stable':
        // Consumers may heartbeat between their JoinGroup response and SyncGroup: a normal heartbeat.
        this.rebalancer.heartbeatReceived(group, member);
        return ErrorCode.NONE;
      case 'PreparingRebalance':
        this.rebalancer.heartbeatReceived(group, member);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      default:
        return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
  }

  /** LeaveGroup: v0-2 name one member id, v3+ several members (by member id or group.instance.id). */
  leaveGroup(groupId: string, leaving: readonly LeavingMember[]): LeaveGroupResult {
    const group = this.groups.get(groupId);
    // Kafka 4 answers an unknown group with a top-level UNKNOWN_MEMBER_ID (Kafka 3 gave it per member).
    if (!group) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, members: [] };
    if (group.is('Dead')) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    const members: LeaveGroupResult['members'] = [];
    for (const l of leaving) {
      const reason = l.reason ?? 'not provided';
      const answer = (errorCode: number) =>
        members.push({ memberId: l.memberId, groupInstanceId: l.groupInstanceId, errorCode });
      if (l.memberId === '') {
        // Administrative removal by group.instance.id (KIP-345).
        const current = l.groupInstanceId === null ? undefined : group.staticMembers.get(l.groupInstanceId);
        if (current === undefined) {
          answer(ErrorCode.UNKNOWN_MEMBER_ID);
        } else {
          this.removeCurrentMember(group, current, reason);
          answer(ErrorCode.NONE);
        }
      } else if (group.pendingMembers.has(l.memberId)) {
        this.rebalancer.removePendingMemberAndUpdateGroup(group, l.memberId);
        this.logger.info('pending member left the group', { groupId, memberId: l.memberId });
        answer(ErrorCode.NONE);
      } else {
        const error = validateCurrentMember(group, l.memberId, l.groupInstanceId, this.logger);
        if (error === ErrorCode.NONE) this.removeCurrentMember(group, l.memberId, reason);
        answer(error);
      }
    }
    return { errorCode: ErrorCode.NONE, members };
  }

  private removeCurrentMember(group: ClassicGroup, memberId: string, reason: string): void {
    const member = group.members.get(memberId)!;
    this.logger.info('member left the group', { groupId: group.groupId, memberId, clientReason: reason });
    this.rebalancer.removeMemberAndUpdateGroup(
      group,
      member,
      `removing member ${memberId} on LeaveGroup; client reason: ${reason}`,
    );
  }

  /**
   * The group an OffsetCommit goes to, or the error every partition of it gets. A commit outside
   * group management to a group that does not exist creates a "simple" group.
   */
  validateOffsetCommit(p: CommitOffsetsParams): ClassicGroup | number {
    let group = this.groups.get(p.groupId);
    if (!group) {
      if (p.generationId >= 0) {
        // A member of a generation of a group that does not exist (any more).
        return p.apiVersion >= 9 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION;
      }
      // Outside group management (simple consumer, admin client): a "simple" group is created.
      this.logger.info('creating simple consumer group via manual offset commit', { groupId: p.groupId });
      group = this.groups.add(p.groupId);
    }
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (p.generationId < 0 && group.is('Empty')) return group;
    if (p.generationId >= 0 || p.memberId !== '' || p.groupInstanceId !== null) {
      const error = validateCurrentMember(group, p.memberId, p.groupInstanceId, this.logger);
      if (error !== ErrorCode.NONE) return error;
      if (p.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    } else if (!group.is('Empty') && !p.transactional) {
      // Without member id and generation, only an empty group takes commits.
      return ErrorCode.UNKNOWN_MEMBER_ID;
    }
    // The member has the generation of its JoinGroup response but not its assignment yet.
    if (group.is('CompletingRebalance') && !p.transactional) return ErrorCode.REBALANCE_IN_PROGRESS;
    // A commit keeps the member's session alive (PreparingRebalance included: the heartbeat tells it to rejoin).
    if (group.is('Stable') || group.is('PreparingRebalance')) {
      const member = group.members.get(p.memberId);
      if (member) this.rebalancer.heartbeatReceived(group, member);
    }
    return group;
  }
}
