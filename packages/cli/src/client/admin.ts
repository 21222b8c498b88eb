/**
 * Admin calls over {@link KafkaClient}: topics, configs, offsets and consumer groups, each turning the
 * broker's error codes into {@link BrokerError}s that say what was being done.
 */
import {
  type ConsumerProtocolAssignment,
  decodeConsumerProtocolAssignment,
  decodeConsumerProtocolSubscription,
  ErrorCode,
  Reader,
} from '@kch/protocol';
import { type BrokerConnection, type KafkaClient, type TopicMetadata, withRetries } from './client.js';
import { BrokerError, CliError } from './errors.js';

/** Kafka's ConfigResource.Type for topics. */
const RESOURCE_TOPIC = 2;
/** Kafka's DescribeConfigsResponse.ConfigSource for a topic override. */
export const CONFIG_SOURCE_TOPIC = 1;
/** IncrementalAlterConfigs operations (AlterConfigOp.OpType). */
const OP_SET = 0;
const OP_DELETE = 1;
/** ListOffsets' special timestamps. */
export const LATEST_TIMESTAMP = -1n;
export const EARLIEST_TIMESTAMP = -2n;

// ----------------------------------------------------------------------------------------------- topics

export interface CreateTopicInput {
  name: string;
  /** Omitted: the broker's default (num.partitions). */
  partitions?: number;
  /** Omitted: the broker's default. */
  replicationFactor?: number;
  configs?: Record<string, string>;
}

export interface CreatedTopic {
  name: string;
  topicId: string | null;
  partitions: number | null;
  replicationFactor: number | null;
}

export async function createTopic(client: KafkaClient, input: CreateTopicInput): Promise<CreatedTopic> {
  const conn = await client.any();
  const { version, response } = await conn.send('CreateTopics', (v) => ({
    topics: [
      {
        name: input.name,
        // -1 (the broker's default) needs v4+ (KIP-464); older brokers get Kafka's old defaults.
        numPartitions: input.partitions ?? (v >= 4 ? -1 : 1),
        replicationFactor: input.replicationFactor ?? (v >= 4 ? -1 : 1),
        assignments: [],
        configs: Object.entries(input.configs ?? {}).map(([name, value]) => ({ name, value })),
      },
    ],
    timeoutMs: client.requestTimeoutMs,
    validateOnly: false,
  }));
  const result = response.topics.find((t) => t.name === input.name) ?? response.topics[0];
  if (!result) throw new CliError(`the broker did not answer for topic "${input.name}"`);
  if (result.errorCode !== ErrorCode.NONE) {
    throw new BrokerError(
      result.errorCode,
      `creating topic "${input.name}"`,
      version >= 1 ? result.errorMessage : null,
      result.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS
        ? `See it with \`kch topics describe ${input.name}\`, or pass --if-not-exists.`
        : // Only where the broker said nothing itself: its own message says what is wrong.
          result.errorCode === ErrorCode.INVALID_CONFIG && !(version >= 1 && result.errorMessage)
          ? 'Check the --config names and values (Kafka topic configs, e.g. retention.ms=86400000).'
          : undefined,
    );
  }
  return {
    name: result.name,
    topicId: version >= 7 ? result.topicId : null,
    partitions: version >= 5 ? result.numPartitions : (input.partitions ?? null),
    replicationFactor: version >= 5 ? result.replicationFactor : (input.replicationFactor ?? null),
  };
}

export async function deleteTopic(client: KafkaClient, name: string): Promise<void> {
  const conn = await client.any();
  const { version, response } = await conn.send('DeleteTopics', (v) =>
    v >= 6
      ? { topics: [{ name }], timeoutMs: client.requestTimeoutMs }
      : { topicNames: [name], timeoutMs: client.requestTimeoutMs },
  );
  const result = response.responses.find((r) => r.name === name) ?? response.responses[0];
  if (!result) throw new CliError(`the broker did not answer for topic "${name}"`);
  if (result.errorCode !== ErrorCode.NONE) {
    const unknown = result.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    throw new BrokerError(
      result.errorCode,
      `deleting topic "${name}"`,
      unknown ? `Topic '${name}' does not exist.` : version >= 5 ? result.errorMessage : null,
      unknown ? 'List the topics with `kch topics list`, or pass --if-exists.' : undefined,
    );
  }
}

