import {
  type DescribeTopicPartitionsResponse,
  ErrorCode,
  type Init,
  KafkaProtocolError,
  ZERO_UUID,
} from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { topicNameError } from '../log/topics.js';
import {
  AclOperation,
  operationsBitField,
  ResourceType,
  supportedOperations,
} from '../security/acl-codes.js';
import { allowed, authorizedOperations } from '../security/authorize.js';
import { describeTopic } from './metadata.js';

type TopicResult = Init<DescribeTopicPartitionsResponse['topics'][number]>;
type Cursor = Init<NonNullable<DescribeTopicPartitionsResponse['nextCursor']>>;

/** Kafka's max.request.partition.size.limit default: the most partitions one response describes. */
const MAX_PARTITIONS_PER_RESPONSE = 2000;

/**
 * The operations on a topic a client may perform, as Kafka reports them without an authorizer: every
 * operation the TOPIC resource supports, as a bit field of AclOperation codes: READ 3, WRITE 4,
 * CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11.
 */
export const TOPIC_OPERATIONS = operationsBitField(supportedOperations(ResourceType.TOPIC));

/**
 * DescribeTopicPartitions (KIP-966): topics in name order, their partitions as Metadata describes them,
 * at most `responsePartitionLimit` partitions per response, continued from `cursor`; `nextCursor`
 * says where the next request starts. As Kafka's DescribeTopicPartitionsRequestHandler and
 * KRaftMetadataCache.getTopicMetadataForDescribeTopicResponse.
 */
export default defineHandler({
  api: 'DescribeTopicPartitions',
  serial: true,
  handle(request, ctx) {
    const { topics } = ctx.broker;
    const fetchAll = request.topics.length === 0;
    const cursor = request.cursor;
    const cursorTopic = cursor?.topicName ?? '';
    const names = new Set<string>();
    for (const name of fetchAll
      ? topics.list().map((t) => t.record.name)
      : request.topics.map((t) => t.name)) {
      if (name >= cursorTopic) names.add(name);
    }
    if (cursor && !fetchAll && !names.has(cursor.topicName)) {
      throw new KafkaProtocolError(
        'INVALID_REQUEST',
        `DescribeTopicPartitionsRequest topic list should contain the cursor topic: ${cursor.topicName}`,
      );
    }
    if (cursor && cursor.partitionIndex < 0) {
      throw new KafkaProtocolError(
        'INVALID_REQUEST',
        'DescribeTopicPartitionsRequest cursor partition must be valid',
      );
    }

    let remaining = Math.max(Math.min(MAX_PARTITIONS_PER_RESPONSE, request.responsePartitionLimit), 1);
    const results: TopicResult[] = [];
    // Topics named but not describable: listed after the others, without saying whether they exist.
    const refused: TopicResult[] = [];
    let nextCursor: Cursor | null = null;
    // Java's String.compareTo and JavaScript's default sort both order by UTF-16 code units.
    for (const name of [...names].sort()) {
      // Asked as Kafka's filtered stream asks it: for each topic reached, before the limit is looked at.
      if (!allowed(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, name)) {
        if (!fetchAll) {
          refused.push({
            errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
            name,
            topicId: ZERO_UUID,
            isInternal: false,
            partitions: [],
          });
        }
        continue;
      }
      if (remaining === 0) {
        nextCursor = { topicName: name, partitionIndex: 0 };
        break;
      }
      const topic = topics.get(name);
      if (!topic) {
        if (!fetchAll) {
          const invalid = topicNameError(name) !== null;
          results.push({
            errorCode: invalid ? ErrorCode.INVALID_TOPIC_EXCEPTION : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            name,
            topicId: ZERO_UUID,
            isInternal: false,
            partitions: [],
            topicAuthorizedOperations: authorizedOperations(ctx, ResourceType.TOPIC, name),
          });
        }
        continue;
      }
      const described = describeTopic(topic, ctx);
      const count = topic.logs.length;
      const start = cursor && name === cursorTopic ? cursor.partitionIndex : 0;
      const end = Math.min(count, start + remaining);
      const partitions = (described.partitions ?? []).slice(start, Math.max(start, end)).map((p) => ({
        ...p,
        eligibleLeaderReplicas: [],
        lastKnownElr: [],
      }));
      results.push({
        errorCode: ErrorCode.NONE,
        name,
        topicId: described.topicId,
        isInternal: false,
        partitions,
        topicAuthorizedOperations: authorizedOperations(ctx, ResourceType.TOPIC, name),
      });
      if (end < count) {
        nextCursor = { topicName: name, partitionIndex: end };
        break;
      }
      remaining -= partitions.length;
    }
    return { throttleTimeMs: 0, topics: [...results, ...refused], nextCursor };
  },
  errorResponse(request, errorCode) {
    return {
      topics: request.topics.map((t) => ({ name: t.name, errorCode, isInternal: false, partitions: [] })),
      nextCursor: null,
    };
  },
});
