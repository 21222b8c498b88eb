/**
 * Raw requests for the consumer group tests: ConsumerGroupHeartbeat as a consumer with
 * group.protocol=consumer sends it, a classic JoinGroup, topics created with their ids remembered
 * (heartbeats name topics by id), and consumer protocol assignment bytes as a classic group leader
 * writes them.
 */
import type { RawClient } from '@kch/kafka-connection';
import {
  type ConsumerGroupHeartbeatRequest,
  decodeConsumerProtocolAssignment,
  ErrorCode,
  encodeConsumerProtocolAssignment,
  type JoinGroupRequest,
  Reader,
  Writer,
} from '@kch/protocol';
import { expect } from 'vitest';

/** Creates a topic, noting its id in `topicIds`. */
export async function createTopicWithId(
  c: RawClient,
  topicIds: Map<string, string>,
  name: string,
  partitions: number,
): Promise<string> {
  const r = await c.send('CreateTopics', 7, {
    topics: [{ name, numPartitions: partitions, replicationFactor: 1 }],
    timeoutMs: 10_000,
  });
  expect(r.topics[0]!.errorCode).toBe(ErrorCode.NONE);
  topicIds.set(name, r.topics[0]!.topicId);
  return r.topics[0]!.topicId;
}

/** A ConsumerGroupHeartbeat of group "g" with every field unset but those given. */
export function consumerHeartbeat(c: RawClient, fields: Partial<ConsumerGroupHeartbeatRequest>, version = 0) {
  return c.send('ConsumerGroupHeartbeat', version, {
    groupId: 'g',
    memberId: '',
    memberEpoch: 0,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: -1,
    subscribedTopicNames: null,
    subscribedTopicRegex: null,
    serverAssignor: null,
    topicPartitions: null,
    ...fields,
  });
}

/** A join at epoch 0 (a full request). */
export function consumerJoin(
  c: RawClient,
  groupId: string,
  topics: string[],
  extra: Partial<ConsumerGroupHeartbeatRequest> = {},
) {
  return consumerHeartbeat(c, {
    groupId,
    memberEpoch: 0,
    rebalanceTimeoutMs: 30_000,
    subscribedTopicNames: topics,
    topicPartitions: [],
    ...extra,
  });
}

/**
 * A classic JoinGroup of protocol type "consumer" with the given fields (v7 by default: the first
 * whose answer carries the protocol type).
 */
export function classicJoinRequest(
  c: RawClient,
  fields: Partial<JoinGroupRequest> & { groupId: string },
  version = 7,
) {
  return c.send('JoinGroup', version, {
    sessionTimeoutMs: 30_000,
    rebalanceTimeoutMs: 30_000,
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [],
    ...fields,
  });
}

/** A member's partitions of one topic, from a heartbeat answer. */
export function partitionsIn(
  topicIds: ReadonlyMap<string, string>,
  assignment: { topicPartitions: { topicId: string; partitions: number[] }[] } | null,
  topic: string,
): number[] {
  return assignment?.topicPartitions.find((t) => t.topicId === topicIds.get(topic))?.partitions ?? [];
}

/** Consumer protocol assignment bytes (a version header, then the partitions by topic). */
export function assignmentBytes(partitions: Record<string, number[]>, version = 0): Buffer {
  const w = new Writer();
  w.int16(version);
  const assignedPartitions = Object.entries(partitions).map(([topic, ps]) => ({ topic, partitions: ps }));
  encodeConsumerProtocolAssignment(w, { assignedPartitions, userData: null }, version);
  return w.toBuffer();
}

/** The partitions of consumer protocol assignment bytes, by topic. */
export function assignedPartitions(bytes: Buffer): Record<string, number[]> {
  const r = new Reader(bytes);
  const version = r.int16();
  const out: Record<string, number[]> = {};
  for (const t of decodeConsumerProtocolAssignment(r, version).assignedPartitions)
    out[t.topic] = [...t.partitions].sort((x, y) => x - y);
  return out;
}
