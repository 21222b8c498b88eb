/**
 * KIP-951: a NOT_LEADER_OR_FOLLOWER answer names the partition's current leader and epoch, and the
 * response carries how to reach those leaders, so a client moves without a metadata round trip.
 */
import { ErrorCode } from '@kch/protocol';
import type { BrokerContext } from '../context.js';
import type { PartitionLog } from '../log/partition-log.js';
import type { Topic } from '../log/topics.js';

/**
 * Why this broker does not serve a partition to a client that knows `currentLeaderEpoch` (-1: none),
 * as Kafka's Partition.localLogWithEpochOrThrow answers: the epoch first (FENCED_LEADER_EPOCH when the
 * client's is older than the partition's, UNKNOWN_LEADER_EPOCH when newer), then leadership
 * (NOT_LEADER_OR_FOLLOWER); NONE when it serves it.
 */
export function servingError(
  currentLeaderEpoch: number,
  topic: Topic,
  log: PartitionLog,
  broker: BrokerContext,
): number {
  if (currentLeaderEpoch >= 0) {
    const epoch = log.isLeader
      ? log.leaderEpoch
      : (broker.leaderOf(topic, log.partition)?.epoch ?? log.leaderEpoch);
    if (currentLeaderEpoch > epoch) return ErrorCode.UNKNOWN_LEADER_EPOCH;
    if (currentLeaderEpoch < epoch) return ErrorCode.FENCED_LEADER_EPOCH;
  }
  return log.isLeader ? ErrorCode.NONE : ErrorCode.NOT_LEADER_OR_FOLLOWER;
}

export interface NodeEndpoint {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

/** Collects, for one response, the leaders named in its NOT_LEADER_OR_FOLLOWER answers. */
export class LeaderHints {
  private readonly nodes = new Map<number, NodeEndpoint>();

  constructor(
    private readonly broker: BrokerContext,
    private readonly listener: string,
  ) {}

  /** The partition's current leader and epoch (-1, -1 while it has none), noting how to reach it. */
  currentLeader(topic: Topic | undefined, partition: number): { leaderId: number; leaderEpoch: number } {
    const leader = topic ? this.broker.leaderOf(topic, partition) : null;
    if (!leader) return { leaderId: -1, leaderEpoch: -1 };
    if (!this.nodes.has(leader.nodeId)) {
      const node = this.broker.brokersFor(this.listener).find((b) => b.nodeId === leader.nodeId);
      if (node) this.nodes.set(node.nodeId, node);
    }
    return { leaderId: leader.nodeId, leaderEpoch: leader.epoch };
  }

  /** The endpoints of every leader named so far (the response's NodeEndpoints). */
  endpoints(): NodeEndpoint[] {
    return [...this.nodes.values()];
  }
}
