/**
 * The group coordinator (classic protocol): membership and rebalancing in broker memory, committed
 * offsets through storage. Every consumer group this broker coordinates lives here.
 *
 * This follows Apache Kafka's coordinator closely: GroupCoordinator.scala / GroupMetadata.scala (up to
 * 3.9) and their Java successor in Kafka 4 (GroupMetadataManager's classic group handling,
 * ClassicGroup, OffsetMetadataManager). Where the two differ, Kafka 4 wins; the places are marked.
 * Kafka's purgatories become timers:
 * - a member's session (DelayedHeartbeat): rescheduled on every heartbeat, sync and commit; expiry
 *   removes the member and rebalances;
 * - the join phase (DelayedJoin): completes when every member rejoined, or after the largest rebalance
 *   timeout, dropping the dynamic members that did not rejoin;
 * - the initial delay of an empty group (InitialDelayedJoin): group.initial.rebalance.delay.ms,
 *   extended by the same delay while new members keep arriving, up to the rebalance timeout;
 * - the sync phase (DelayedSync): members that got their JoinGroup response must send SyncGroup
 *   within the rebalance timeout or be removed;
 * - a pending member id (MEMBER_ID_REQUIRED, KIP-394) expires after the session timeout.
 *
 * Kafka persists group metadata (members, assignments) in __consumer_offsets; kch keeps it in memory
 * only, so after a restart members rejoin as they do after a coordinator failover. Committed offsets
 * are persisted through storage and cached here; groups that have offsets come back after a restart
 * as Empty groups without a protocol type (as groups known only by their offsets do in Kafka).
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '@kch/protocol';
import { type CommittedOffset, type Storage, StorageError, type TopicPartition } from '@kch/storage';
import type { EventEmitter } from 'eventemitter3';
import type { BrokerEvents } from '../events.js';
import type { Logger } from '../logger.js';
import type { BrokerConfig } from '../options.js';
import { subscribedTopics } from './consumer-protocol.js';
import {
  EMPTY_BYTES,
  Group,
  type GroupState,
  type JoinCallback,
  type JoinGroupResult,
  joinError,
  Member,
  offsetKey,
  type Protocol,
  protocolNames,
  type SyncGroupResult,
  syncError,
} from './group.js';

export type { GroupState, JoinGroupMember, JoinGroupResult, Protocol, SyncGroupResult } from './group.js';
export { GROUP_STATES } from './group.js';

/** The broker settings the coordinator uses. */
export type GroupCoordinatorConfig = Pick<
  BrokerConfig,
  | 'groupMinSessionTimeoutMs'
  | 'groupMaxSessionTimeoutMs'
  | 'groupInitialRebalanceDelayMs'
  | 'groupMaxSize'
  | 'offsetsRetentionMs'
>;

export interface GroupCoordinatorOptions {
  config: GroupCoordinatorConfig;
  storage: Storage;
  logger: Logger;
  /** 'group-change' is emitted on every state or generation change; 'topic-deleted' is listened to. */
  events: EventEmitter<BrokerEvents>;
  /**
   * Whether a topic partition exists: OffsetCommit and OffsetDelete answer UNKNOWN_TOPIC_OR_PARTITION
   * for others. Give this or `topics`.
   */
  partitionExists?: (topic: string, partition: number) => boolean;
  /** The broker's topics, used when `partitionExists` is not given: a partition exists when it has a log. */
  topics?: { log(topic: string, partition: number): unknown };
  /** How often expired offsets and empty groups are cleaned up (offsets.retention.check.interval.ms). */
  offsetsRetentionCheckIntervalMs?: number;
  /** How long a new member's JoinGroup may wait for the rebalance (group.classic.new.member.join.timeout.ms). */
  newMemberJoinTimeoutMs?: number;
  /** Clock, in ms since the epoch (tests). */
  now?: () => number;
}

/** Kafka's offset.metadata.max.bytes (it counts characters). */
export const OFFSET_METADATA_MAX_SIZE = 4096;
/** Kafka's offsets.retention.check.interval.ms default. */
export const DEFAULT_OFFSETS_RETENTION_CHECK_INTERVAL_MS = 600_000;
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

export interface CommitPartition {
  partitionIndex: number;
  committedOffset: number;
  /** -1 when unknown. */
  committedLeaderEpoch: number;
  committedMetadata: string | null;
  /** OffsetCommit v1's explicit commit time; -1 for now. */
  commitTimestamp?: number;
}

export interface CommitOffsetsParams {
  groupId: string;
  /** -1 for a commit outside group management (simple consumer, admin client). */
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** The OffsetCommit version: v9+ answers GROUP_ID_NOT_FOUND where older ones get ILLEGAL_GENERATION. */
  apiVersion: number;
  topics: { name: string; partitions: CommitPartition[] }[];
}

export interface PartitionError {
  partitionIndex: number;
  errorCode: number;
}

