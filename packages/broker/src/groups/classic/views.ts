/**
 * How classic groups are shown to admin clients (DescribeGroups, ListGroups) and to tools and tests
 * (groupInfo). Views only: nothing here changes a group.
 */
import { ErrorCode } from '@kch/protocol';
import { listFilter } from '../list-filter.js';
import { type ClassicGroup, EMPTY_BYTES, type GroupState } from './group.js';

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
  /** A classic group's state, or a consumer group's (Empty, Assigning, Reconciling, Stable). */
  groupState: string;
  /** "classic", or "consumer" for a KIP-848 group (../consumer/groups.ts). */
  groupType: string;
}

/** A group's state, generation and members, for tests and the CLI. */
export interface GroupInfo {
  state: GroupState;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string | null;
  members: { memberId: string; groupInstanceId: string | null; clientId: string }[];
  pendingMembers: string[];
}

/** DescribeGroups of one group; `group` undefined when the coordinator does not know it. */
export function describeGroup(groupId: string, group: ClassicGroup | undefined): DescribedGroup {
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
 * ListGroups of classic groups, filtered by state (case-insensitive; empty: all) and by type
 * ("classic" passes; empty: all).
 */
export function listGroups(
  groups: Iterable<ClassicGroup>,
  statesFilter: readonly string[],
  typesFilter: readonly string[],
): ListedGroup[] {
  const listed = listFilter(statesFilter, typesFilter);
  const out: ListedGroup[] = [];
  for (const g of groups) {
    if (!listed('classic', g.state)) continue;
    out.push({
      groupId: g.groupId,
      protocolType: g.protocolType ?? '',
      groupState: g.state,
      groupType: 'classic',
    });
  }
  return out;
}

export function groupInfo(g: ClassicGroup): GroupInfo {
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
    pendingMembers: [...g.pendingMembers.keys()],
  };
}
