import { ErrorCode, type Init, KafkaProtocolError, type ListOffsetsResponse } from '@kch/protocol';
import { servingError } from '../cluster/leader-hints.js';
import { defineHandler, type RequestContext } from '../handler.js';
import { type PartitionLog, storageFailure } from '../log/partition-log.js';
import type { Topic } from '../log/topics.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowedNames } from '../security/authorize.js';

type PartitionResponse = Init<ListOffsetsResponse['topics'][number]['partitions'][number]>;

/** Kafka's special timestamps (ListOffsetsRequest). */
const LATEST = -1;
/** ListOffsetsRequest.IsolationLevel of read_committed consumers. */
const READ_COMMITTED = 1;
const EARLIEST = -2;
const MAX_TIMESTAMP = -3;
const EARLIEST_LOCAL = -4;
const LATEST_TIERED = -5;

/** ListOffsets: earliest, latest, by timestamp (answered by storage), max timestamp. */
export default defineHandler({
  api: 'ListOffsets',
  async handle(request, ctx) {
    // Describe on each topic, asked before its existence (Kafka's handleListOffsetRequest).
    const describable = allowedNames(
      ctx,
      AclOperation.DESCRIBE,
      ResourceType.TOPIC,
      request.topics.map((t) => t.name),
    );
    // READ_COMMITTED (v2+): offsets end at the last stable offset instead of the high watermark.
    const committed = ctx.apiVersion >= 2 && request.isolationLevel === READ_COMMITTED;
    const topics = [];
    for (const t of request.topics) {
      const topic = ctx.broker.topics.get(t.name);
      const partitions: PartitionResponse[] = [];
      for (const p of t.partitions) {
        if (!describable.has(t.name)) {
          partitions.push(partitionFailure(p.partitionIndex, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
          continue;
        }
        const log = topic?.logs[p.partitionIndex];
        partitions.push(
          await lookup(
            topic,
            log,
            p.partitionIndex,
            Number(p.timestamp),
            p.currentLeaderEpoch,
            committed,
            ctx,
          ),
        );
      }
      topics.push({ name: t.name, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
  errorResponse(request, errorCode) {
    return {
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
      })),
    };
  },
});

/** A partition's answer without an offset: Kafka's UNKNOWN_TIMESTAMP and UNKNOWN_OFFSET. */
function partitionFailure(partitionIndex: number, errorCode: number): PartitionResponse {
  return { partitionIndex, errorCode, oldStyleOffsets: [], timestamp: -1n, offset: -1n, leaderEpoch: -1 };
}

async function lookup(
  topic: Topic | undefined,
  log: PartitionLog | undefined,
  partitionIndex: number,
  timestamp: number,
  currentLeaderEpoch: number,
  committed: boolean,
  ctx: RequestContext,
): Promise<PartitionResponse> {
  const answer = (offset: number, ts = -1): PartitionResponse => ({
    partitionIndex,
    errorCode: ErrorCode.NONE,
    oldStyleOffsets: offset >= 0 ? [BigInt(offset)] : [],
    timestamp: BigInt(ts),
    offset: BigInt(offset),
    leaderEpoch: log!.leaderEpoch,
  });
  const failure = (errorCode: number) => partitionFailure(partitionIndex, errorCode);
  if (!log || !topic) return failure(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  // Only the leader answers (Kafka's ListOffsets for a consumer); the client then asks it.
  const refused = servingError(currentLeaderEpoch, topic, log, ctx.broker);
  if (refused !== ErrorCode.NONE) return failure(refused);
  try {
    await log.open();
    const tp = { topic: log.topic, partition: log.partition };
    const lastFetchable = committed ? log.lastStableOffset : log.highWatermark;
    // A record found past what the reader may fetch is not found (Kafka's ReplicaManager.fetchOffset).
    const found = (hit: { offset: number; timestamp: number } | null) =>
      hit && hit.offset < lastFetchable ? answer(hit.offset, hit.timestamp) : answer(-1);
    switch (timestamp) {
      case LATEST:
        return answer(lastFetchable);
      case EARLIEST:
      case EARLIEST_LOCAL:
        return answer(await log.refreshLogStart());
      case LATEST_TIERED:
        // Nothing is tiered: Kafka answers -1 when no offset was tiered.
        return answer(-1);
      case MAX_TIMESTAMP:
        return found(await ctx.broker.storage.maxTimestamp(tp));
      default: {
        if (timestamp < 0) return failure(ErrorCode.INVALID_REQUEST);
        return found(await ctx.broker.storage.offsetForTimestamp(tp, timestamp));
      }
    }
  } catch (e) {
    const err = e instanceof KafkaProtocolError ? e : storageFailure(e, log.topic, log.partition);
    return failure(err.code);
  }
}
