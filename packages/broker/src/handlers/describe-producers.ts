import { ErrorCode, KafkaProtocolError } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { topicNameError } from '../log/topics.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';

/**
 * DescribeProducers: the idempotent and transactional producers a partition has state for, with the
 * first offset of each one's open transaction (kafka-transactions.sh describe-producers).
 */
export default defineHandler({
  api: 'DescribeProducers',
  async handle(request, ctx) {
    const topics = [];
    for (const t of request.topics) {
      const topic = ctx.broker.topics.get(t.name);
      // Read on the topic, asked after the name's validity and before its existence, as Kafka does.
      const refused =
        topicNameError(t.name) === null && !allowed(ctx, AclOperation.READ, ResourceType.TOPIC, t.name);
      const partitions = [];
      for (const index of t.partitionIndexes) {
        const log = topic?.logs[index];
        if (refused) {
          partitions.push({
            partitionIndex: index,
            errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
            errorMessage: 'Topic authorization failed.',
            activeProducers: [],
          });
          continue;
        }
        if (!log) {
          partitions.push({
            partitionIndex: index,
            errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            errorMessage: `no partition ${index} of topic ${t.name}`,
            activeProducers: [],
          });
          continue;
        }
        try {
          await log.open();
        } catch (e) {
          const code = e instanceof KafkaProtocolError ? e.code : ErrorCode.KAFKA_STORAGE_ERROR;
          partitions.push({
            partitionIndex: index,
            errorCode: code,
            errorMessage: String(e),
            activeProducers: [],
          });
          continue;
        }
        const activeProducers = [];
        const open = new Map(log.openTransactions().map((t) => [t.producerId, t.firstOffset]));
        for (const [producerId, entry] of log.producers.producerIds()) {
          const last = entry.batches[entry.batches.length - 1];
          activeProducers.push({
            producerId: BigInt(producerId),
            producerEpoch: entry.epoch,
            lastSequence: last ? last.lastSequence : -1,
            lastTimestamp: last ? BigInt(last.maxTimestamp) : -1n,
            coordinatorEpoch: -1,
            // The first offset of its open transaction here (kafka-transactions.sh find-hanging, abort).
            currentTxnStartOffset: BigInt(open.get(producerId) ?? -1),
          });
        }
        partitions.push({
          partitionIndex: index,
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          activeProducers,
        });
      }
      topics.push({ name: t.name, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
  errorResponse(request, errorCode) {
    return {
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => ({
          partitionIndex,
          errorCode,
          activeProducers: [],
        })),
      })),
    };
  },
});
