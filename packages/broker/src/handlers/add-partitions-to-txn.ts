import { type AddPartitionsToTxnRequest, ErrorCode } from '@kch/protocol';
import type { TopicPartition } from '@kch/storage';
import { defineHandler, type RequestContext } from '../handler.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed, allowedNames } from '../security/authorize.js';
import { coordinatorFor } from '../transactions/access.js';
import { fencedFor } from '../transactions/transitions.js';

type Topics = AddPartitionsToTxnRequest['v3AndBelowTopics'];
type TopicResults = {
  name: string;
  resultsByPartition: { partitionIndex: number; partitionErrorCode: number }[];
}[];

/**
 * AddPartitionsToTxn. v0-v3 come from producers: Write on the transactional id and on each topic,
 * every partition known, else nothing is added (the failed partitions get their error, the others
 * OPERATION_NOT_ATTEMPTED); then the coordinator's answer for all. v4+ come from brokers (KIP-890):
 * ClusterAction on the cluster, a batch of transactions, each either added or, with VerifyOnly,
 * checked partition by partition (TRANSACTION_ABORTABLE for a partition not in the transaction).
 */
export default defineHandler({
  api: 'AddPartitionsToTxn',
  async handle(request, ctx) {
    const coordinator = ctx.broker.transactions;
    if (ctx.apiVersion < 4) {
      const r = {
        transactionalId: request.v3AndBelowTransactionalId,
        producerId: Number(request.v3AndBelowProducerId),
        producerEpoch: request.v3AndBelowProducerEpoch,
        topics: request.v3AndBelowTopics,
      };
      const serving = coordinatorFor(ctx, r.transactionalId);
      if (serving === ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        return { throttleTimeMs: 0, resultsByTopicV3AndBelow: every(r.topics, serving) };
      // Kafka's order: the topics are checked before the coordinator is asked.
      const refused = partitionErrors(r.topics, ctx);
      if (refused) return { throttleTimeMs: 0, resultsByTopicV3AndBelow: refused };
      const code =
        typeof serving === 'number'
          ? serving
          : await serving.addPartitions(
              r.transactionalId,
              r.producerId,
              r.producerEpoch,
              partitionsOf(r.topics),
            );
      return {
        throttleTimeMs: 0,
        resultsByTopicV3AndBelow: every(r.topics, fencedFor(code, ctx.apiVersion, 2)),
      };
    }
    if (!allowed(ctx, AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME))
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
        resultsByTransaction: [],
      };
    const resultsByTransaction = await Promise.all(
      request.transactions.map(async (t) => {
        const producerId = Number(t.producerId);
        let topicResults: TopicResults;
        if (!coordinator) topicResults = every(t.topics, ErrorCode.NOT_COORDINATOR);
        else if (t.verifyOnly) {
          topicResults = t.topics.map((topic) => ({
            name: topic.name,
            resultsByPartition: topic.partitions.map((partitionIndex) => ({
              partitionIndex,
              partitionErrorCode: coordinator.verify(t.transactionalId, producerId, t.producerEpoch, {
                topic: topic.name,
                partition: partitionIndex,
              }),
            })),
          }));
        } else {
          const code = await coordinator.addPartitions(
            t.transactionalId,
            producerId,
            t.producerEpoch,
            partitionsOf(t.topics),
          );
          topicResults = every(t.topics, code);
        }
        return { transactionalId: t.transactionalId, topicResults };
      }),
    );
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction };
  },
  errorResponse(request, errorCode, ctx) {
    if (ctx.apiVersion < 4) return { resultsByTopicV3AndBelow: every(request.v3AndBelowTopics, errorCode) };
    return { errorCode, resultsByTransaction: [] };
  },
});

function partitionsOf(topics: Topics): TopicPartition[] {
  return topics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.name, partition })));
}

function every(topics: Topics, code: number): TopicResults {
  return topics.map((t) => ({
    name: t.name,
    resultsByPartition: t.partitions.map((partitionIndex) => ({ partitionIndex, partitionErrorCode: code })),
  }));
}

/**
 * The per-partition refusals before the coordinator is asked (Kafka's handleAddPartitionsToTxnRequest):
 * Write on the topic, then the partition's existence. Null when every partition passes.
 */
function partitionErrors(topics: Topics, ctx: RequestContext): TopicResults | null {
  const writable = allowedNames(
    ctx,
    AclOperation.WRITE,
    ResourceType.TOPIC,
    topics.map((t) => t.name),
  );
  let failed = false;
  const results = topics.map((t) => {
    const topic = ctx.broker.topics.get(t.name);
    return {
      name: t.name,
      resultsByPartition: t.partitions.map((partitionIndex) => {
        const code: number = !writable.has(t.name)
          ? ErrorCode.TOPIC_AUTHORIZATION_FAILED
          : !topic?.logs[partitionIndex]
            ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
            : ErrorCode.NONE;
        if (code !== ErrorCode.NONE) failed = true;
        return { partitionIndex, partitionErrorCode: code };
      }),
    };
  });
  if (!failed) return null;
  for (const t of results)
    for (const p of t.resultsByPartition)
      if (p.partitionErrorCode === ErrorCode.NONE) p.partitionErrorCode = ErrorCode.OPERATION_NOT_ATTEMPTED;
  return results;
}
