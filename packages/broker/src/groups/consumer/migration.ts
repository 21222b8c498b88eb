/**
 * Kafka 4's online migration between the two group protocols, as its GroupMetadataManager does it
 * (convertToConsumerGroup, convertToClassicGroup) under `group.consumer.migration.policy`:
 * - upgrade: a member of the consumer protocol joining (ConsumerGroupHeartbeat at epoch 0) a classic
 *   group of Kafka consumers with members turns it into a consumer group. Group epoch and target
 *   epoch are the classic generation; each classic member becomes a member at that epoch, Stable,
 *   with its subscription and its classic assignment as current and target assignment, and keeps
 *   its classic session timeout and protocols (classic-members.ts serves it from then on). Parked
 *   JoinGroup and SyncGroup requests are answered REBALANCE_IN_PROGRESS; the joining member then
 *   raises the group epoch, so every classic member is told to rejoin by its next Heartbeat.
 * - downgrade: when the last member of the consumer protocol leaves or is fenced and classic members
 *   remain, the group turns back into a classic group: Stable at the group epoch, each member with
 *   its target assignment, then rebalanced ("Downgrade group X from consumer to classic.") so the
 *   members rejoin and their leader assigns again. A classic static member taking the place of the
 *   last member of the consumer protocol (its instance id) downgrades the group too, without a
 *   rebalance: it takes over that member's assignment.
 * The policy allows none, either or both. Committed offsets are untouched: they are held by the
 * classic entry of the group id whichever type the group has (groups.ts, ../offsets.ts).
 */
import { ErrorCode } from '@kch/protocol';
import type { Logger } from '../../logger.js';
import type { BrokerConfig } from '../../options.js';
import {
  type ClassicGroup,
  ClassicMember,
  CONSUMER_PROTOCOL_TYPE,
  joinError,
  syncError,
} from '../classic/group.js';
import type { ClassicRebalancer } from '../classic/rebalance.js';
import { decodeAssignment, decodeSubscription } from '../consumer-protocol.js';
import type { GroupRegistry } from '../registry.js';
import { assignmentBytes, partitionsByTopicId } from './classic-members.js';
import { ConsumerGroup, type ConsumerMember, newMember } from './group.js';
import type { ConsumerGroups } from './groups.js';
import type { ConsumerHeartbeats, GroupMigrations, TopicsView } from './heartbeat.js';

export type MigrationConfig = Pick<
  BrokerConfig,
  'consumerGroupMigrationPolicy' | 'consumerGroupMaxSize' | 'groupMaxSize'
>;

export class GroupMigration implements GroupMigrations {
  constructor(
    private readonly config: MigrationConfig,
    private readonly classic: GroupRegistry,
    private readonly rebalancer: ClassicRebalancer,
    private readonly consumerGroups: ConsumerGroups,
    private readonly heartbeats: ConsumerHeartbeats,
    private readonly topics: TopicsView,
    private readonly logger: Logger,
  ) {}

  private get upgradeEnabled(): boolean {
    const policy = this.config.consumerGroupMigrationPolicy;
    return policy === 'upgrade' || policy === 'bidirectional';
  }

  private get downgradeEnabled(): boolean {
    const policy = this.config.consumerGroupMigrationPolicy;
    return policy === 'downgrade' || policy === 'bidirectional';
  }

