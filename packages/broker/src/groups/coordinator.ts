/**
 * The group coordinator: every consumer group this broker coordinates. Membership and rebalancing
 * live in broker memory (classic protocol), committed offsets go through storage.
 *
 * This follows Apache Kafka's coordinator closely: GroupCoordinator.scala / GroupMetadata.scala (up to
 * 3.9) and their Java successor in Kafka 4, whose layout it takes too. This class is the façade the
 * handlers and the broker use (Kafka 4's GroupCoordinatorService with its shard): it checks what
 * every request must pass first (a group id, an active coordinator), routes each request to the side
 * that answers it, and runs what needs both sides (deleting groups, the offset expiration cycle):
 * - membership (GroupMetadataManager): registry.ts holds the groups; classic/ is the classic
 *   protocol, a group's state (group.ts), JoinGroup (join.ts), the rebalance phases and sessions
 *   (rebalance.ts), SyncGroup, Heartbeat and LeaveGroup (members.ts), the admin views (views.ts).
 *   KIP-848 consumer groups sit beside it in consumer/: their store (groups.ts, sharing group ids
 *   with the classic registry), ConsumerGroupHeartbeat (heartbeat.ts), the member reconciliation
 *   (reconcile.ts), the server-side assignors (assignors.ts), the classic members of consumer
 *   groups (classic-members.ts) and the online migration between the two types (migration.ts);
 * - committed offsets (OffsetMetadataManager): offsets.ts, for groups of any protocol; transactional
 *   offset commits are to join it there.
 * Where Kafka 3 and 4 differ, Kafka 4 wins; the places are marked. Kafka's purgatories become timers
 * (timers.ts; the phases that use them are listed in classic/rebalance.ts); a pending member id
 * (MEMBER_ID_REQUIRED, KIP-394) expires after the session timeout.
 *
 * No event queue per group (franz-go kfake runs one goroutine per group). kfake needs it because Go
 * runs handlers and timers in parallel; here every request and every timer callback runs to
 * completion on one thread, so a group is never changed by two at once. The races left are stale
 * timers, which fire after the phase they were armed for ended; a queue would deliver them just as
 * stale. They are handled as Kafka's purgatory handles them: a timer is cancelled when its phase ends
 * and checks on firing that the state it was armed for still holds (the generation, the member
 * object, the group state). The one place where a group's work interleaves with I/O, its storage
 * writes, already runs through a queue of its own (offsets.ts). A queue around everything else would
 * only add an asynchronous turn before answers that are immediate today (a heartbeat, a rejoin to a
 * Stable group) and move the order in which parked requests are answered.
 *
 * Kafka persists group metadata (members, assignments) in __consumer_offsets; kch keeps it in memory
 * only, so after a restart members rejoin as they do after a coordinator failover. Committed offsets
 * are persisted through storage and cached; groups that have offsets come back after a restart as
 * Empty groups without a protocol type (as groups known only by their offsets do in Kafka).
 */
import { ErrorCode } from '@kch/protocol';
import type { CommittedOffset, Storage } from '@kch/storage';
import type { EventEmitter } from 'eventemitter3';
import type { LeaseCheck } from '../cluster/membership.js';
import type { BrokerEvents } from '../events.js';
import type { Logger } from '../logger.js';
import type { BrokerConfig } from '../options.js';
import {
  type ClassicGroup,
  type JoinGroupResult,
  joinError,
  type SyncGroupResult,
  syncError,
} from './classic/group.js';
import { ClassicJoin, DEFAULT_NEW_MEMBER_JOIN_TIMEOUT_MS, type JoinGroupParams } from './classic/join.js';
import {
  ClassicMembers,
  type HeartbeatParams,
  type LeaveGroupResult,
  type LeavingMember,
  type SyncGroupParams,
} from './classic/members.js';
import { ClassicRebalancer } from './classic/rebalance.js';
import {
  type DescribedGroup,
  describeGroup,
  type GroupInfo,
  groupInfo,
  type ListedGroup,
  listGroups,
} from './classic/views.js';
import { ClassicMembersOfConsumerGroups } from './consumer/classic-members.js';
import { ConsumerGroups, type DescribedConsumerGroup } from './consumer/groups.js';
import {
  type HeartbeatParams as ConsumerHeartbeatParams,
  type HeartbeatResult as ConsumerHeartbeatResult,
  ConsumerHeartbeats,
  heartbeatError,
  type TopicsView,
} from './consumer/heartbeat.js';
import { GroupMigration } from './consumer/migration.js';
import { groupSlot } from './group-slots.js';
import {
  type CommitOffsetsParams,
  type FetchOffsetsResult,
  type OffsetDeleteResult,
  OffsetManager,
  storageErrorCode,
  type TopicErrors,
} from './offsets.js';
import { GroupRegistry } from './registry.js';
import { CoordinatorTimers } from './timers.js';

