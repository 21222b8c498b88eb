/**
 * The bits of the consumer protocol (the member metadata and assignments of protocol type
 * "consumer") the coordinator reads. The coordinator never needs to understand them to rebalance;
 * it reads subscriptions only to refuse OffsetDelete on topics a live group consumes, and to spare
 * those topics' offsets from expiration.
 */
import { decodeConsumerProtocolSubscription, Reader } from '@kch/protocol';

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
