/**
 * JoinGroup of the classic protocol (Kafka 4's GroupMetadataManager.classicGroupJoin): admits a new
 * member, a rejoining one or a static member coming back under a new id, and starts the rebalance
 * it causes. The JoinGroup answer waits for the join phase (rebalance.ts) unless the member may be
 * answered at once.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '@kch/protocol';
import type { Logger } from '../../logger.js';
import type { BrokerConfig } from '../../options.js';
import type { GroupRegistry } from '../registry.js';
import type { CoordinatorTimers } from '../timers.js';
import {
  type ClassicGroup,
  ClassicMember,
  type JoinCallback,
  type JoinGroupResult,
  joinError,
  type Protocol,
  protocolNames,
} from './group.js';
import { validateCurrentMember } from './members.js';
import type { ClassicRebalancer } from './rebalance.js';

/** Kafka's NewMemberJoinTimeoutMs (group.classic.new.member.join.timeout.ms in Kafka 4). */
export const DEFAULT_NEW_MEMBER_JOIN_TIMEOUT_MS = 300_000;

export interface JoinGroupParams {
  groupId: string;
  /** "" for a member that has no id yet. */
  memberId: string;
  groupInstanceId: string | null;
  /** JoinGroup v4+: a dynamic member without an id gets MEMBER_ID_REQUIRED and an id to rejoin with. */
  requireKnownMemberId: boolean;
  /** JoinGroup v9+ (KIP-814): a static leader rejoining a stable group may skip the assignment. */
  supportSkippingAssignment: boolean;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  protocolType: string;
  protocols: Protocol[];
  reason?: string | null;
}

/** Client host as Kafka prints it (InetAddress.toString of the client address: "/127.0.0.1"). */
export function clientHostOf(remoteAddress: string): string {
  const host =
    remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.')
      ? remoteAddress.slice(7)
      : remoteAddress;
  return `/${host}`;
}

export type JoinConfig = Pick<
  BrokerConfig,
  'groupMinSessionTimeoutMs' | 'groupMaxSessionTimeoutMs' | 'groupMaxSize'
>;

export class ClassicJoin {
  constructor(
    private readonly config: JoinConfig,
    private readonly groups: GroupRegistry,
    private readonly rebalancer: ClassicRebalancer,
    private readonly timers: CoordinatorTimers,
    private readonly logger: Logger,
    /** How long a new member's JoinGroup may wait for the rebalance. */
    private readonly newMemberJoinTimeoutMs: number,
  ) {}