export async function createPartitions(client: KafkaClient, name: string, count: number): Promise<void> {
  const conn = await client.any();
  const { response } = await conn.send('CreatePartitions', () => ({
    topics: [{ name, count, assignments: null }],
    timeoutMs: client.requestTimeoutMs,
    validateOnly: false,
  }));
  const result = response.results.find((r) => r.name === name) ?? response.results[0];
  if (!result) throw new CliError(`the broker did not answer for topic "${name}"`);
  if (result.errorCode !== ErrorCode.NONE) {
    throw new BrokerError(
      result.errorCode,
      `setting the partitions of topic "${name}" to ${count}`,
      result.errorMessage,
      result.errorCode === ErrorCode.INVALID_PARTITIONS
        ? 'Kafka can only add partitions: give a count above the current one (see `kch topics describe`).'
        : undefined,
    );
  }
}

export interface ConfigEntry {
  name: string;
  value: string | null;
  /** Kafka's ConfigSource (1 is a topic override); -1 when the broker's version does not say. */
  source: number;
  isDefault: boolean;
  readOnly: boolean;
  sensitive: boolean;
}

/** The configs of topics, by topic name. */
export async function describeTopicConfigs(
  client: KafkaClient,
  names: readonly string[],
): Promise<Map<string, ConfigEntry[]>> {
  const out = new Map<string, ConfigEntry[]>();
  if (names.length === 0) return out;
  const conn = await client.any();
  const { version, response } = await conn.send('DescribeConfigs', () => ({
    resources: names.map((resourceName) => ({
      resourceType: RESOURCE_TOPIC,
      resourceName,
      configurationKeys: null,
    })),
    includeSynonyms: false,
    includeDocumentation: false,
  }));
  for (const r of response.results) {
    if (r.errorCode !== ErrorCode.NONE) {
      throw new BrokerError(
        r.errorCode,
        `describing the configs of topic "${r.resourceName}"`,
        r.errorMessage,
      );
    }
    out.set(
      r.resourceName,
      r.configs.map((c) => ({
        name: c.name,
        value: c.value,
        source: version >= 1 ? c.configSource : c.isDefault ? -1 : CONFIG_SOURCE_TOPIC,
        isDefault: version >= 1 ? c.configSource !== CONFIG_SOURCE_TOPIC : c.isDefault,
        readOnly: c.readOnly,
        sensitive: c.isSensitive,
      })),
    );
  }
  return out;
}

/** Sets and deletes topic config overrides, leaving the others as they are. */
export async function alterTopicConfigs(
  client: KafkaClient,
  name: string,
  set: Record<string, string>,
  remove: readonly string[],
): Promise<void> {
  const conn = await client.any();
  if (conn.version('IncrementalAlterConfigs') === undefined) {
    throw new CliError(
      `the broker at ${conn.address} does not support IncrementalAlterConfigs (Kafka 2.3+), which --config and --delete-config need`,
    );
  }
  const { response } = await conn.send('IncrementalAlterConfigs', () => ({
    resources: [
      {
        resourceType: RESOURCE_TOPIC,
        resourceName: name,
        configs: [
          ...Object.entries(set).map(([k, value]) => ({ name: k, configOperation: OP_SET, value })),
          ...remove.map((k) => ({ name: k, configOperation: OP_DELETE, value: null })),
        ],
      },
    ],
    validateOnly: false,
  }));
  const result = response.responses[0];
  if (result && result.errorCode !== ErrorCode.NONE) {
    throw new BrokerError(
      result.errorCode,
      `altering the configs of topic "${name}"`,
      result.errorMessage,
      result.errorCode === ErrorCode.INVALID_CONFIG && !result.errorMessage
        ? 'Check the config names and values (Kafka topic configs, e.g. retention.ms=86400000).'
        : undefined,
    );
  }
}