export interface TopicErrors {
  name: string;
  partitions: PartitionError[];
}

export interface FetchedPartition {
  partitionIndex: number;
  committedOffset: number;
  committedLeaderEpoch: number;
  metadata: string;
  errorCode: number;
}

export interface FetchOffsetsResult {
  errorCode: number;
  topics: { name: string; partitions: FetchedPartition[] }[];
}

export interface DescribedMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  memberMetadata: Buffer;
  memberAssignment: Buffer;
}

export interface DescribedGroup {
  errorCode: number;
  groupId: string;
  groupState: GroupState;
  protocolType: string;
  /** The selected protocol (Stable groups only; "" otherwise). */
  protocolData: string;
  members: DescribedMember[];
}

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  groupState: GroupState;
  /** Always "classic": KIP-848 groups are not served yet. */
  groupType: string;
}

export interface OffsetDeleteResult {
  errorCode: number;
  topics: TopicErrors[];
}

/** Client host as Kafka prints it (InetAddress.toString of the client address: "/127.0.0.1"). */
export function clientHostOf(remoteAddress: string): string {
  const host =
    remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.')
      ? remoteAddress.slice(7)
      : remoteAddress;
  return `/${host}`;
}

/** Kafka's mapping of a failed write to __consumer_offsets (GroupMetadataManager.maybeConvertOffsetCommitError). */
function storageErrorCode(e: unknown): number {
  // A backend that is down or timed out is what Kafka reports as the offsets partition being
  // unavailable: COORDINATOR_NOT_AVAILABLE, which clients retry after looking the coordinator up again.
  if (e instanceof StorageError && !e.retriable) return ErrorCode.UNKNOWN_SERVER_ERROR;
  return ErrorCode.COORDINATOR_NOT_AVAILABLE;
}

export class GroupCoordinator {
  private readonly config: GroupCoordinatorConfig;
  private readonly storage: Storage;
  private readonly logger: Logger;
  private readonly events: EventEmitter<BrokerEvents>;
  private readonly partitionExists: (topic: string, partition: number) => boolean;
  private readonly retentionCheckIntervalMs: number;
  private readonly newMemberJoinTimeoutMs: number;
  private readonly now: () => number;

  private readonly groups = new Map<string, Group>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private retentionTimer: NodeJS.Timeout | undefined;
  private expiring: Promise<void> | undefined;
  private started = false;
  /** Set by close: requests are refused with COORDINATOR_NOT_AVAILABLE, as by an inactive Kafka coordinator. */
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly onTopicDeleted = (info: { topic: string }) => this.removeTopicOffsets(info.topic);

