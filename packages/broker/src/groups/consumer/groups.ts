/**
 * The KIP-848 consumer groups this coordinator knows, beside the classic ones (../registry.ts): one
 * group id names one group of either type. A consumer group is created by a first heartbeat, in
 * place of nothing or of an empty classic group (whose committed offsets it keeps); a classic group
 * with members is converted instead, if `group.consumer.migration.policy` allows (migration.ts).
 * Committed offsets stay with the offset manager for both types (../offsets.ts): it holds them under
 * an empty classic entry of the same id, which views skip. Membership is in memory only, as classic
 * membership is.
 */
import { type ConsumerGroupDescribeResponseDescribedGroup, ErrorCode } from '@kch/protocol';
import type { EventEmitter } from 'eventemitter3';
import type { BrokerEvents } from '../../events.js';
import { listFilter } from '../list-filter.js';
import type { CommitOffsetsParams } from '../offsets.js';
import type { GroupRegistry } from '../registry.js';
import { ConsumerGroup, type ConsumerMember } from './group.js';
import { type ConsumerGroupStore, fromAssignment } from './heartbeat.js';

export interface ConsumerListedGroup {
  groupId: string;
  protocolType: string;
  groupState: string;
  groupType: 'consumer';
}

/** ConsumerGroupDescribe of one group, as the response carries it. */
export type DescribedConsumerGroup = ConsumerGroupDescribeResponseDescribedGroup;

export class ConsumerGroups implements ConsumerGroupStore {
  private readonly groups = new Map<string, ConsumerGroup>();

  constructor(
    private readonly classic: GroupRegistry,
    private readonly events: EventEmitter<BrokerEvents>,
  ) {}

  get(groupId: string): ConsumerGroup | undefined {
    return this.groups.get(groupId);
  }

  values(): IterableIterator<ConsumerGroup> {
    return this.groups.values();
  }

  /** Kafka's getOrMaybeCreateConsumerGroup: only in place of nothing or of an empty classic group. */
  create(groupId: string): ConsumerGroup | undefined {
    const classic = this.classic.get(groupId);
    if (classic && !(classic.is('Empty') && classic.pendingMembers.size === 0)) return undefined;
    const group = new ConsumerGroup(groupId);
    this.groups.set(groupId, group);
    return group;
  }

  /** A consumer group converted from a classic one (migration.ts). */
  adopt(group: ConsumerGroup): void {
    this.groups.set(group.groupId, group);
  }

  /** Forgets a consumer group (deleted, replaced by a classic group, or converted to one). */
  remove(groupId: string): void {
    this.groups.delete(groupId);
  }

  changed(group: ConsumerGroup): void {
    this.events.emit('group-change', {
      groupId: group.groupId,
      state: group.state,
      generationId: group.groupEpoch,
      members: group.members.size,
    });
  }

  list(statesFilter: readonly string[], typesFilter: readonly string[]): ConsumerListedGroup[] {
    const listed = listFilter(statesFilter, typesFilter);
    return [...this.groups.values()]
      .filter((g) => listed('consumer', g.state))
      .map((g) => ({
        groupId: g.groupId,
        protocolType: 'consumer',
        groupState: g.state,
        groupType: 'consumer',
      }));
  }

  describe(groupId: string, topicName: (topicId: string) => string): DescribedConsumerGroup {
    const group = this.groups.get(groupId);
    const base = { errorMessage: null, groupId, authorizedOperations: -2147483648 };
    if (!group)
      return {
        ...base,
        errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
        errorMessage: `Group ${groupId} not found.`,
        groupState: '',
        groupEpoch: 0,
        assignmentEpoch: 0,
        assignorName: '',
        members: [],
      };
    const named = (a: Parameters<typeof fromAssignment>[0]) => ({
      topicPartitions: fromAssignment(a).map((t) => ({ ...t, topicName: topicName(t.topicId) })),
    });
    return {
      ...base,
      errorCode: ErrorCode.NONE,
      groupState: group.state,
      groupEpoch: group.groupEpoch,
      assignmentEpoch: group.assignmentEpoch,
      assignorName: group.assignorName,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        instanceId: m.instanceId,
        rackId: m.rackId,
        memberEpoch: m.memberEpoch,
        clientId: m.clientId,
        clientHost: m.clientHost,
        subscribedTopicNames: m.subscribedTopicNames,
        subscribedTopicRegex: m.subscribedTopicRegex,
        assignment: named(m.assigned),
        targetAssignment: named(group.targetAssignment.get(m.memberId) ?? new Map()),
      })),
    };
  }

  /**
   * Kafka's ConsumerGroup.validateOffsetCommit: NONE or the error. Without a member epoch only an
   * empty group takes commits (admin, manual assignment); a member commits with OffsetCommit v9+ and
   * its current member epoch, else STALE_MEMBER_EPOCH. A classic member commits with any version and
   * its generation (its member epoch), else ILLEGAL_GENERATION.
   */
  validateOffsetCommit(group: ConsumerGroup, p: CommitOffsetsParams): number {
    if (p.generationId < 0 && group.members.size === 0) return ErrorCode.NONE;
    if (p.transactional && p.generationId === -1 && p.memberId === '' && p.groupInstanceId === null)
      return ErrorCode.NONE;
    const member = group.members.get(p.memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (!p.transactional && member.classic === null && p.apiVersion < 9) return ErrorCode.UNSUPPORTED_VERSION;
    return memberEpochError(member, p.generationId);
  }

  /** Kafka's ConsumerGroup.validateOffsetFetch (OffsetFetch v9+ with a member id and epoch). */
  validateOffsetFetch(group: ConsumerGroup, memberId: string | null, memberEpoch: number): number {
    if (memberId === null && memberEpoch < 0) return ErrorCode.NONE;
    const member = memberId === null ? undefined : group.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    return memberEpochError(member, memberEpoch);
  }
}

/** Kafka's ConsumerGroup.validateMemberEpoch: a classic member's generation is its member epoch. */
function memberEpochError(member: ConsumerMember, received: number): number {
  if (received === member.memberEpoch) return ErrorCode.NONE;
  return member.classic !== null ? ErrorCode.ILLEGAL_GENERATION : ErrorCode.STALE_MEMBER_EPOCH;
}
