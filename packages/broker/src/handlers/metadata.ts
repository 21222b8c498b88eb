import type { Init } from '@kch/protocol';
import { ErrorCode, KafkaProtocolError, type MetadataResponse } from '@kch/protocol';
import { defineHandler, type RequestContext, requester } from '../handler.js';
import type { Topic } from '../log/topics.js';
import { topicNameError } from '../log/topics.js';

/** Kafka's "not requested" value for authorized operations. */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

type TopicMetadata = Init<MetadataResponse['topics'][number]>;

/** Partition metadata of a topic on this single broker: it leads every partition. */
export function describeTopic(topic: Topic, ctx: RequestContext): TopicMetadata {
  const node = ctx.broker.config.nodeId;
  return {
    errorCode: ErrorCode.NONE,
    name: topic.record.name,
    topicId: topic.record.topicId,
    isInternal: false,
    partitions: topic.logs.map((_, p) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex: p,
      leaderId: node,
      leaderEpoch: 0,
      replicaNodes: [node],
      isrNodes: [node],
      offlineReplicas: [],
    })),
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}

/** Metadata: brokers, topics and partition leaders; creates requested topics when auto-creation is on. */
export default defineHandler({
  api: 'Metadata',
  async handle(request, ctx) {
    const { broker } = ctx;
    const { config } = broker;
    // v0: an empty list means all topics; v1+: null means all, empty means none.
    const all = request.topics === null || (ctx.apiVersion === 0 && request.topics.length === 0);
    // v0-3 have no allowAutoTopicCreation and behave as if it were true.
    const mayCreate = config.autoCreateTopics && (ctx.apiVersion < 4 || request.allowAutoTopicCreation);
    const topics: TopicMetadata[] = [];
    if (all) {
      for (const t of broker.topics.list()) topics.push(describeTopic(t, ctx));
    } else {
      for (const requested of request.topics ?? []) {
        topics.push(await lookup(requested.name, requested.topicId, mayCreate, ctx));
      }
    }
    return {
      throttleTimeMs: 0,
      brokers: [
        {
          nodeId: config.nodeId,
          host: broker.advertised.host,
          port: broker.advertised.port,
          rack: config.rack,
        },
      ],
      clusterId: config.clusterId,
      controllerId: config.nodeId,
      topics,
      clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
    };
  },
  errorResponse(request, errorCode) {
    return { topics: (request.topics ?? []).map((t) => ({ name: t.name, topicId: t.topicId, errorCode })) };
  },
});

async function lookup(
  name: string | null,
  topicId: string,
  mayCreate: boolean,
  ctx: RequestContext,
): Promise<TopicMetadata> {
  const { topics, config } = ctx.broker;
  if (name === null) {
    const byId = topics.getById(topicId);
    return byId ? describeTopic(byId, ctx) : { name: null, topicId, errorCode: ErrorCode.UNKNOWN_TOPIC_ID };
  }
  const existing = topics.get(name);
  if (existing) return describeTopic(existing, ctx);
  if (topicNameError(name)) return { name, errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION };
  if (!mayCreate) return { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
  try {
    return describeTopic(await topics.getOrCreate(name, config.defaultPartitions, requester(ctx)), ctx);
  } catch (e) {
    if (e instanceof KafkaProtocolError) return { name, errorCode: e.code };
    throw e;
  }
}
