/**
 * The bits of the consumer protocol (the member metadata and assignments of protocol type
 * "consumer") the coordinator reads. The coordinator never needs to understand them to rebalance;
 * it reads subscriptions to refuse OffsetDelete on topics a live group consumes and to spare those
 * topics' offsets from expiration, and reads and writes both when a group migrates between the
 * classic and the KIP-848 protocol (consumer/migration.ts), or when classic members sit in a KIP-848
 * group (consumer/classic-members.ts), where the broker itself gives them their assignment.
 */
import {
  type ConsumerProtocolAssignment,
  type ConsumerProtocolSubscription,
  decodeConsumerProtocolAssignment,
  decodeConsumerProtocolSubscription,
  encodeConsumerProtocolAssignment,
  Reader,
  Writer,
} from '@kch/protocol';

/**
 * The topics of a consumer protocol subscription, or null when the bytes are not one.
 *
 * As Kafka does (GroupMetadata.computeSubscribedTopics), the version header is read and the rest is
 * parsed as version 0, the prefix of every later version: a subscription from a client newer than
 * this broker still reads.
 */
export function subscribedTopics(metadata: Buffer): string[] | null {
  try {
    const r = new Reader(metadata);
    const version = r.int16();
    if (version < 0) return null;
    return decodeConsumerProtocolSubscription(r, 0).topics;
  } catch {
    return null;
  }
}

/** Kafka's ConsumerProtocolSubscription/Assignment highest versions: newer headers read as these. */
const SUBSCRIPTION_MAX_VERSION = 3;
const ASSIGNMENT_MAX_VERSION = 3;

/**
 * The version header of consumer protocol bytes (Kafka's ConsumerProtocol.deserializeVersion),
 * clamped to `max`; throws when the bytes are too short or the version negative.
 */
function versionOf(r: Reader, max: number): number {
  const version = r.int16();
  if (version < 0) throw new Error(`unsupported consumer protocol version ${version}`);
  return Math.min(version, max);
}

/** A whole subscription (Kafka's deserializeConsumerProtocolSubscription); throws on malformed bytes. */
export function decodeSubscription(metadata: Buffer): ConsumerProtocolSubscription {
  const r = new Reader(metadata);
  return decodeConsumerProtocolSubscription(r, versionOf(r, SUBSCRIPTION_MAX_VERSION));
}

/** The partitions of an assignment (Kafka's deserializeConsumerProtocolAssignment); throws on malformed bytes. */
export function decodeAssignment(bytes: Buffer): ConsumerProtocolAssignment {
  const r = new Reader(bytes);
  return decodeConsumerProtocolAssignment(r, versionOf(r, ASSIGNMENT_MAX_VERSION));
}

/** The version of a member's subscription metadata: its assignment is written at that version. */
export function subscriptionVersion(metadata: Buffer): number {
  return new Reader(metadata).int16();
}

/** Assignment bytes at the version (Kafka's ConsumerProtocol.serializeAssignment, which clamps it). */
export function encodeAssignment(
  partitions: readonly { topic: string; partitions: number[] }[],
  version: number,
): Buffer {
  const v = Math.max(0, Math.min(version, ASSIGNMENT_MAX_VERSION));
  const w = new Writer();
  w.int16(v);
  encodeConsumerProtocolAssignment(w, { assignedPartitions: [...partitions], userData: null }, v);
  return w.toBuffer();
}