// ---------------------------------------------------------------------------------------------- offsets

export interface ListedOffset {
  offset: bigint;
  /** The record's timestamp for a lookup by time; -1 otherwise. */
  timestamp: bigint;
}

/**
 * ListOffsets for partitions of one topic, each asked of its leader: `timestamp` is
 * {@link LATEST_TIMESTAMP}, {@link EARLIEST_TIMESTAMP} or a time in ms (the first offset whose
 * timestamp is at or after it; offset -1 when there is none).
 */
export async function listOffsets(
  client: KafkaClient,
  topic: TopicMetadata,
  partitions: readonly number[],
  timestamp: bigint,
): Promise<Map<number, ListedOffset>> {
  const byLeader = new Map<number, number[]>();
  for (const p of partitions) {
    const meta = topic.partitions.find((x) => x.partition === p);
    if (!meta) throw new CliError(`topic "${topic.name}" has no partition ${p}`);
    const list = byLeader.get(meta.leader) ?? [];
    list.push(p);
    byLeader.set(meta.leader, list);
  }
  const out = new Map<number, ListedOffset>();
  for (const [leader, parts] of byLeader) {
    const conn = await client.node(leader);
    const listed = await withRetries(async () => {
      const { response } = await conn.send(
        'ListOffsets',
        (v) => ({
          replicaId: -1,
          isolationLevel: 0,
          topics: [
            {
              name: topic.name,
              partitions: parts.map((partitionIndex) => ({
                partitionIndex,
                currentLeaderEpoch: v >= 4 ? -1 : undefined,
                timestamp,
              })),
            },
          ],
          timeoutMs: v >= 10 ? client.requestTimeoutMs : undefined,
        }),
        // v0 answers with a list of old-style offsets: Kafka 0.10.1+ (v1) is assumed.
        { minVersion: 1 },
      );
      const found = new Map<number, ListedOffset>();
      for (const t of response.topics) {
        for (const p of t.partitions) {
          if (p.errorCode !== ErrorCode.NONE) {
            throw new BrokerError(p.errorCode, `listing offsets of ${topic.name}-${p.partitionIndex}`);
          }
          found.set(p.partitionIndex, { offset: p.offset, timestamp: p.timestamp });
        }
      }
      return found;
    });
    for (const [p, o] of listed) out.set(p, o);
  }
  return out;
}

// ----------------------------------------------------------------------------------------------- groups

/** The coordinator of a consumer group (FindCoordinator, retried while it is being loaded). */
export async function findCoordinator(client: KafkaClient, groupId: string): Promise<BrokerConnection> {
  const conn = await client.any();
  const found = await withRetries(async () => {
    const { version, response } = await conn.send('FindCoordinator', (v) =>
      v >= 4 ? { keyType: 0, coordinatorKeys: [groupId] } : { key: groupId, keyType: v >= 1 ? 0 : undefined },
    );
    const c =
      version >= 4
        ? response.coordinators[0]
        : {
            errorCode: response.errorCode,
            errorMessage: version >= 1 ? response.errorMessage : null,
            nodeId: response.nodeId,
            host: response.host,
            port: response.port,
          };
    if (!c) throw new CliError(`the broker did not name a coordinator for group "${groupId}"`);
    if (c.errorCode !== ErrorCode.NONE) {
      throw new BrokerError(c.errorCode, `finding the coordinator of group "${groupId}"`, c.errorMessage);
    }
    return c;
  });
  return client.connectTo({ host: found.host, port: found.port }, found.nodeId);
}

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  /** Empty when the broker's ListGroups version does not say (before v4). */
  state: string;
}