export type {
  GroupState,
  JoinGroupMember,
  JoinGroupResult,
  Protocol,
  SyncGroupResult,
} from './classic/group.js';
export { GROUP_STATES } from './classic/group.js';
export { clientHostOf, DEFAULT_NEW_MEMBER_JOIN_TIMEOUT_MS, type JoinGroupParams } from './classic/join.js';
export type { HeartbeatParams, LeaveGroupResult, LeavingMember, SyncGroupParams } from './classic/members.js';
export type { DescribedGroup, DescribedMember, GroupInfo, ListedGroup } from './classic/views.js';
export type { DescribedConsumerGroup } from './consumer/groups.js';
export { heartbeatError } from './consumer/heartbeat.js';
export {
  type CommitOffsetsParams,
  type CommitPartition,
  type FetchedPartition,
  type FetchOffsetsResult,
  OFFSET_METADATA_MAX_SIZE,
  type OffsetDeleteResult,
  type PartitionError,
  type TopicErrors,
} from './offsets.js';
export type { ConsumerHeartbeatParams, ConsumerHeartbeatResult };

/** The broker settings the coordinator uses. */
export type GroupCoordinatorConfig = Pick<
  BrokerConfig,
  | 'groupMinSessionTimeoutMs'
  | 'groupMaxSessionTimeoutMs'
  | 'groupInitialRebalanceDelayMs'
  | 'groupMaxSize'
  | 'offsetsRetentionMs'
  | 'consumerGroupSessionTimeoutMs'
  | 'consumerGroupHeartbeatIntervalMs'
  | 'consumerGroupMaxSize'
  | 'consumerGroupAssignors'
  | 'consumerGroupMigrationPolicy'
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
  topics?: {
    log(topic: string, partition: number): unknown;
    /** With `list`: the topics consumer groups subscribe to (none without). */
    get?(name: string): { record: { topicId: string }; logs: readonly unknown[] } | undefined;
    list?(): { record: { name: string } }[];
    getById?(topicId: string): { record: { name: string } } | undefined;
  };
  /** How often expired offsets and empty groups are cleaned up (offsets.retention.check.interval.ms). */
  offsetsRetentionCheckIntervalMs?: number;
  /** How long a new member's JoinGroup may wait for the rebalance (group.classic.new.member.join.timeout.ms). */
  newMemberJoinTimeoutMs?: number;
  /** Clock, in ms since the epoch (tests). */
  now?: () => number;
  /**
   * Several brokers share the data (../cluster/leadership.ts): from the start this broker coordinates
   * only the slots it takes, so `start` loads no group (each is loaded by the holder of its slot).
   */
  sharedSlots?: boolean;
}

/** Kafka's offsets.retention.check.interval.ms default. */
export const DEFAULT_OFFSETS_RETENTION_CHECK_INTERVAL_MS = 600_000;

/** GroupCoordinator.stats: counts of what the coordinator holds. */
export interface CoordinatorStats {
  groups: number;
  members: number;
  pendingMembers: number;
  groupsWithOffsets: number;
  timers: number;
}

export class GroupCoordinator {
  private readonly logger: Logger;
  private readonly events: EventEmitter<BrokerEvents>;
  private readonly retentionCheckIntervalMs: number;