  /** Resolves when the member's join completes: at once, or when the rebalance completes. */
  joinGroup(p: JoinGroupParams): Promise<JoinGroupResult> {
    if (
      p.sessionTimeoutMs < this.config.groupMinSessionTimeoutMs ||
      p.sessionTimeoutMs > this.config.groupMaxSessionTimeoutMs
    ) {
      return Promise.resolve(joinError(p.memberId, ErrorCode.INVALID_SESSION_TIMEOUT));
    }
    const isUnknownMember = p.memberId === '';
    let group = this.groups.get(p.groupId);
    if (!group) {
      // The group is created by a member without id; a member with an id joining a group that does
      // not exist is told its id is unknown (it resets it and joins again).
      if (!isUnknownMember) return Promise.resolve(joinError(p.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
      group = this.groups.add(p.groupId);
    }
    const g = group;
    const protocols = p.protocols.map((x) => ({ name: x.name, metadata: Buffer.from(x.metadata) }));
    const params = { ...p, protocols };
    return new Promise<JoinGroupResult>((resolve) => {
      if (!this.acceptJoiningMember(g, p.memberId)) {
        this.rebalancer.dropMember(g, p.memberId);
        resolve(joinError('', ErrorCode.GROUP_MAX_SIZE_REACHED));
      } else if (isUnknownMember) {
        this.newMemberJoin(g, params, resolve);
      } else {
        this.currentMemberJoin(g, params, resolve);
      }
      if (g.is('PreparingRebalance')) this.rebalancer.tryCompleteJoin(g);
    });
  }

  private acceptJoiningMember(group: ClassicGroup, memberId: string): boolean {
    switch (group.state) {
      case 'Empty':
      case 'Dead':
        return true;
      case 'PreparingRebalance':
        // Counting members awaiting join (not the size, which may exceed a lowered limit) lets the
        // last members to rejoin be the ones left out.
        return (
          (group.members.get(memberId)?.isAwaitingJoin ?? false) ||
          group.numMembersAwaitingJoin < this.config.groupMaxSize
        );
      case 'CompletingRebalance':
      case 'Stable':
        return group.has(memberId) || group.size < this.config.groupMaxSize;
    }
  }

  private newMemberJoin(group: ClassicGroup, p: JoinGroupParams, resolve: JoinCallback): void {
    if (group.is('Dead')) {
      // The group is being deleted; the client finds the coordinator again and rejoins.
      resolve(joinError('', ErrorCode.COORDINATOR_NOT_AVAILABLE));
      return;
    }
    if (!group.supportsProtocols(p.protocolType, protocolNames(p.protocols))) {
      resolve(joinError('', ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
      return;
    }
    const newMemberId = `${p.groupInstanceId ?? p.clientId}-${randomUUID()}`;
    if (p.groupInstanceId !== null) {
      const existing = group.staticMembers.get(p.groupInstanceId);
      if (existing !== undefined) {
        this.logger.info('static member joins with unknown member id; replacing its previous member id', {
          groupId: group.groupId,
          groupInstanceId: p.groupInstanceId,
          state: group.state,
          oldMemberId: existing,
          newMemberId,
        });
        this.updateStaticMemberAndRebalance(group, existing, newMemberId, p, resolve);
      } else {
        this.addMemberAndRebalance(group, newMemberId, p, resolve);
      }
    } else if (p.requireKnownMemberId) {
      // KIP-394: register the id as pending and have the member rejoin with it.
      const expiry = this.timers.schedule(p.sessionTimeoutMs, () => {
        if (group.is('Dead') || !group.pendingMembers.has(newMemberId)) return;
        this.logger.info('pending member removed after session timeout', {
          groupId: group.groupId,
          memberId: newMemberId,
        });
        this.rebalancer.removePendingMemberAndUpdateGroup(group, newMemberId);
      });
      group.pendingMembers.set(newMemberId, () => this.timers.cancel(expiry));
      resolve(joinError(newMemberId, ErrorCode.MEMBER_ID_REQUIRED));
    } else {
      this.addMemberAndRebalance(group, newMemberId, p, resolve);
    }
  }

  private currentMemberJoin(group: ClassicGroup, p: JoinGroupParams, resolve: JoinCallback): void {
    if (group.is('Dead')) {
      resolve(joinError(p.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
      return;
    }
    if (!group.supportsProtocols(p.protocolType, protocolNames(p.protocols))) {
      resolve(joinError(p.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
      return;
    }
    if (group.pendingMembers.has(p.memberId)) {
      // A pending id was handed to a dynamic member; Kafka fails (IllegalStateException) when a
      // static member presents one.
      if (p.groupInstanceId !== null) {
        resolve(joinError(p.memberId, ErrorCode.UNKNOWN_SERVER_ERROR));
        return;
      }
      this.addMemberAndRebalance(group, p.memberId, p, resolve);
      return;
    }
    const error = validateCurrentMember(group, p.memberId, p.groupInstanceId, this.logger);
    if (error !== ErrorCode.NONE) {
      resolve(joinError(p.memberId, error));
      return;
    }
    const member = group.members.get(p.memberId)!;
    switch (group.state) {
      case 'PreparingRebalance':
        this.updateMemberAndRebalance(group, member, p, resolve, 'member joins during PreparingRebalance');
        return;
      case 'CompletingRebalance':
        if (member.matches(p.protocols)) {
          // Same metadata: it probably missed the JoinGroup response. Answer with the current generation.
          resolve(this.joinResult(group, member.memberId, group.isLeader(member.memberId)));
        } else {
          this.updateMemberAndRebalance(
            group,
            member,
            p,
            resolve,
            'member updates its metadata during CompletingRebalance',
          );
        }
        return;
      case 'Stable':
        if (group.isLeader(member.memberId)) {
          // The leader rejoining forces a rebalance: it may have seen a change that affects the
          // assignment without affecting metadata (new partitions of a subscribed topic).
          this.updateMemberAndRebalance(group, member, p, resolve, 'leader rejoins during Stable');
        } else if (!member.matches(p.protocols)) {
          this.updateMemberAndRebalance(
            group,
            member,
            p,
            resolve,
            'member updates its metadata during Stable',
          );
        } else {
          resolve(this.joinResult(group, member.memberId, false));
        }
        return;
      case 'Empty':
      case 'Dead':
        this.logger.warn('rejoining member found its group in an unexpected state', {
          groupId: group.groupId,
          memberId: p.memberId,
          state: group.state,
        });
        resolve(joinError(p.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
        return;
    }
  }

  /** The current generation's answer; the members' metadata only for a leader that assigns. */
  private joinResult(group: ClassicGroup, memberId: string, withMembers: boolean): JoinGroupResult {
    return group.joinResult(memberId, withMembers ? group.currentMemberMetadata() : []);
  }

  private addMemberAndRebalance(
    group: ClassicGroup,
    memberId: string,
    p: JoinGroupParams,
    resolve: JoinCallback,
  ): void {
    const member = new ClassicMember(
      memberId,
      p.groupInstanceId,
      p.clientId,
      p.clientHost,
      p.rebalanceTimeoutMs,
      p.sessionTimeoutMs,
      p.protocolType,
      p.protocols,
    );
    member.isNew = true;
    // Members joining during the initial delay of a group that was empty extend the delay (Kafka 4;
    // Kafka 3 did this only for generation 0).
    if (group.is('PreparingRebalance') && group.previousState === 'Empty') group.newMemberAdded = true;
    group.add(member, resolve);
    // A new member cannot heartbeat before it has its id, and a parked JoinGroup hides a disconnect;
    // its join is bounded by the new member join timeout instead of the session timeout.
    this.rebalancer.scheduleHeartbeat(group, member, this.newMemberJoinTimeoutMs);
    this.rebalancer.maybePrepareRebalance(
      group,
      `adding new member ${memberId} with group instance id ${p.groupInstanceId}`,
      p.reason,
    );
  }

  private updateStaticMemberAndRebalance(
    group: ClassicGroup,
    oldMemberId: string,
    newMemberId: string,
    p: JoinGroupParams,
    resolve: JoinCallback,
  ): void {
    const instanceId = p.groupInstanceId!;
    const currentLeader = group.leaderId;
    const member = group.replaceStaticMember(instanceId, oldMemberId, newMemberId);
    // The old id's session timer goes away; the new id gets one.
    this.rebalancer.scheduleHeartbeat(group, member, member.sessionTimeoutMs);
    group.updateMember(member, p.protocols, p.rebalanceTimeoutMs, p.sessionTimeoutMs, resolve);
    switch (group.state) {
      case 'Stable': {
        // No rebalance unless the protocol the group would select changes (KIP-345). Kafka persists
        // the new member id first; kch keeps group metadata in memory, so it answers at once.
        if (group.protocolName === group.selectProtocol()) {
          this.logger.info(
            'static member rejoins a stable group without changing its protocols: no rebalance',
            {
              groupId: group.groupId,
              groupInstanceId: instanceId,
              memberId: newMemberId,
            },
          );
          if (p.supportSkippingAssignment) {
            // JoinGroup v9+ (KIP-814): a static leader learns it leads but skips the assignment, so it
            // keeps watching metadata without reassigning a stable group.
            const isLeader = group.isLeader(newMemberId);
            group.invokeJoin(member, {
              ...this.joinResult(group, newMemberId, isLeader),
              skipAssignment: isLeader,
            });
          } else {
            // Older versions get the old leader id, so a rejoining static leader does not see itself
            // as leader and does not compute an assignment a stable group would not distribute.
            group.invokeJoin(member, {
              ...this.joinResult(group, newMemberId, false),
              leader: currentLeader ?? '',
            });
          }
        } else {
          this.rebalancer.maybePrepareRebalance(
            group,
            `static member ${newMemberId} with instance id ${instanceId} joined with a change of protocol`,
            p.reason,
          );
        }
        return;
      }
      case 'CompletingRebalance':
        // The leader may be assigning to the old member id: rebalance so the new id gets an assignment.
        this.rebalancer.prepareRebalance(
          group,
          `static member ${newMemberId} with instance id ${instanceId} rejoined during CompletingRebalance`,
        );
        return;
      case 'PreparingRebalance':
        return;
      case 'Empty':
      case 'Dead':
        throw new Error(
          `group ${group.groupId} cannot be ${group.state} when static member ${instanceId} rejoins`,
        );
    }
  }

  private updateMemberAndRebalance(
    group: ClassicGroup,
    member: ClassicMember,
    p: JoinGroupParams,
    resolve: JoinCallback,
    reason: string,
  ): void {
    group.updateMember(member, p.protocols, p.rebalanceTimeoutMs, p.sessionTimeoutMs, resolve);
    this.rebalancer.maybePrepareRebalance(group, `${reason} (member ${member.memberId})`, p.reason);
  }
}