/** Every group of every broker (Kafka's admin client asks each one). */
export async function listGroups(client: KafkaClient): Promise<ListedGroup[]> {
  const out = new Map<string, ListedGroup>();
  for (const conn of await client.allBrokers()) {
    const { version, response } = await conn.send('ListGroups', () => ({
      statesFilter: [],
      typesFilter: [],
    }));
    if (response.errorCode !== ErrorCode.NONE) {
      throw new BrokerError(response.errorCode, `listing the groups of broker ${conn.address}`);
    }
    for (const g of response.groups) {
      out.set(g.groupId, {
        groupId: g.groupId,
        protocolType: g.protocolType,
        state: version >= 4 ? g.groupState : '',
      });
    }
  }
  return [...out.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
}

export interface GroupMemberDescription {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** The member's partitions when the group uses the consumer protocol and is Stable; empty otherwise. */
  assignment: { topic: string; partitions: number[] }[];
  /** The topics it subscribed to (consumer protocol), when known. */
  subscription: string[];
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

export async function describeGroup(client: KafkaClient, groupId: string): Promise<GroupDescription> {
  const conn = await findCoordinator(client, groupId);
  const { response } = await conn.send('DescribeGroups', () => ({
    groups: [groupId],
    includeAuthorizedOperations: false,
  }));
  const g = response.groups[0];
  if (!g) throw new CliError(`the broker did not describe group "${groupId}"`);
  if (g.errorCode !== ErrorCode.NONE) throw new BrokerError(g.errorCode, `describing group "${groupId}"`);
  const consumer = g.protocolType === 'consumer';
  return {
    groupId: g.groupId,
    state: g.groupState,
    protocolType: g.protocolType,
    protocol: g.protocolData,
    members: g.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId ?? null,
      clientId: m.clientId,
      clientHost: m.clientHost,
      assignment: consumer ? (decodeAssignment(m.memberAssignment)?.assignedPartitions ?? []) : [],
      subscription: consumer ? (decodeSubscriptionTopics(m.memberMetadata) ?? []) : [],
    })),
  };
}

/** A consumer protocol assignment (int16 version, then the struct), or null if the bytes are not one. */
export function decodeAssignment(bytes: Buffer): ConsumerProtocolAssignment | null {
  if (bytes.length < 2) return null;
  try {
    const r = new Reader(bytes);
    const version = r.int16();
    if (version < 0) return null;
    // As Kafka's ConsumerProtocol does: versions above ours read as our newest (their prefix).
    return decodeConsumerProtocolAssignment(r, Math.min(version, 3));
  } catch {
    return null;
  }
}

function decodeSubscriptionTopics(bytes: Buffer): string[] | null {
  if (bytes.length < 2) return null;
  try {
    const r = new Reader(bytes);
    if (r.int16() < 0) return null;
    return decodeConsumerProtocolSubscription(r, 0).topics;
  } catch {
    return null;
  }
}

export interface CommittedOffset {
  topic: string;
  partition: number;
  /** -1 when the group has no commit for the partition. */
  offset: bigint;
  metadata: string | null;
}

/** A group's committed offsets: of the given partitions, or (topics null) of every partition it committed. */
export async function fetchCommittedOffsets(
  client: KafkaClient,
  groupId: string,
  topics: { topic: string; partitions: number[] }[] | null,
  coordinator?: BrokerConnection,
): Promise<CommittedOffset[]> {
  const conn = coordinator ?? (await findCoordinator(client, groupId));
  const requested = topics?.map((t) => ({ name: t.topic, partitionIndexes: t.partitions })) ?? null;
  return withRetries(async () => {
    const { version, response } = await conn.send(
      'OffsetFetch',
      (v) =>
        v >= 8
          ? { groups: [{ groupId, topics: requested }], requireStable: true }
          : { groupId, topics: requested, requireStable: v >= 7 ? true : undefined },
      // All topics (null) needs v2+.
      topics === null ? { minVersion: 2 } : {},
    );
    const out: CommittedOffset[] = [];
    // UNSTABLE_OFFSET_COMMIT (a commit in flight) and coordinator loading are retriable: asked again.
    const groupError =
      version >= 8 ? (response.groups[0]?.errorCode ?? 0) : version >= 2 ? response.errorCode : 0;
    if (groupError !== ErrorCode.NONE) {
      throw new BrokerError(groupError, `fetching the committed offsets of group "${groupId}"`);
    }
    const list = version >= 8 ? (response.groups[0]?.topics ?? []) : response.topics;
    for (const t of list) {
      for (const p of t.partitions) {
        if (p.errorCode !== ErrorCode.NONE) {
          throw new BrokerError(
            p.errorCode,
            `fetching the committed offset of group "${groupId}" for ${t.name}-${p.partitionIndex}`,
          );
        }
        out.push({
          topic: t.name,
          partition: p.partitionIndex,
          offset: p.committedOffset,
          metadata: p.metadata,
        });
      }
    }
    return out;
  });
}

