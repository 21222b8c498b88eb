/**
 * Consumer groups and offsets for `kch groups` (and the start positions of `kch consume`), through
 * @platformatic/kafka's admin client: list, describe and delete groups, their committed offsets,
 * offsets committed from outside the group, and ListOffsets by time or end.
 */
import { ErrorCode } from '@kch/protocol';
import { ListOffsetTimestamps } from '@platformatic/kafka';
import { BrokerError, CliError } from './errors.js';
import { type Kafka, type TopicInfo, withRetries } from './kafka.js';
import { protocolErrorOf } from './kafka-errors.js';

/** ListOffsets' special timestamps. */
export const LATEST_TIMESTAMP = ListOffsetTimestamps.LATEST;
export const EARLIEST_TIMESTAMP = ListOffsetTimestamps.EARLIEST;

/**
 * Kafka's names for group states (the library upper-cases them: "PREPARINGREBALANCE"); kch prints
 * them as Kafka's tools do.
 */
const STATE_NAMES = new Map(
  [
    'Empty',
    'Stable',
    'PreparingRebalance',
    'CompletingRebalance',
    'Dead',
    'Assigning',
    'Reconciling',
    'NotReady',
  ].map((s) => [s.toUpperCase(), s]),
);

function stateName(state: string): string {
  return STATE_NAMES.get(state.toUpperCase()) ?? state;
}

function byId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface ListedOffset {
  offset: bigint;
  /** The record's timestamp for a lookup by time; -1 otherwise. */
  timestamp: bigint;
}

/**
 * ListOffsets for partitions of one topic: `timestamp` is {@link LATEST_TIMESTAMP},
 * {@link EARLIEST_TIMESTAMP} or a time in ms (the first offset whose timestamp is at or after it;
 * offset -1 when there is none).
 */
export async function listOffsets(
  kafka: Kafka,
  topic: TopicInfo,
  partitions: readonly number[],
  timestamp: bigint,
): Promise<Map<number, ListedOffset>> {
  for (const p of partitions) {
    if (!topic.partitions.some((x) => x.partition === p)) {
      throw new CliError(`topic "${topic.name}" has no partition ${p}`);
    }
  }
  const out = new Map<number, ListedOffset>();
  if (partitions.length === 0) return out;
  const listed = await withRetries(() =>
    kafka.call(`listing offsets of ${topic.name}`, () =>
      kafka.admin.listOffsets({
        topics: [
          {
            name: topic.name,
            partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp })),
          },
        ],
      }),
    ),
  );
  for (const t of listed) {
    for (const p of t.partitions) out.set(p.partitionIndex, { offset: p.offset, timestamp: p.timestamp });
  }
  return out;
}

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  state: string;
  /** "classic", or "consumer" for a KIP-848 group. */
  type: string;
}

/**
 * Every group of every broker (the admin client asks each one), of both types: the library asks for
 * classic groups only unless told.
 */
export async function listGroups(kafka: Kafka): Promise<ListedGroup[]> {
  const groups = await kafka.call('listing the groups', () =>
    kafka.admin.listGroups({ types: ['classic', 'consumer'] }),
  );
  return [...groups.values()]
    .map((g) => ({
      groupId: g.id,
      protocolType: g.protocolType,
      state: stateName(g.state),
      type: g.groupType,
    }))
    .sort((a, b) => byId(a.groupId, b.groupId));
}

export interface GroupMemberDescription {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** The member's partitions when the group uses the consumer protocol and is Stable; empty otherwise. */
  assignment: { topic: string; partitions: number[] }[];
}

export interface GroupDescription {
  groupId: string;
  /** Kafka's state name: Empty, Stable, PreparingRebalance, CompletingRebalance, Dead. */
  state: string;
  protocolType: string;
  /** The assignor in use, e.g. "range". */
  protocol: string;
  members: GroupMemberDescription[];
}

export async function describeGroup(kafka: Kafka, groupId: string): Promise<GroupDescription> {
  const groups = await withRetries(() =>
    kafka.call(`describing group "${groupId}"`, () => kafka.admin.describeGroups({ groups: [groupId] })),
  );
  const g = groups.get(groupId);
  if (!g) throw new CliError(`the broker did not describe group "${groupId}"`);
  const consumer = g.protocolType === 'consumer';
  return {
    groupId: g.id,
    state: stateName(g.state),
    protocolType: g.protocolType,
    protocol: g.protocol,
    members: [...g.members.values()].map((m) => ({
      memberId: m.id,
      groupInstanceId: m.groupInstanceId ?? null,
      clientId: m.clientId,
      clientHost: m.clientHost,
      assignment: consumer
        ? [...(m.assignments?.values() ?? [])].map((a) => ({
            topic: a.topic,
            partitions: [...a.partitions].sort((x, y) => x - y),
          }))
        : [],
    })),
  };
}

export interface CommittedOffset {
  topic: string;
  partition: number;
  /** -1 when the group has no commit for the partition. */
  offset: bigint;
}

/** A group's committed offsets: of every partition it committed (topics null), or of the given ones. */
export async function fetchCommittedOffsets(
  kafka: Kafka,
  groupId: string,
  topics: { topic: string; partitions: number[] }[] | null = null,
): Promise<CommittedOffset[]> {
  // UNSTABLE_OFFSET_COMMIT (a commit in flight) and a loading coordinator are retriable: asked again.
  const groups = await withRetries(() =>
    kafka.call(`fetching the committed offsets of group "${groupId}"`, () =>
      kafka.admin.listConsumerGroupOffsets({
        groups: [
          topics === null
            ? groupId
            : { groupId, topics: topics.map((t) => ({ name: t.topic, partitionIndexes: t.partitions })) },
        ],
        requireStable: true,
      }),
    ),
  );
  const out: CommittedOffset[] = [];
  for (const g of groups) {
    for (const t of g.topics) {
      for (const p of t.partitions) {
        out.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset });
      }
    }
  }
  return out;
}

/**
 * Commits offsets for a group from outside group management (generation -1, no member id), which
 * the coordinator accepts only while the group has no members: `kch groups reset-offsets --execute`.
 */
export async function commitOffsets(
  kafka: Kafka,
  groupId: string,
  offsets: readonly { topic: string; partition: number; offset: bigint }[],
): Promise<void> {
  if (offsets.length === 0) return;
  const byTopic = new Map<string, { partition: number; offset: bigint }[]>();
  for (const o of offsets) {
    const list = byTopic.get(o.topic) ?? [];
    list.push({ partition: o.partition, offset: o.offset });
    byTopic.set(o.topic, list);
  }
  await kafka.call(`committing the offsets of group "${groupId}"`, () =>
    kafka.admin.alterConsumerGroupOffsets({
      groupId,
      topics: [...byTopic].map(([name, partitionOffsets]) => ({ name, partitionOffsets })),
    }),
  );
}

/** Deletes an empty group and its committed offsets. */
export async function deleteGroup(kafka: Kafka, groupId: string): Promise<void> {
  const action = `deleting group "${groupId}"`;
  try {
    await kafka.admin.deleteGroups({ groups: [groupId] });
  } catch (e) {
    const p = protocolErrorOf(e);
    if (p?.code === ErrorCode.GROUP_ID_NOT_FOUND) {
      throw new BrokerError(
        p.code,
        action,
        `Group '${groupId}' does not exist.`,
        'List the groups with `kch groups list`.',
      );
    }
    throw kafka.failure(e, action, (code) =>
      code === ErrorCode.NON_EMPTY_GROUP
        ? 'The group still has members: stop its consumers first.'
        : undefined,
    );
  }
}