  constructor(options: GroupCoordinatorOptions) {
    this.config = options.config;
    this.storage = options.storage;
    this.logger = options.logger;
    this.events = options.events;
    const { partitionExists, topics } = options;
    if (partitionExists) this.partitionExists = partitionExists;
    else if (topics) this.partitionExists = (t, p) => topics.log(t, p) !== undefined;
    else throw new Error('GroupCoordinator needs partitionExists or topics');
    this.retentionCheckIntervalMs =
      options.offsetsRetentionCheckIntervalMs ?? DEFAULT_OFFSETS_RETENTION_CHECK_INTERVAL_MS;
    this.newMemberJoinTimeoutMs = options.newMemberJoinTimeoutMs ?? DEFAULT_NEW_MEMBER_JOIN_TIMEOUT_MS;
    this.now = options.now ?? Date.now;
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  /** Loads what storage knows (groups with committed offsets) and starts offset expiration. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const groupId of await this.storage.listOffsetGroups()) {
      const offsets = await this.storage.fetchOffsets(groupId);
      if (offsets.length === 0) continue;
      let group = this.groups.get(groupId);
      if (!group) {
        // Nothing but offsets is known: an Empty group without protocol type and without a state
        // timestamp, whose offsets expire by their commit time.
        group = new Group(groupId, undefined);
        this.groups.set(groupId, group);
      }
      for (const o of offsets) group.offsets.set(offsetKey(o.topic, o.partition), o);
    }
    this.events.on('topic-deleted', this.onTopicDeleted);
    this.retentionTimer = setInterval(() => void this.expireOffsets(), this.retentionCheckIntervalMs);
    this.retentionTimer.unref?.();
    this.logger.info('group coordinator started', { groupsWithOffsets: this.groups.size });
  }

  /**
   * Stops timers; members are not told to leave (they find the coordinator again, as after a broker
   * restart). Requests still parked in JoinGroup or SyncGroup are answered NOT_COORDINATOR, as Kafka
   * answers them when a coordinator unloads its groups. Waits for pending offset writes.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.events.off('topic-deleted', this.onTopicDeleted);
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const writes: Promise<void>[] = [];
    for (const group of this.groups.values()) {
      for (const member of group.members.values()) {
        group.invokeJoin(member, joinError(member.memberId, ErrorCode.NOT_COORDINATOR));
        group.invokeSync(member, syncError(ErrorCode.NOT_COORDINATOR));
      }
      writes.push(group.writes);
    }
    if (this.expiring) writes.push(this.expiring);
    await Promise.all(writes);
  }

  // ---------------------------------------------------------------------------------------------
  // JoinGroup

  /** Resolves when the member's join completes: at once, or when the rebalance completes. */
  joinGroup(p: JoinGroupParams): Promise<JoinGroupResult> {
    if (p.groupId === '') return Promise.resolve(joinError(p.memberId, ErrorCode.INVALID_GROUP_ID));
    if (this.closed) return Promise.resolve(joinError(p.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
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
      group = this.addGroup(p.groupId);
    }
    const g = group;
    const protocols = p.protocols.map((x) => ({ name: x.name, metadata: Buffer.from(x.metadata) }));
    const params = { ...p, protocols };
    return new Promise<JoinGroupResult>((resolve) => {
      if (!this.acceptJoiningMember(g, p.memberId)) {
        this.dropMember(g, p.memberId);
        resolve(joinError('', ErrorCode.GROUP_MAX_SIZE_REACHED));
      } else if (isUnknownMember) {
        this.newMemberJoin(g, params, resolve);
      } else {
        this.currentMemberJoin(g, params, resolve);
      }
      if (g.is('PreparingRebalance')) this.tryCompleteJoin(g);
    });
  }

  private acceptJoiningMember(group: Group, memberId: string): boolean {
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

  private newMemberJoin(group: Group, p: JoinGroupParams, resolve: JoinCallback): void {
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
      group.pendingMembers.add(newMemberId);
      this.setTimer(p.sessionTimeoutMs, () => {
        if (group.is('Dead') || !group.pendingMembers.has(newMemberId)) return;
        this.logger.info('pending member removed after session timeout', {
          groupId: group.groupId,
          memberId: newMemberId,
        });
        this.removePendingMemberAndUpdateGroup(group, newMemberId);
      });
      resolve(joinError(newMemberId, ErrorCode.MEMBER_ID_REQUIRED));
    } else {
      this.addMemberAndRebalance(group, newMemberId, p, resolve);
    }
  }

  private currentMemberJoin(group: Group, p: JoinGroupParams, resolve: JoinCallback): void {
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
    const error = this.validateCurrentMember(group, p.memberId, p.groupInstanceId);
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

  private joinResult(group: Group, memberId: string, withMembers: boolean): JoinGroupResult {
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? '',
      skipAssignment: false,
      memberId,
      members: withMembers ? group.currentMemberMetadata() : [],
    };
  }

  private addMemberAndRebalance(
    group: Group,
    memberId: string,
    p: JoinGroupParams,
    resolve: JoinCallback,
  ): void {
    const member = new Member(
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
    this.scheduleHeartbeat(group, member, this.newMemberJoinTimeoutMs);
    this.maybePrepareRebalance(
      group,
      `adding new member ${memberId} with group instance id ${p.groupInstanceId}`,
      p.reason,
    );
  }

  private updateStaticMemberAndRebalance(
    group: Group,
    oldMemberId: string,
    newMemberId: string,
    p: JoinGroupParams,
    resolve: JoinCallback,
  ): void {
    const instanceId = p.groupInstanceId!;
    const currentLeader = group.leaderId;
    const member = group.replaceStaticMember(instanceId, oldMemberId, newMemberId);
    // The old id's session timer goes away; the new id gets one.
    this.scheduleHeartbeat(group, member, member.sessionTimeoutMs);
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
          this.maybePrepareRebalance(
            group,
            `static member ${newMemberId} with instance id ${instanceId} joined with a change of protocol`,
            p.reason,
          );
        }
        return;
      }
      case 'CompletingRebalance':
        // The leader may be assigning to the old member id: rebalance so the new id gets an assignment.
        this.prepareRebalance(
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
    group: Group,
    member: Member,
    p: JoinGroupParams,
    resolve: JoinCallback,
    reason: string,
  ): void {
    group.updateMember(member, p.protocols, p.rebalanceTimeoutMs, p.sessionTimeoutMs, resolve);
    this.maybePrepareRebalance(group, `${reason} (member ${member.memberId})`, p.reason);
  }

  /** Null when the member may act; the error otherwise (Kafka's validateCurrentMember). */
  private validateCurrentMember(group: Group, memberId: string, groupInstanceId: string | null): number {
    if (groupInstanceId !== null) {
      const current = group.staticMembers.get(groupInstanceId);
      if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (current !== memberId) {
        this.logger.info('static member fenced by a newer member id', {
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

  // ---------------------------------------------------------------------------------------------
  // Rebalance phases

  private maybePrepareRebalance(group: Group, reason: string, clientReason?: string | null): void {
    if (group.canRebalance()) this.prepareRebalance(group, reason, clientReason);
  }

  private prepareRebalance(group: Group, reason: string, clientReason?: string | null): void {
    // Members waiting for their assignment are told to rejoin.
    if (group.is('CompletingRebalance'))
      this.resetAndPropagateAssignmentError(group, ErrorCode.REBALANCE_IN_PROGRESS);
    this.removeSyncExpiration(group);
    const initial = group.is('Empty');
    const rebalanceTimeoutMs = group.rebalanceTimeoutMs();
    this.transition(group, 'PreparingRebalance');
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

  private scheduleInitialJoin(group: Group, delayMs: number, remainingMs: number): void {
    this.clearTimer(group.joinTimer);
    group.initialJoinDelay = true;
    group.joinTimer = this.setTimer(delayMs, () => {
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

  private scheduleJoin(group: Group, timeoutMs: number): void {
    this.clearTimer(group.joinTimer);
    group.initialJoinDelay = false;
    group.joinTimer = this.setTimer(timeoutMs, () => {
      group.joinTimer = undefined;
      this.completeJoin(group);
    });
  }

  /** Completes the join phase now when every member has rejoined (and no initial delay runs). */
  private tryCompleteJoin(group: Group): void {
    if (group.is('PreparingRebalance') && !group.initialJoinDelay && group.hasAllMembersJoined())
      this.completeJoin(group);
  }

  /** Kafka's onCompleteJoin. */
  private completeJoin(group: Group): void {
    this.clearTimer(group.joinTimer);
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
      group.invokeJoin(member, {
        errorCode: ErrorCode.NONE,
        generationId: group.generationId,
        protocolType: group.protocolType,
        protocolName: group.protocolName,
        leader: group.leaderId ?? '',
        skipAssignment: false,
        memberId: member.memberId,
        members: isLeader ? leaderMembers : [],
      });
      this.scheduleHeartbeat(group, member, member.sessionTimeoutMs);
      member.isNew = false;
      group.pendingSyncMembers.add(member.memberId);
    }
    this.schedulePendingSync(group);
  }

  private initNextGeneration(group: Group): void {
    group.generationId++;
    if (group.size > 0) {
      group.protocolName = group.selectProtocol();
      group.subscribedTopics = this.computeSubscribedTopics(group);
      this.transition(group, 'CompletingRebalance');
    } else {
      group.protocolName = null;
      group.subscribedTopics = this.computeSubscribedTopics(group);
      this.transition(group, 'Empty');
    }
    group.pendingSyncMembers.clear();
  }

  private computeSubscribedTopics(group: Group): Set<string> | null {
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

  private schedulePendingSync(group: Group): void {
    this.clearTimer(group.syncTimer);
    const generationId = group.generationId;
    group.syncTimer = this.setTimer(group.rebalanceTimeoutMs(), () => {
      group.syncTimer = undefined;
      this.onExpirePendingSync(group, generationId);
    });
  }

  private removePendingSyncMember(group: Group, memberId: string): void {
    group.pendingSyncMembers.delete(memberId);
    if (group.pendingSyncMembers.size === 0) {
      this.clearTimer(group.syncTimer);
      group.syncTimer = undefined;
    }
  }

  private removeSyncExpiration(group: Group): void {
    group.pendingSyncMembers.clear();
    this.clearTimer(group.syncTimer);
    group.syncTimer = undefined;
  }

  private onExpirePendingSync(group: Group, generationId: number): void {
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

  private resetAndPropagateAssignmentError(group: Group, errorCode: number): void {
    for (const m of group.members.values()) m.assignment = EMPTY_BYTES;
    this.propagateAssignment(group, errorCode);
  }

  private propagateAssignment(group: Group, errorCode: number): void {
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
  private scheduleHeartbeat(group: Group, member: Member, timeoutMs: number): void {
    this.clearTimer(member.heartbeatTimer);
    member.heartbeatTimer = undefined;
    member.heartbeatSatisfied = false;
    if (member.hasSatisfiedHeartbeat()) return;
    member.heartbeatTimer = this.setTimer(timeoutMs, () => {
      member.heartbeatTimer = undefined;
      this.onExpireHeartbeat(group, member);
    });
  }

  private onExpireHeartbeat(group: Group, member: Member): void {
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

  /** Removes a member after its session expired or it left, and rebalances what remains. */
  private removeMemberAndUpdateGroup(group: Group, member: Member, reason: string): void {
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

  private removePendingMemberAndUpdateGroup(group: Group, memberId: string): void {
    group.remove(memberId);
    if (group.is('PreparingRebalance')) this.tryCompleteJoin(group);
  }

  /** group.remove plus the member's session timer. */
  private dropMember(group: Group, memberId: string): void {
    const member = group.remove(memberId);
    if (member) {
      this.clearTimer(member.heartbeatTimer);
      member.heartbeatTimer = undefined;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // SyncGroup, Heartbeat, LeaveGroup

  /** Resolves with the member's assignment: at once, or when the leader's SyncGroup arrives. */
  syncGroup(p: SyncGroupParams): Promise<SyncGroupResult> {
    if (p.groupId === '') return Promise.resolve(syncError(ErrorCode.INVALID_GROUP_ID));
    if (this.closed) return Promise.resolve(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    const group = this.groups.get(p.groupId);
    if (!group) return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    if (group.is('Dead')) return Promise.resolve(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    let error = this.validateCurrentMember(group, p.memberId, p.groupInstanceId);
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
          this.removePendingSyncMember(group, p.memberId);
          if (group.isLeader(p.memberId)) {
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
            this.propagateAssignment(group, ErrorCode.NONE);
            this.transition(group, 'Stable');
          }
        });
      case 'Stable': {
        this.removePendingSyncMember(group, p.memberId);
        const member = group.members.get(p.memberId)!;
        const result: SyncGroupResult = {
          errorCode: ErrorCode.NONE,
          protocolType: group.protocolType,
          protocolName: group.protocolName,
          assignment: member.assignment,
        };
        this.scheduleHeartbeat(group, member, member.sessionTimeoutMs);
        return Promise.resolve(result);
      }
      case 'Dead':
        return Promise.resolve(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    }
  }

  /** The Heartbeat error code. */
  heartbeat(p: HeartbeatParams): number {
    if (p.groupId === '') return ErrorCode.INVALID_GROUP_ID;
    if (this.closed) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const group = this.groups.get(p.groupId);
    if (!group) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const error = this.validateCurrentMember(group, p.memberId, p.groupInstanceId);
    if (error !== ErrorCode.NONE) return error;
    if (p.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    const member = group.members.get(p.memberId)!;
    switch (group.state) {
      case 'Empty':
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case 'CompletingRebalance':
      case 'Stable':
        // Consumers may heartbeat between their JoinGroup response and SyncGroup: a normal heartbeat.
        this.heartbeatReceived(group, member);
        return ErrorCode.NONE;
      case 'PreparingRebalance':
        this.heartbeatReceived(group, member);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      default:
        return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
  }

  private heartbeatReceived(group: Group, member: Member): void {
    member.heartbeatSatisfied = true;
    this.scheduleHeartbeat(group, member, member.sessionTimeoutMs);
  }

  /** LeaveGroup: v0-2 name one member id, v3+ several members (by member id or group.instance.id). */
  leaveGroup(groupId: string, leaving: readonly LeavingMember[]): LeaveGroupResult {
    if (groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, members: [] };
    if (this.closed) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
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
        this.removePendingMemberAndUpdateGroup(group, l.memberId);
        this.logger.info('pending member left the group', { groupId, memberId: l.memberId });
        answer(ErrorCode.NONE);
      } else {
        const error = this.validateCurrentMember(group, l.memberId, l.groupInstanceId);
        if (error === ErrorCode.NONE) this.removeCurrentMember(group, l.memberId, reason);
        answer(error);
      }
    }
    return { errorCode: ErrorCode.NONE, members };
  }

  private removeCurrentMember(group: Group, memberId: string, reason: string): void {
    const member = group.members.get(memberId)!;
    this.logger.info('member left the group', { groupId: group.groupId, memberId, clientReason: reason });
    this.removeMemberAndUpdateGroup(
      group,
      member,
      `removing member ${memberId} on LeaveGroup; client reason: ${reason}`,
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Offsets

  /**
   * OffsetCommit. Partitions that do not exist get UNKNOWN_TOPIC_OR_PARTITION; the others share the
   * group's verdict (generation and membership checks), then each is checked and stored.
   */
  async commitOffsets(p: CommitOffsetsParams): Promise<TopicErrors[]> {
    const response: TopicErrors[] = p.topics.map((t) => ({ name: t.name, partitions: [] }));
    const valid: { topic: string; part: CommitPartition; out: PartitionError }[] = [];
    p.topics.forEach((t, i) => {
      for (const part of t.partitions) {
        const out: PartitionError = { partitionIndex: part.partitionIndex, errorCode: ErrorCode.NONE };
        response[i]!.partitions.push(out);
        if (this.partitionExists(t.name, part.partitionIndex)) valid.push({ topic: t.name, part, out });
        else out.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      }
    });
    if (valid.length === 0) return response;
    const verdict = this.closed ? ErrorCode.COORDINATOR_NOT_AVAILABLE : this.validateOffsetCommit(p);
    if (typeof verdict === 'number') {
      for (const v of valid) v.out.errorCode = verdict;
      return response;
    }
    const group = verdict;
    const now = this.now();
    const records: CommittedOffset[] = [];
    const stored: PartitionError[] = [];
    for (const { topic, part, out } of valid) {
      if (part.committedMetadata !== null && part.committedMetadata.length > OFFSET_METADATA_MAX_SIZE) {
        out.errorCode = ErrorCode.OFFSET_METADATA_TOO_LARGE;
        continue;
      }
      records.push({
        topic,
        partition: part.partitionIndex,
        offset: part.committedOffset,
        leaderEpoch: part.committedLeaderEpoch,
        // Kafka stores a null metadata as "" (OffsetAndMetadata.NoMetadata).
        metadata: part.committedMetadata ?? '',
        commitTimestamp:
          part.commitTimestamp !== undefined && part.commitTimestamp >= 0 ? part.commitTimestamp : now,
      });
      stored.push(out);
    }
    if (records.length === 0) return response;
    try {
      await this.write(group, async () => {
        await this.storage.commitOffsets(group.groupId, records);
        for (const r of records) group.offsets.set(offsetKey(r.topic, r.partition), r);
      });
    } catch (e) {
      const code = storageErrorCode(e);
      this.logger.warn('storing committed offsets failed', { groupId: group.groupId, error: e });
      for (const out of stored) out.errorCode = code;
    }
    return response;
  }

  /** The group to commit to, or the error every partition gets. */
  private validateOffsetCommit(p: CommitOffsetsParams): Group | number {
    let group = this.groups.get(p.groupId);
    if (!group) {
      if (p.generationId >= 0) {
        // A member of a generation of a group that does not exist (any more).
        return p.apiVersion >= 9 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION;
      }
      // Outside group management (simple consumer, admin client): a "simple" group is created.
      this.logger.info('creating simple consumer group via manual offset commit', { groupId: p.groupId });
      group = this.addGroup(p.groupId);
    }
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (p.generationId < 0 && group.is('Empty')) return group;
    if (p.generationId >= 0 || p.memberId !== '' || p.groupInstanceId !== null) {
      const error = this.validateCurrentMember(group, p.memberId, p.groupInstanceId);
      if (error !== ErrorCode.NONE) return error;
      if (p.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    } else if (!group.is('Empty')) {
      // Without member id and generation, only an empty group takes commits.
      return ErrorCode.UNKNOWN_MEMBER_ID;
    }
    // The member has the generation of its JoinGroup response but not its assignment yet.
    if (group.is('CompletingRebalance')) return ErrorCode.REBALANCE_IN_PROGRESS;
    // A commit keeps the member's session alive (PreparingRebalance included: the heartbeat tells it to rejoin).
    if (group.is('Stable') || group.is('PreparingRebalance')) {
      const member = group.members.get(p.memberId);
      if (member) this.heartbeatReceived(group, member);
    }
    return group;
  }

  /**
   * OffsetFetch of one group: the given partitions (-1 for those without a commit), or with `topics`
   * null every committed partition. Waits for the group's pending commits first, so a client reads
   * what it committed.
   */
  async fetchOffsets(
    groupId: string,
    topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null,
  ): Promise<FetchOffsetsResult> {
    const pending = this.groups.get(groupId);
    if (pending) await pending.writes;
    const group = this.groups.get(groupId);
    const offsets = group && !group.is('Dead') ? group.offsets : undefined;
    const fetched = (o: CommittedOffset | undefined, partitionIndex: number): FetchedPartition =>
      o === undefined
        ? {
            partitionIndex,
            committedOffset: -1,
            committedLeaderEpoch: -1,
            metadata: '',
            errorCode: ErrorCode.NONE,
          }
        : {
            partitionIndex,
            committedOffset: o.offset,
            committedLeaderEpoch: o.leaderEpoch,
            metadata: o.metadata ?? '',
            errorCode: ErrorCode.NONE,
          };
    if (topics !== null) {
      return {
        errorCode: ErrorCode.NONE,
        topics: topics.map((t) => ({
          name: t.name,
          partitions: t.partitionIndexes.map((p) => fetched(offsets?.get(offsetKey(t.name, p)), p)),
        })),
      };
    }
    const byTopic = new Map<string, FetchedPartition[]>();
    const all = [...(offsets?.values() ?? [])].sort((a, b) =>
      a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition,
    );
    for (const o of all) {
      const list = byTopic.get(o.topic) ?? [];
      if (list.length === 0) byTopic.set(o.topic, list);
      list.push(fetched(o, o.partition));
    }
    return {
      errorCode: ErrorCode.NONE,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    };
  }

  /** The committed offsets of a group (cached), or an empty list. */
  committedOffsets(groupId: string): CommittedOffset[] {
    return [...(this.groups.get(groupId)?.offsets.values() ?? [])].map((o) => ({ ...o }));
  }

  /**
   * OffsetDelete: removes a group's committed offsets for the given partitions, except for topics a
   * live consumer group subscribes to (GROUP_SUBSCRIBED_TO_TOPIC).
   */
  async deleteOffsets(
    groupId: string,
    topics: readonly { name: string; partitions: readonly number[] }[],
  ): Promise<OffsetDeleteResult> {
    if (groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, topics: [] };
    const group = this.groups.get(groupId);
    if (!group || group.is('Dead')) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, topics: [] };
    if (!group.is('Empty') && !group.isConsumerGroup)
      return { errorCode: ErrorCode.NON_EMPTY_GROUP, topics: [] };
    const response: TopicErrors[] = [];
    const toDelete: { tp: TopicPartition; out: PartitionError }[] = [];
    for (const t of topics) {
      const partitions: PartitionError[] = [];
      response.push({ name: t.name, partitions });
      for (const p of t.partitions) {
        const out: PartitionError = { partitionIndex: p, errorCode: ErrorCode.NONE };
        partitions.push(out);
        if (!this.partitionExists(t.name, p)) out.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else if (group.isSubscribedToTopic(t.name)) out.errorCode = ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC;
        else if (group.offsets.has(offsetKey(t.name, p)))
          toDelete.push({ tp: { topic: t.name, partition: p }, out });
      }
    }
    if (toDelete.length > 0) {
      const tps = toDelete.map((d) => d.tp);
      try {
        await this.write(group, async () => {
          await this.storage.deleteOffsets(groupId, tps);
          for (const tp of tps) group.offsets.delete(offsetKey(tp.topic, tp.partition));
        });
        this.logger.info('offsets of group deleted', { groupId, partitions: tps.length });
      } catch (e) {
        const code = storageErrorCode(e);
        this.logger.warn('deleting offsets failed', { groupId, error: e });
        for (const d of toDelete) d.out.errorCode = code;
      }
    }
    return { errorCode: ErrorCode.NONE, topics: response };
  }

  /** Drops the cached offsets of a deleted topic (storage removed them with the topic). */
  removeTopicOffsets(topic: string): void {
    for (const group of this.groups.values()) {
      for (const [key, o] of group.offsets) if (o.topic === topic) group.offsets.delete(key);
    }
  }

  /**
   * One pass of offset expiration (offsets.retention.minutes), as Kafka runs every
   * offsets.retention.check.interval.ms: offsets of an Empty group expire `offsetsRetentionMs` after
   * the group became empty; those of a group without protocol type (simple consumers) or of topics a
   * Stable consumer group no longer subscribes to, that long after their commit. Empty groups left
   * without offsets are removed.
   */
  expireOffsets(): Promise<void> {
    this.expiring ??= this.runExpiration().finally(() => {
      this.expiring = undefined;
    });
    return this.expiring;
  }

  private async runExpiration(): Promise<void> {
    const retention = this.config.offsetsRetentionMs;
    for (const group of [...this.groups.values()]) {
      if (this.closed) return;
      if (group.is('Dead') || this.groups.get(group.groupId) !== group) continue;
      let base: ((o: CommittedOffset) => number) | null = null;
      if (group.protocolType === null) base = (o) => o.commitTimestamp;
      else if (group.is('Empty')) base = (o) => group.stateTimestamp ?? o.commitTimestamp;
      else if (group.isConsumerGroup && group.subscribedTopics !== null && group.is('Stable'))
        base = (o) => o.commitTimestamp;
      if (base === null) continue;
      const now = this.now();
      const expired: CommittedOffset[] = [];
      let allExpired = true;
      for (const o of group.offsets.values()) {
        if (!group.isSubscribedToTopic(o.topic) && now - base(o) >= retention) expired.push(o);
        else allExpired = false;
      }
      if (expired.length > 0) {
        const tps = expired.map((o) => ({ topic: o.topic, partition: o.partition }));
        try {
          await this.write(group, async () => {
            await this.storage.deleteOffsets(group.groupId, tps);
            for (const o of expired) {
              const key = offsetKey(o.topic, o.partition);
              // A commit that arrived meanwhile stays.
              if (group.offsets.get(key) === o) group.offsets.delete(key);
            }
          });
          this.logger.info('expired offsets of group removed', {
            groupId: group.groupId,
            partitions: tps.length,
          });
        } catch (e) {
          this.logger.warn('removing expired offsets failed', { groupId: group.groupId, error: e });
          continue;
        }
      }
      if (
        allExpired &&
        group.is('Empty') &&
        group.offsets.size === 0 &&
        group.pendingMembers.size === 0 &&
        this.groups.get(group.groupId) === group
      ) {
        this.transition(group, 'Dead');
        this.removeGroup(group);
        this.logger.info('empty group without offsets removed', { groupId: group.groupId });
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // DescribeGroups, ListGroups, DeleteGroups

  describeGroup(groupId: string): DescribedGroup {
    const group = this.groups.get(groupId);
    if (!group) {
      // DescribeGroups v0-5 describe an unknown group as Dead, without error.
      return {
        errorCode: ErrorCode.NONE,
        groupId,
        groupState: 'Dead',
        protocolType: '',
        protocolData: '',
        members: [],
      };
    }
    const stable = group.is('Stable') && group.protocolName !== null;
    const protocol = group.protocolName ?? '';
    return {
      errorCode: ErrorCode.NONE,
      groupId,
      groupState: group.state,
      protocolType: group.protocolType ?? '',
      protocolData: stable ? protocol : '',
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        // Metadata and assignment are shown for a Stable group only, as Kafka does.
        memberMetadata: stable ? m.metadata(protocol) : EMPTY_BYTES,
        memberAssignment: stable ? m.assignment : EMPTY_BYTES,
      })),
    };
  }

  /**
   * ListGroups, filtered by state (case-insensitive; empty: all) and by type (only "classic" groups
   * exist here; empty: all).
   */
  listGroups(statesFilter: readonly string[] = [], typesFilter: readonly string[] = []): ListedGroup[] {
    const states = new Set(statesFilter.map((s) => s.toLowerCase()));
    if (typesFilter.length > 0 && !typesFilter.some((t) => t.toLowerCase() === 'classic')) return [];
    const out: ListedGroup[] = [];
    for (const g of this.groups.values()) {
      if (states.size > 0 && !states.has(g.state.toLowerCase())) continue;
      out.push({
        groupId: g.groupId,
        protocolType: g.protocolType ?? '',
        groupState: g.state,
        groupType: 'classic',
      });
    }
    return out;
  }

  /** DeleteGroups: removes Empty groups and their committed offsets. */
  async deleteGroups(groupIds: readonly string[]): Promise<{ groupId: string; errorCode: number }[]> {
    const unique = [...new Set(groupIds)];
    const results = new Map<string, number>();
    const eligible: Group[] = [];
    for (const groupId of unique) {
      const group = this.groups.get(groupId);
      if (!group || group.is('Dead')) results.set(groupId, ErrorCode.GROUP_ID_NOT_FOUND);
      else if (!group.is('Empty')) results.set(groupId, ErrorCode.NON_EMPTY_GROUP);
      else {
        // Dead at once: joins and commits meanwhile get COORDINATOR_NOT_AVAILABLE and retry.
        this.transition(group, 'Dead');
        eligible.push(group);
      }
    }
    await Promise.all(
      eligible.map(async (group) => {
        try {
          await this.write(group, () => this.storage.deleteOffsets(group.groupId));
          group.offsets.clear();
          this.removeGroup(group);
          results.set(group.groupId, ErrorCode.NONE);
          this.logger.info('group deleted', { groupId: group.groupId });
        } catch (e) {
          // The offsets are still stored: the group stays, Empty as before.
          group.state = 'Empty';
          this.emitChange(group);
          results.set(group.groupId, storageErrorCode(e));
          this.logger.warn('deleting group offsets failed', { groupId: group.groupId, error: e });
        }
      }),
    );
    return unique.map((groupId) => ({ groupId, errorCode: results.get(groupId)! }));
  }

  // ---------------------------------------------------------------------------------------------
  // Introspection (tests, CLI)

  /** The group's state, generation and members; undefined for an unknown group. */
  groupInfo(groupId: string):
    | {
        state: GroupState;
        generationId: number;
        protocolType: string | null;
        protocolName: string | null;
        leaderId: string | null;
        members: { memberId: string; groupInstanceId: string | null; clientId: string }[];
        pendingMembers: string[];
      }
    | undefined {
    const g = this.groups.get(groupId);
    if (!g) return undefined;
    return {
      state: g.state,
      generationId: g.generationId,
      protocolType: g.protocolType,
      protocolName: g.protocolName,
      leaderId: g.leaderId,
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
      })),
      pendingMembers: [...g.pendingMembers],
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  private addGroup(groupId: string): Group {
    const group = new Group(groupId, this.now());
    this.groups.set(groupId, group);
    return group;
  }

  private removeGroup(group: Group): void {
    if (this.groups.get(group.groupId) === group) this.groups.delete(group.groupId);
    this.clearTimer(group.joinTimer);
    this.clearTimer(group.syncTimer);
    group.joinTimer = undefined;
    group.syncTimer = undefined;
    group.pendingMembers.clear();
  }

  private transition(group: Group, state: GroupState): void {
    group.transitionTo(state, this.now());
    this.emitChange(group);
  }

  private emitChange(group: Group): void {
    this.events.emit('group-change', {
      groupId: group.groupId,
      state: group.state,
      generationId: group.generationId,
      members: group.size,
    });
  }

  /** Runs `op` after the group's earlier writes; rejects with its error, never breaks the chain. */
  private write<T>(group: Group, op: () => Promise<T>): Promise<T> {
    const result = group.writes.then(op);
    group.writes = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private setTimer(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(
      () => {
        this.timers.delete(t);
        if (this.closed) return;
        try {
          fn();
        } catch (e) {
          this.logger.error('group coordinator timer failed', { error: e });
          this.events.emit('error', e as Error, { component: 'group-coordinator' });
        }
      },
      Math.max(0, ms),
    );
    t.unref?.();
    this.timers.add(t);
    return t;
  }

  private clearTimer(t: NodeJS.Timeout | undefined): void {
    if (t === undefined) return;
    clearTimeout(t);
    this.timers.delete(t);
  }
}
