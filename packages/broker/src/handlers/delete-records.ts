import { ErrorCode, KafkaProtocolError } from '@kch/protocol';
import { defineHandler, type RequestContext } from '../handler.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowedNames } from '../security/authorize.js';
import { brokerTopicDefaults, topicConfigValue } from '../topic-configs.js';

/** Kafka's DeleteRecordsRequest.HIGH_WATERMARK: delete everything up to the high watermark. */
const HIGH_WATERMARK = -1n;

/**
 * DeleteRecords: moves each partition's log start offset forward to the offset given (-1: the high
 * watermark) and answers the new low watermark, as Kafka's ReplicaManager.deleteRecords does. Storage
 * removes what lies before it.
 */
export default defineHandler({
  api: 'DeleteRecords',
  serial: true,
  async handle(request, ctx) {
    // Delete on each topic, asked before its existence (Kafka's handleDeleteRecordsRequest).
    const deletable = allowedNames(
      ctx,
      AclOperation.DELETE,
      ResourceType.TOPIC,
      request.topics.map((t) => t.name),
    );
    const topics = [];
    for (const t of request.topics) {
      const partitions = [];
      for (const p of t.partitions) {
        try {
          if (!deletable.has(t.name)) throw new KafkaProtocolError('TOPIC_AUTHORIZATION_FAILED');
          const lowWatermark = await deleteBefore(t.name, p.partitionIndex, p.offset, ctx);
          partitions.push({
            partitionIndex: p.partitionIndex,
            lowWatermark: BigInt(lowWatermark),
            errorCode: ErrorCode.NONE,
          });
        } catch (e) {
          if (!(e instanceof KafkaProtocolError)) throw e;
          partitions.push({ partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode: e.code });
        }
      }
      topics.push({ name: t.name, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
  errorResponse(request, errorCode) {
    return {
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          lowWatermark: -1n,
          errorCode,
        })),
      })),
    };
  },
});

async function deleteBefore(
  topicName: string,
  partition: number,
  offset: bigint,
  ctx: RequestContext,
): Promise<number> {
  const { topics, config } = ctx.broker;
  const topic = topics.get(topicName);
  const log = topic?.logs[partition];
  if (!topic || !log) {
    throw new KafkaProtocolError('UNKNOWN_TOPIC_OR_PARTITION', `${topicName}-${partition} does not exist`);
  }
  const policy = topicConfigValue(topic.record.configs, brokerTopicDefaults(config), 'cleanup.policy') ?? '';
  if (!policy.split(',').includes('delete')) {
    throw new KafkaProtocolError(
      'POLICY_VIOLATION',
      `Records of partition ${topicName}-${partition} can not be deleted due to the configured policy`,
    );
  }
  if (offset !== HIGH_WATERMARK && offset < 0n) {
    throw new KafkaProtocolError(
      'OFFSET_OUT_OF_RANGE',
      `The offset ${offset} for partition ${topicName}-${partition} is not valid`,
    );
  }
  // Past the high watermark (or past what a JavaScript number holds exactly): PartitionLog answers
  // OFFSET_OUT_OF_RANGE.
  const target = offset > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(offset);
  return log.deleteRecordsBefore(target);
}