export interface OffsetToCommit {
  topic: string;
  partition: number;
  offset: bigint;
  leaderEpoch?: number;
}

/**
 * Commits offsets for a group: as a member of a generation, or (generationId -1, memberId "") from
 * outside group management, which the coordinator accepts only for an empty group.
 */
export async function commitOffsets(
  client: KafkaClient,
  groupId: string,
  offsets: readonly OffsetToCommit[],
  member: { generationId: number; memberId: string; groupInstanceId?: string | null } = {
    generationId: -1,
    memberId: '',
  },
  coordinator?: BrokerConnection,
): Promise<void> {
  if (offsets.length === 0) return;
  const conn = coordinator ?? (await findCoordinator(client, groupId));
  const byTopic = new Map<string, OffsetToCommit[]>();
  for (const o of offsets) {
    const list = byTopic.get(o.topic) ?? [];
    list.push(o);
    byTopic.set(o.topic, list);
  }
  const { response } = await conn.send('OffsetCommit', (v) => ({
    groupId,
    generationIdOrMemberEpoch: v >= 1 ? member.generationId : undefined,
    memberId: v >= 1 ? member.memberId : undefined,
    groupInstanceId: v >= 7 ? (member.groupInstanceId ?? null) : undefined,
    retentionTimeMs: v >= 2 && v <= 4 ? -1n : undefined,
    topics: [...byTopic].map(([name, parts]) => ({
      name,
      partitions: parts.map((p) => ({
        partitionIndex: p.partition,
        committedOffset: p.offset,
        committedLeaderEpoch: v >= 6 ? (p.leaderEpoch ?? -1) : undefined,
        commitTimestamp: v === 1 ? -1n : undefined,
        committedMetadata: '',
      })),
    })),
  }));
  for (const t of response.topics) {
    for (const p of t.partitions) {
      if (p.errorCode !== ErrorCode.NONE) {
        throw new BrokerError(
          p.errorCode,
          `committing the offset of group "${groupId}" for ${t.name}-${p.partitionIndex}`,
        );
      }
    }
  }
}

/** Deletes an empty group and its committed offsets. */
export async function deleteGroup(client: KafkaClient, groupId: string): Promise<void> {
  const conn = await findCoordinator(client, groupId);
  const { response } = await conn.send('DeleteGroups', () => ({ groupsNames: [groupId] }));
  const r = response.results.find((x) => x.groupId === groupId) ?? response.results[0];
  if (r && r.errorCode !== ErrorCode.NONE) {
    throw new BrokerError(
      r.errorCode,
      `deleting group "${groupId}"`,
      r.errorCode === ErrorCode.GROUP_ID_NOT_FOUND ? `Group '${groupId}' does not exist.` : null,
      r.errorCode === ErrorCode.NON_EMPTY_GROUP
        ? 'The group still has members: stop its consumers first.'
        : r.errorCode === ErrorCode.GROUP_ID_NOT_FOUND
          ? 'List the groups with `kch groups list`.'
          : undefined,
    );
  }
}