  /** Kafka's validateOnlineUpgrade and convertToConsumerGroup, for a join to a classic group with members. */
  upgrade(groupId: string): ConsumerGroup | { code: number; message: string } {
    const notConsumer = {
      code: ErrorCode.GROUP_ID_NOT_FOUND,
      message: `Group ${groupId} is not a consumer group`,
    };
    const classic = this.classic.get(groupId);
    if (!classic) return notConsumer;
    const refuse = (why: string) => {
      this.logger.info(`cannot upgrade classic group to consumer group: ${why}`, { groupId });
      return notConsumer;
    };
    if (!this.upgradeEnabled) return refuse('the online upgrade is disabled');
    if (!classic.isConsumerGroup) return refuse('the group does not use the consumer embedded protocol');
    const max = this.config.consumerGroupMaxSize;
    if (classic.size > max) return refuse('the group size exceeds the consumer group maximum size');
    let group: ConsumerGroup;
    try {
      group = this.fromClassicGroup(classic);
    } catch (e) {
      this.logger.warn('cannot upgrade classic group: malformed consumer protocol', { groupId, error: e });
      return {
        code: ErrorCode.GROUP_ID_NOT_FOUND,
        message: `Cannot upgrade the classic group ${groupId} to consumer group because the embedded consumer protocol is malformed.`,
      };
    }
    // Kafka converts, then refuses the joining member of a full group, which undoes the conversion.
    if (group.members.size >= max)
      return {
        code: ErrorCode.GROUP_MAX_SIZE_REACHED,
        message: `The consumer group has reached its maximum capacity of ${max} members.`,
      };

    // Requests parked in the classic rebalance are told to rejoin: the joining member starts another.
    for (const member of [...classic.members.values()]) {
      classic.invokeJoin(member, joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
      classic.invokeSync(member, syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      this.rebalancer.dropMember(classic, member.memberId);
    }
    this.classic.remove(classic);
    // An empty classic entry of the id keeps holding the group's committed offsets.
    this.classic.add(groupId);
    this.consumerGroups.adopt(group);
    for (const member of group.members.values()) this.heartbeats.scheduleSession(group, member);
    this.logger.info('classic group upgraded to a consumer group', {
      groupId,
      groupEpoch: group.groupEpoch,
      members: group.members.size,
    });
    return group;
  }

  /** Kafka's ConsumerGroup.fromClassicGroup; throws when a member's metadata or assignment does not parse. */
  private fromClassicGroup(classic: ClassicGroup): ConsumerGroup {
    const protocol = classic.protocolName;
    if (protocol === null) throw new Error(`classic group ${classic.groupId} has no protocol`);
    const group = new ConsumerGroup(classic.groupId);
    group.groupEpoch = classic.generationId;
    group.assignmentEpoch = classic.generationId;
    for (const m of classic.members.values()) {
      const assigned = partitionsByTopicId(decodeAssignment(m.assignment).assignedPartitions, this.topics);
      const subscription = decodeSubscription(m.metadata(protocol));
      const member: ConsumerMember = {
        ...newMember(m.memberId, m.groupInstanceId),
        memberEpoch: classic.generationId,
        previousMemberEpoch: classic.generationId,
        state: 'STABLE',
        rackId: subscription.rackId,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        clientId: m.clientId,
        clientHost: m.clientHost,
        subscribedTopicNames: [...subscription.topics].sort(),
        assigned,
        classic: { sessionTimeoutMs: m.sessionTimeoutMs, protocols: m.protocols },
      };
      group.members.set(member.memberId, member);
      if (member.instanceId !== null) group.staticMembers.set(member.instanceId, member.memberId);
      group.targetAssignment.set(member.memberId, copyAssignment(assigned));
    }
    return group;
  }

  /**
   * Kafka's validateOnlineDowngradeWithFencedMember and convertToClassicGroup: the fenced member was
   * the last of the consumer protocol and classic members remain. The fenced member goes with the
   * consumer group, and the classic group rebalances.
   */
  maybeDowngrade(group: ConsumerGroup, fenced: ConsumerMember): boolean {
    if (!group.allOthersUseClassicProtocol(fenced.memberId) || group.members.size <= 1) return false;
    if (!this.downgradeAllowed(group.groupId, group.members.size - 1)) return false;
    const classic = this.toClassicGroup(group, fenced.memberId);
    this.rebalancer.prepareRebalance(classic, `Downgrade group ${group.groupId} from consumer to classic.`);
    return true;
  }

  /**
   * Kafka's validateOnlineDowngradeWithReplacedMemberId, asked before a classic static member takes
   * the place of its instance id's member: whether that member is the last of the consumer protocol
   * and the group may become classic.
   */
  mayDowngradeReplacing(group: ConsumerGroup, replacedMemberId: string): boolean {
    return (
      group.allOthersUseClassicProtocol(replacedMemberId) &&
      this.downgradeAllowed(group.groupId, group.members.size)
    );
  }

  /**
   * Kafka's convertToClassicGroup with a joining member: every member is classic now, the joining one
   * with the replaced member's assignment, so the classic group is Stable without a rebalance.
   */
  downgradeReplacing(group: ConsumerGroup): void {
    this.toClassicGroup(group, null);
  }

  /** The policy allows a downgrade and the classic group would not be larger than group.max.size. */
  private downgradeAllowed(groupId: string, size: number): boolean {
    if (!this.downgradeEnabled) {
      this.logger.info('cannot downgrade consumer group to classic group: the online downgrade is disabled', {
        groupId,
      });
      return false;
    }
    if (size > this.config.groupMaxSize) {
      this.logger.info('cannot downgrade consumer group to classic group: it is larger than group.max.size', {
        groupId,
      });
      return false;
    }
    return true;
  }

  /**
   * Kafka's ClassicGroup.fromConsumerGroup: the members but `leavingMemberId`, Stable at the group
   * epoch, each with its target assignment, their sessions started. It replaces the consumer group.
   */
  private toClassicGroup(group: ConsumerGroup, leavingMemberId: string | null): ClassicGroup {
    const groupId = group.groupId;
    const members = [...group.members.values()].filter((m) => m.memberId !== leavingMemberId);
    for (const m of group.members.values()) this.heartbeats.cancelTimers(m);
    this.consumerGroups.remove(groupId);
    const holder = this.classic.get(groupId);
    if (holder) this.classic.remove(holder);
    const classic = this.classic.add(groupId);
    for (const m of members) {
      const { sessionTimeoutMs, protocols } = m.classic!;
      const member = new ClassicMember(
        m.memberId,
        m.instanceId,
        m.clientId,
        m.clientHost,
        m.rebalanceTimeoutMs,
        sessionTimeoutMs,
        CONSUMER_PROTOCOL_TYPE,
        protocols,
      );
      classic.add(member, null);
    }
    // Set as Kafka creates it: no transition leads from Empty to Stable.
    classic.state = 'Stable';
    classic.generationId = group.groupEpoch;
    const protocol = classic.selectProtocol();
    classic.protocolName = protocol;
    classic.subscribedTopics = this.rebalancer.computeSubscribedTopics(classic);
    for (const member of classic.members.values()) {
      const target = group.targetAssignment.get(member.memberId) ?? new Map();
      member.assignment = assignmentBytes(target, member.metadata(protocol), this.topics);
      this.rebalancer.scheduleHeartbeat(classic, member, member.sessionTimeoutMs);
    }
    this.classic.emitChange(classic);
    this.logger.info('consumer group downgraded to a classic group', {
      groupId,
      generationId: classic.generationId,
      members: classic.size,
    });
    return classic;
  }
}

function copyAssignment(a: ReadonlyMap<string, ReadonlySet<number>>): Map<string, Set<number>> {
  return new Map([...a].map(([t, ps]) => [t, new Set(ps)]));
}
