import type { Init } from '@kch/protocol';
import { ErrorCode, KafkaProtocolError, type MetadataResponse, ZERO_UUID } from '@kch/protocol';
import { defineHandler, type RequestContext, requester } from '../handler.js';
import type { Topic } from '../log/topics.js';
import { topicNameError } from '../log/topics.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed, authorizedOperations } from '../security/authorize.js';

/** Kafka's "not requested" value for authorized operations. */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

type TopicMetadata = Init<MetadataResponse['topics'][number]>;

/**
 * Partition metadata of a topic: each partition's leader and epoch (this broker for all, when it is
 * alone). The one replica is the storage, which every broker reaches, so the leader is the replica
 * set; a partition whose leader died answers LEADER_NOT_AVAILABLE until another broker takes it.
 */
export function describeTopic(topic: Topic, ctx: RequestContext): TopicMetadata {
  return {
    errorCode: ErrorCode.NONE,
    name: topic.record.name,
    topicId: topic.record.topicId,
    isInternal: false,
    partitions: topic.logs.map((_, p) => {
      const leader = ctx.broker.leaderOf(topic, p);
      const nodes = leader ? [leader.nodeId] : [];
      return {
        errorCode: leader ? ErrorCode.NONE : ErrorCode.LEADER_NOT_AVAILABLE,
        partitionIndex: p,
        leaderId: leader?.nodeId ?? -1,
        leaderEpoch: leader?.epoch ?? -1,
        replicaNodes: nodes,
        isrNodes: nodes,
        offlineReplicas: [],
      };
    }),
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
      // Only the topics the principal may describe; the others are not even named.
      for (const t of broker.topics.list())
        if (allowed(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, t.record.name))
          topics.push(describeTopic(t, ctx));
    } else {
      const requested = request.topics ?? [];
      // As Kafka's handleTopicMetadataRequest: a request naming any topic id is answered by its ids
      // alone, each once, whatever the names beside them (the Java client leaves them "", not null).
      const ids = new Set(requested.map((t) => t.topicId).filter((id) => id !== ZERO_UUID));
      if (ids.size > 0) for (const id of ids) topics.push(await lookupById(id, ctx));
      else
        for (const t of requested)
          topics.push(await (t.name === null ? lookupById(t.topicId, ctx) : lookup(t.name, mayCreate, ctx)));
    }
    // Both flags are false before v8, and includeClusterAuthorizedOperations from v11, as the codec reads them.
    if (request.includeTopicAuthorizedOperations) {
      // As Kafka: for the topics the principal may describe (refused ones and unknown ids keep the default).
      for (const t of topics) {
        if (
          t.errorCode === ErrorCode.TOPIC_AUTHORIZATION_FAILED ||
          t.errorCode === ErrorCode.UNKNOWN_TOPIC_ID
        )
          continue;
        t.topicAuthorizedOperations = authorizedOperations(ctx, ResourceType.TOPIC, t.name!);
      }
    }
    return {
      throttleTimeMs: 0,
      brokers: broker.brokersFor(ctx.connection.listener),
      clusterId: config.clusterId,
      controllerId: config.nodeId,
      topics,
      clusterAuthorizedOperations: clusterOperations(request.includeClusterAuthorizedOperations, ctx),
    };
  },
  errorResponse(request, errorCode) {
    return { topics: (request.topics ?? []).map((t) => ({ name: t.name, topicId: t.topicId, errorCode })) };
  },
});

/**
 * The cluster's authorized operations when the client asks (Metadata v8-10, whose later versions leave
 * them to DescribeCluster, and DescribeCluster), as Kafka answers: 0 for a principal that may not
 * describe the cluster.
 */
export function clusterOperations(asked: boolean, ctx: RequestContext): number {
  if (!asked) return AUTHORIZED_OPERATIONS_OMITTED;
  if (!allowed(ctx, AclOperation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME)) return 0;
  return authorizedOperations(ctx, ResourceType.CLUSTER, CLUSTER_NAME);
}

/** Kafka's auto-creation check: Create on the cluster, or else on the topic. */
function mayCreateTopic(name: string, ctx: RequestContext): boolean {
  return (
    allowed(ctx, AclOperation.CREATE, ResourceType.CLUSTER, CLUSTER_NAME) ||
    allowed(ctx, AclOperation.CREATE, ResourceType.TOPIC, name)
  );
}

/** A topic asked by id: a refused principal gets the id back (ids are not secret), never the name. */
async function lookupById(topicId: string, ctx: RequestContext): Promise<TopicMetadata> {
  const byId = await ctx.broker.topics.lookupById(topicId);
  if (!byId) return { name: null, topicId, errorCode: ErrorCode.UNKNOWN_TOPIC_ID };
  if (!allowed(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, byId.record.name))
    return { name: null, topicId, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED };
  return describeTopic(byId, ctx);
}

/**
 * One topic asked by name, as Kafka's handleTopicMetadataRequest answers it: Describe is asked before
 * the topic's existence is looked at, so a refused principal learns nothing of it; a topic that would
 * be auto-created needs Create.
 */
async function lookup(name: string, mayCreate: boolean, ctx: RequestContext): Promise<TopicMetadata> {
  const { topics, config } = ctx.broker;
  if (!allowed(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, name))
    return { name, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED };
  const existing = await topics.lookup(name);
  if (existing) return describeTopic(existing, ctx);
  if (mayCreate && !mayCreateTopic(name, ctx))
    return { name, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED };
  if (topicNameError(name)) return { name, errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION };
  if (!mayCreate) return { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
  try {
    return describeTopic(await topics.getOrCreate(name, config.defaultPartitions, requester(ctx)), ctx);
  } catch (e) {
    if (e instanceof KafkaProtocolError) return { name, errorCode: e.code };
    throw e;
  }
}