  private readonly timers: CoordinatorTimers;
  private readonly groups: GroupRegistry;
  private readonly join: ClassicJoin;
  private readonly members: ClassicMembers;
  private readonly offsets: OffsetManager;
  private readonly consumerGroups: ConsumerGroups;
  private readonly heartbeats: ConsumerHeartbeats;
  /** JoinGroup, SyncGroup, Heartbeat and LeaveGroup of classic members of consumer groups. */
  private readonly classicInConsumer: ClassicMembersOfConsumerGroups;
  private readonly topicName: (topicId: string) => string;

  private retentionTimer: NodeJS.Timeout | undefined;
  private expiring: Promise<void> | undefined;
  private started = false;
  /** Set by close: requests are refused with COORDINATOR_NOT_AVAILABLE, as by an inactive Kafka coordinator. */
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly onTopicDeleted = (info: { topic: string }) => this.removeTopicOffsets(info.topic);
  /**
   * Set when several brokers share the data: the coordinator slots (../group-slots.ts) this broker
   * holds, whose groups it coordinates; the others' get NOT_COORDINATOR. Unset: every group.
   */
  private slots: Set<number> | undefined;
  /** With slots: whether this broker still holds its registration (commits are answered only then). */
  private lease: LeaseCheck | undefined;

  constructor(options: GroupCoordinatorOptions) {
    const { config, storage, logger, events, topics } = options;
    this.logger = logger;
    this.events = events;
    let partitionExists = options.partitionExists;
    if (!partitionExists && topics) partitionExists = (t, p) => topics.log(t, p) !== undefined;
    if (!partitionExists) throw new Error('GroupCoordinator needs partitionExists or topics');
    this.retentionCheckIntervalMs =
      options.offsetsRetentionCheckIntervalMs ?? DEFAULT_OFFSETS_RETENTION_CHECK_INTERVAL_MS;
    const now = options.now ?? Date.now;
    if (options.sharedSlots) this.slots = new Set();

    this.timers = new CoordinatorTimers(logger, events);
    this.groups = new GroupRegistry(events, this.timers, now);
    const rebalancer = new ClassicRebalancer(config, this.groups, this.timers, logger);
    this.join = new ClassicJoin(
      config,
      this.groups,
      rebalancer,
      this.timers,
      logger,
      options.newMemberJoinTimeoutMs ?? DEFAULT_NEW_MEMBER_JOIN_TIMEOUT_MS,
    );
    this.members = new ClassicMembers(this.groups, rebalancer, logger);
    this.consumerGroups = new ConsumerGroups(this.groups, events);
    const topicsView: TopicsView = {
      byName: (name) => {
        const t = topics?.get?.(name);
        return t && { topicId: t.record.topicId, partitions: t.logs.length };
      },
      names: () => (topics?.list?.() ?? []).map((t) => t.record.name),
      nameOf: (topicId) => topics?.getById?.(topicId)?.record.name,
    };
    this.topicName = (topicId) => topics?.getById?.(topicId)?.record.name ?? '';
    this.heartbeats = new ConsumerHeartbeats(config, this.consumerGroups, topicsView, this.timers, logger);
    this.heartbeats.migrations = new GroupMigration(
      config,
      this.groups,
      rebalancer,
      this.consumerGroups,
      this.heartbeats,
      topicsView,
      logger,
    );
    this.classicInConsumer = new ClassicMembersOfConsumerGroups(
      config,
      this.consumerGroups,
      this.heartbeats,
      topicsView,
      this.timers,
      logger,
    );
    this.offsets = new OffsetManager({
      config,
      storage,
      logger,
      groups: this.groups,
      partitionExists,
      validateCommit: (p) =>
        this.closed
          ? ErrorCode.COORDINATOR_NOT_AVAILABLE
          : !this.coordinates(p.groupId) || (this.lease && !this.lease.held())
            ? ErrorCode.NOT_COORDINATOR
            : this.validateOffsetCommit(p),
      now,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  /**
   * Loads what storage knows (groups with committed offsets) and starts offset expiration. With
   * shared slots nothing is loaded here: the slots' holders load their groups (`takeSlots`).
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (!this.slots) await this.offsets.load();
    this.events.on('topic-deleted', this.onTopicDeleted);
    this.retentionTimer = setInterval(() => void this.expireOffsets(), this.retentionCheckIntervalMs);
    this.retentionTimer.unref?.();
    this.logger.info('group coordinator started', { groupsWithOffsets: this.groups.size });
  }

  /** Whether this broker coordinates the group: always alone; with several, when it holds its slot. */
  coordinates(groupId: string): boolean {
    return this.holdsSlot(groupSlot(groupId));
  }

  /**
   * Several brokers share the data from now on: this one coordinates only the slots it takes
   * (`takeSlots`, which first lets go of whatever of a slot's groups is here), and answers commits
   * only while `lease` holds.
   */
  shareSlots(lease: LeaseCheck): void {
    this.slots ??= new Set();
    this.lease = lease;
  }

  /** Whether this broker coordinates the slot's groups now (always, when it is alone). */
  holdsSlot(slot: number): boolean {
    return !this.slots || this.slots.has(slot);
  }

  /**
   * Coordinates the slots' groups from now on, from their offsets as stored. Slots won together
   * (one look at the cluster) are loaded together: storage lists the groups with offsets once.
   */
  async takeSlots(slots: readonly number[]): Promise<void> {
    const held = this.slots;
    if (!held) return;
    const taking = new Set(slots.filter((slot) => !held.has(slot)));
    if (taking.size === 0) return;
    // What a previous holder of a slot left here (a slot given up and taken back) is stale.
    for (const group of [...this.groups.values()])
      if (taking.has(groupSlot(group.groupId))) this.unload(group);
    this.unloadConsumerGroups((slot) => taking.has(slot));
    await this.offsets.load((groupId) => taking.has(groupSlot(groupId)));
    for (const slot of taking) held.add(slot);
  }

  /**
   * Stops coordinating the slot's groups: their members' parked requests are answered
   * NOT_COORDINATOR (they find the new coordinator and join there), and their offset writes settle.
   */
  async giveSlot(slot: number): Promise<void> {
    if (!this.slots?.delete(slot)) return;
    const writes: Promise<void>[] = [];
    for (const group of [...this.groups.values()]) {
      if (groupSlot(group.groupId) !== slot) continue;
      writes.push(this.offsets.writesOf(group.groupId));
      this.unload(group);
    }
    this.unloadConsumerGroups((s) => s === slot);
    await Promise.all(writes);
  }

  /** Forgets the consumer groups of the slots: their members' next heartbeat gets NOT_COORDINATOR. */
  private unloadConsumerGroups(inSlot: (slot: number) => boolean): void {
    for (const group of [...this.consumerGroups.values()]) {
      if (!inSlot(groupSlot(group.groupId))) continue;
      for (const member of [...group.members.values()]) this.heartbeats.removeMember(group, member, false);
      this.consumerGroups.remove(group.groupId);
    }
  }

  /** Forgets a group this broker no longer coordinates, answering what its members wait for. */
  private unload(group: ClassicGroup): void {
    for (const member of group.members.values()) {
      group.invokeJoin(member, joinError(member.memberId, ErrorCode.NOT_COORDINATOR));
      group.invokeSync(member, syncError(ErrorCode.NOT_COORDINATOR));
      this.timers.cancel(member.heartbeatTimer);
      member.heartbeatTimer = undefined;
    }
    this.removeGroup(group);
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
    this.timers.stop();
    for (const group of this.groups.values()) {
      for (const member of group.members.values()) {
        group.invokeJoin(member, joinError(member.memberId, ErrorCode.NOT_COORDINATOR));
        group.invokeSync(member, syncError(ErrorCode.NOT_COORDINATOR));
      }
    }
    const writes = this.offsets.pendingWrites();
    if (this.expiring) writes.push(this.expiring);
    await Promise.all(writes);
  }

  // ---------------------------------------------------------------------------------------------
  // Membership (classic protocol)

  /** Resolves when the member's join completes: at once, or when the rebalance completes. */
  joinGroup(p: JoinGroupParams): Promise<JoinGroupResult> {
    if (p.groupId === '') return Promise.resolve(joinError(p.memberId, ErrorCode.INVALID_GROUP_ID));
    if (this.closed) return Promise.resolve(joinError(p.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!this.coordinates(p.groupId))
      return Promise.resolve(joinError(p.memberId, ErrorCode.NOT_COORDINATOR));
    const consumer = this.consumerGroups.get(p.groupId);
    if (consumer) {
      // A consumer group with members takes classic members (whatever the migration policy, as
      // Kafka); an empty one is replaced by a classic group.
      if (consumer.members.size > 0) return Promise.resolve(this.classicInConsumer.join(consumer, p));
      this.consumerGroups.remove(p.groupId);
    }
    return this.join.joinGroup(p);
  }

  // ---------------------------------------------------------------------------------------------
  // Membership (KIP-848 consumer protocol)

  /** ConsumerGroupHeartbeat: join, heartbeat or leave of a consumer group member. */
  consumerGroupHeartbeat(p: ConsumerHeartbeatParams): ConsumerHeartbeatResult {
    if (this.closed) return heartbeatError(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (p.groupId !== '' && !this.coordinates(p.groupId)) return heartbeatError(ErrorCode.NOT_COORDINATOR);
    return this.heartbeats.heartbeat(p);
  }

  /** ConsumerGroupDescribe of one group: GROUP_ID_NOT_FOUND for a classic or unknown one. */
  consumerGroupDescribe(groupId: string): DescribedConsumerGroup {
    const described = this.consumerGroups.describe(groupId, this.topicName);
    if (!this.coordinates(groupId))
      return { ...described, errorCode: ErrorCode.NOT_COORDINATOR, errorMessage: null };
    return described;
  }

  /** OffsetCommit's group verdict: a consumer group checks member epochs, a classic one generations. */
  private validateOffsetCommit(p: CommitOffsetsParams) {
    const consumer = this.consumerGroups.get(p.groupId);
    if (!consumer) return this.members.validateOffsetCommit(p);
    const error = this.consumerGroups.validateOffsetCommit(consumer, p);
    // The offsets are held under an empty classic entry of the group id (consumer/groups.ts).
    return error !== ErrorCode.NONE ? error : this.groups.addLoaded(p.groupId);
  }

  /** Resolves with the member's assignment: at once, or when the leader's SyncGroup arrives. */
  syncGroup(p: SyncGroupParams): Promise<SyncGroupResult> {
    if (p.groupId === '') return Promise.resolve(syncError(ErrorCode.INVALID_GROUP_ID));
    if (this.closed) return Promise.resolve(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!this.coordinates(p.groupId)) return Promise.resolve(syncError(ErrorCode.NOT_COORDINATOR));
    const consumer = this.consumerGroups.get(p.groupId);
    if (consumer) return Promise.resolve(this.classicInConsumer.sync(consumer, p));
    return this.members.syncGroup(p);
  }

  /** The Heartbeat error code. */
  heartbeat(p: HeartbeatParams): number {
    if (p.groupId === '') return ErrorCode.INVALID_GROUP_ID;
    if (this.closed) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (!this.coordinates(p.groupId)) return ErrorCode.NOT_COORDINATOR;
    const consumer = this.consumerGroups.get(p.groupId);
    if (consumer) return this.classicInConsumer.heartbeat(consumer, p);
    return this.members.heartbeat(p);
  }

  /** LeaveGroup: v0-2 name one member id, v3+ several members (by member id or group.instance.id). */
  leaveGroup(groupId: string, leaving: readonly LeavingMember[]): LeaveGroupResult {
    if (groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, members: [] };
    if (this.closed) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    if (!this.coordinates(groupId)) return { errorCode: ErrorCode.NOT_COORDINATOR, members: [] };
    const consumer = this.consumerGroups.get(groupId);
    if (consumer) return this.classicInConsumer.leave(consumer, leaving);
    return this.members.leaveGroup(groupId, leaving);
  }

  // ---------------------------------------------------------------------------------------------
  // Offsets

  /**
   * OffsetCommit. Partitions that do not exist get UNKNOWN_TOPIC_OR_PARTITION (also from a closed
   * coordinator); the others share the group's verdict, then each is checked and stored.
   */
  commitOffsets(p: CommitOffsetsParams): Promise<TopicErrors[]> {
    return this.offsets.commit(p);
  }

  /**
   * TxnOffsetCommit's group checks (KIP-447's generation and member checks, the coordinator's own):
   * NONE when the transaction may hold offsets of the group, else the error every partition gets.
   * A group that does not exist yet is created as a simple group, as for OffsetCommit.
   */
  validateTransactionalCommit(p: Omit<CommitOffsetsParams, 'topics' | 'transactional'>): number {
    if (this.closed) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (!this.coordinates(p.groupId) || (this.lease && !this.lease.held())) return ErrorCode.NOT_COORDINATOR;
    const verdict = this.validateOffsetCommit({ ...p, topics: [], transactional: true });
    return typeof verdict === 'number' ? verdict : ErrorCode.NONE;
  }

  /** Stores the offsets a committed transaction held for a group (its markers are written). */
  commitTransactionalOffsets(groupId: string, offsets: readonly CommittedOffset[]): Promise<void> {
    return this.offsets.store(groupId, offsets, true);
  }

  /** OffsetFetch of one group; `topics` null for every committed partition. */
  fetchOffsets(
    groupId: string,
    topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null,
    member: { memberId: string | null; memberEpoch: number } = { memberId: null, memberEpoch: -1 },
  ): Promise<FetchOffsetsResult> {
    if (!this.coordinates(groupId))
      return Promise.resolve({ errorCode: ErrorCode.NOT_COORDINATOR, topics: [] });
    const consumer = this.consumerGroups.get(groupId);
    if (consumer) {
      const errorCode = this.consumerGroups.validateOffsetFetch(
        consumer,
        member.memberId,
        member.memberEpoch,
      );
      if (errorCode !== ErrorCode.NONE) return Promise.resolve({ errorCode, topics: [] });
    }
    return this.offsets.fetch(groupId, topics);
  }

  /** The committed offsets of a group (cached), or an empty list. */
  committedOffsets(groupId: string): CommittedOffset[] {
    return this.offsets.committed(groupId);
  }

  /** OffsetDelete of partitions the group does not subscribe to. */
  deleteOffsets(
    groupId: string,
    topics: readonly { name: string; partitions: readonly number[] }[],
  ): Promise<OffsetDeleteResult> {
    if (groupId === '') return Promise.resolve({ errorCode: ErrorCode.INVALID_GROUP_ID, topics: [] });
    if (!this.coordinates(groupId))
      return Promise.resolve({ errorCode: ErrorCode.NOT_COORDINATOR, topics: [] });
    return this.offsets.delete(groupId, topics);
  }

  /** Drops the cached offsets of a deleted topic (storage removed them with the topic). */
  removeTopicOffsets(topic: string): void {
    this.offsets.removeTopic(topic);
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
    for (const group of [...this.groups.values()]) {
      if (this.closed) return;
      if (group.is('Dead') || !this.groups.isCurrent(group)) continue;
      // Offsets of a consumer group with members stay, as those of a classic group with members.
      const consumer = this.consumerGroups.get(group.groupId);
      if (consumer && consumer.members.size > 0) continue;
      const allExpired = await this.offsets.removeExpired(group);
      if (
        allExpired &&
        group.is('Empty') &&
        this.offsets.count(group.groupId) === 0 &&
        group.pendingMembers.size === 0 &&
        this.groups.isCurrent(group)
      ) {
        this.groups.transition(group, 'Dead');
        this.removeGroup(group);
        if (consumer) this.consumerGroups.remove(group.groupId);
        this.logger.info('empty group without offsets removed', { groupId: group.groupId });
      }
    }
    // Empty consumer groups that never had offsets go too.
    for (const consumer of [...this.consumerGroups.values()])
      if (consumer.members.size === 0 && !this.groups.get(consumer.groupId))
        this.consumerGroups.remove(consumer.groupId);
  }

  // ---------------------------------------------------------------------------------------------
  // DescribeGroups, ListGroups, DeleteGroups

  describeGroup(groupId: string): DescribedGroup {
    if (!this.coordinates(groupId))
      return { ...describeGroup(groupId, undefined), errorCode: ErrorCode.NOT_COORDINATOR };
    // A consumer group is not a classic group: Kafka describes it as an unknown one (Dead).
    if (this.consumerGroups.get(groupId)) return describeGroup(groupId, undefined);
    return describeGroup(groupId, this.groups.get(groupId));
  }

  /** ListGroups, filtered by state and type (case-insensitive; empty: all). */
  listGroups(statesFilter: readonly string[] = [], typesFilter: readonly string[] = []): ListedGroup[] {
    const classic = [...this.groups.values()].filter((g) => !this.consumerGroups.get(g.groupId));
    return [
      ...listGroups(classic.values(), statesFilter, typesFilter),
      ...this.consumerGroups.list(statesFilter, typesFilter),
    ];
  }

  /** DeleteGroups: removes Empty groups and their committed offsets. */
  async deleteGroups(groupIds: readonly string[]): Promise<{ groupId: string; errorCode: number }[]> {
    const unique = [...new Set(groupIds)];
    const results = new Map<string, number>();
    const eligible: ClassicGroup[] = [];
    for (const groupId of unique) {
      const group = this.groups.get(groupId);
      const consumer = this.consumerGroups.get(groupId);
      if (consumer && this.coordinates(groupId)) {
        if (consumer.members.size > 0) {
          results.set(groupId, ErrorCode.NON_EMPTY_GROUP);
          continue;
        }
        this.consumerGroups.remove(groupId);
        // Its offsets, if any, are held by the classic entry deleted below.
        if (!group) {
          results.set(groupId, ErrorCode.NONE);
          continue;
        }
      }
      if (!this.coordinates(groupId)) results.set(groupId, ErrorCode.NOT_COORDINATOR);
      else if (!group || group.is('Dead')) results.set(groupId, ErrorCode.GROUP_ID_NOT_FOUND);
      else if (!group.is('Empty')) results.set(groupId, ErrorCode.NON_EMPTY_GROUP);
      else {
        // Dead at once: joins and commits meanwhile get COORDINATOR_NOT_AVAILABLE and retry.
        this.groups.transition(group, 'Dead');
        eligible.push(group);
      }
    }
    await Promise.all(
      eligible.map(async (group) => {
        try {
          await this.offsets.deleteAll(group.groupId);
          this.removeGroup(group);
          results.set(group.groupId, ErrorCode.NONE);
          this.logger.info('group deleted', { groupId: group.groupId });
        } catch (e) {
          // The offsets are still stored: the group stays, Empty as before.
          group.state = 'Empty';
          this.groups.emitChange(group);
          results.set(group.groupId, storageErrorCode(e));
          this.logger.warn('deleting group offsets failed', { groupId: group.groupId, error: e });
        }
      }),
    );
    return unique.map((groupId) => ({ groupId, errorCode: results.get(groupId)! }));
  }

  /** The group's state, generation and members (tests, CLI); undefined for an unknown group. */
  groupInfo(groupId: string): GroupInfo | undefined {
    const group = this.groups.get(groupId);
    return group && groupInfo(group);
  }

  /**
   * What the coordinator holds now, to check that nothing outlives the groups it belongs to: groups,
   * their members and pending member ids, groups with offsets in memory, and armed timers.
   */
  stats(): CoordinatorStats {
    let members = 0;
    let pendingMembers = 0;
    for (const group of this.groups.values()) {
      members += group.members.size;
      pendingMembers += group.pendingMembers.size;
    }
    return {
      groups: this.groups.size,
      members,
      pendingMembers,
      groupsWithOffsets: this.offsets.groupCount,
      timers: this.timers.size,
    };
  }

  /** The group goes, and its offsets' entry with it (storage has none of them any more). */
  private removeGroup(group: ClassicGroup): void {
    if (this.groups.remove(group)) this.offsets.forget(group.groupId);
  }
}
