import {
  type CreateTopicsRequest,
  type CreateTopicsResponse,
  ErrorCode,
  type Init,
  KafkaProtocolError,
  ZERO_UUID,
} from '@kch/protocol';
import { defineHandler, type RequestContext, requester } from '../handler.js';
import { topicNameError } from '../log/topics.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';
import { describeTopicConfigs, normalizeTopicConfigs } from '../topic-configs.js';

type TopicResult = Init<CreateTopicsResponse['topics'][number]>;
type CreatableTopic = CreateTopicsRequest['topics'][number];

/**
 * Kafka's controller writes at most 10,000 records per request (QuorumController.MAX_RECORDS_PER_USER_OP),
 * one per partition, and answers POLICY_VIOLATION beyond that. kch applies the bound per topic: it keeps
 * a request from making a million partition logs.
 */
export const MAX_NEW_PARTITIONS = 10_000;

export function tooManyPartitions(count: number): KafkaProtocolError | null {
  return count > MAX_NEW_PARTITIONS
    ? new KafkaProtocolError('POLICY_VIOLATION', 'Unable to perform excessively large batch operation.')
    : null;
}

const ONE_REPLICA =
  'kch keeps one replica of each partition (its storage provides the durability), so the replication factor is 1 (or -1 for the default)';

/**
 * Kafka's check of one partition's manual replica assignment (ReplicationControlManager
 * .validateManualPartitionAssignment), against a cluster of this one broker: the only valid
 * assignment is [nodeId].
 */
export function checkManualAssignment(brokerIds: readonly number[], nodeId: number): void {
  if (brokerIds.length === 0) {
    throw new KafkaProtocolError(
      'INVALID_REPLICA_ASSIGNMENT',
      'The manual partition assignment includes an empty replica list.',
    );
  }
  const sorted = [...brokerIds].sort((a, b) => a - b);
  let previous: number | undefined;
  for (const id of sorted) {
    if (id !== nodeId) {
      throw new KafkaProtocolError(
        'INVALID_REPLICA_ASSIGNMENT',
        `The manual partition assignment includes broker ${id}, but no such broker is registered. The only broker is ${nodeId}; ${ONE_REPLICA}.`,
      );
    }
    if (id === previous) {
      throw new KafkaProtocolError(
        'INVALID_REPLICA_ASSIGNMENT',
        `The manual partition assignment includes the broker ${id} more than once.`,
      );
    }
    previous = id;
  }
}

/**
 * CreateTopics, as Kafka's controller answers it: duplicates in one request get INVALID_REQUEST, each
 * other topic its own result; with validateOnly (v1+) everything is checked and nothing created.
 */
export default defineHandler({
  api: 'CreateTopics',
  serial: true,
  async handle(request, ctx) {
    const validateOnly = ctx.apiVersion >= 1 && request.validateOnly;
    const seen = new Map<string, number>();
    for (const t of request.topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
    const reported = new Set<string>();
    const topics: TopicResult[] = [];
    // The controller's createTopics: Create on the cluster covers every topic, else Create on each.
    const clusterCreate = allowed(ctx, AclOperation.CREATE, ResourceType.CLUSTER, CLUSTER_NAME);
    for (const t of request.topics) {
      if (seen.get(t.name)! > 1) {
        // Kafka answers a name given more than once with one INVALID_REQUEST and creates nothing for it.
        if (!reported.has(t.name)) {
          reported.add(t.name);
          topics.push(failure(t.name, new KafkaProtocolError('INVALID_REQUEST', 'Duplicate topic name.')));
        }
        continue;
      }
      if (!clusterCreate && !allowed(ctx, AclOperation.CREATE, ResourceType.TOPIC, t.name)) {
        topics.push(
          failure(t.name, new KafkaProtocolError('TOPIC_AUTHORIZATION_FAILED', 'Authorization failed.')),
        );
        continue;
      }
      // Without DescribeConfigs on the topic, it is created but its configs are not shown.
      const describable = allowed(ctx, AclOperation.DESCRIBE_CONFIGS, ResourceType.TOPIC, t.name);
      topics.push(await createTopic(t, validateOnly, describable, ctx));
    }
    return { throttleTimeMs: 0, topics };
  },
  errorResponse(request, errorCode) {
    return {
      topics: request.topics.map((t) => ({
        name: t.name,
        errorCode,
        numPartitions: -1,
        replicationFactor: -1,
        configs: [],
      })),
    };
  },
});

function failure(name: string, e: KafkaProtocolError): TopicResult {
  return {
    name,
    topicId: ZERO_UUID,
    errorCode: e.code,
    errorMessage: e.message,
    numPartitions: -1,
    replicationFactor: -1,
    configs: [],
  };
}

async function createTopic(
  t: CreatableTopic,
  validateOnly: boolean,
  describable: boolean,
  ctx: RequestContext,
): Promise<TopicResult> {
  const { broker } = ctx;
  try {
    const nameError = topicNameError(t.name);
    if (nameError) throw new KafkaProtocolError('INVALID_TOPIC_EXCEPTION', nameError);
    if (broker.topics.get(t.name)) {
      throw new KafkaProtocolError('TOPIC_ALREADY_EXISTS', `Topic '${t.name}' already exists.`);
    }
    checkCollision(t.name, ctx);

    const nullConfigs = t.configs.filter((c) => c.value === null).map((c) => c.name);
    if (nullConfigs.length > 0) {
      throw new KafkaProtocolError(
        'INVALID_CONFIG',
        `Null value not supported for topic configs: ${nullConfigs.join(',')}`,
      );
    }
    const brokerDefaults = broker.topicDefaults;
    const requested: Record<string, string> = {};
    for (const c of t.configs) requested[c.name] = c.value!;
    const configs = normalizeTopicConfigs(requested, brokerDefaults, t.name);

    const partitions = partitionCount(t, ctx);
    const tooMany = tooManyPartitions(partitions);
    if (tooMany) throw tooMany;

    const created = await broker.topics.create(t.name, partitions, configs, validateOnly, requester(ctx));
    const result = {
      name: t.name,
      // Kafka makes up a topic id for a validate-only creation; kch answers the zero id: no topic has it.
      topicId: created?.record.topicId ?? ZERO_UUID,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
    };
    if (!describable) {
      // As Kafka's ReplicationControlManager: no configs, counts left at -1, the configs' error set.
      const refused = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
      return {
        ...result,
        topicConfigErrorCode: refused,
        numPartitions: -1,
        replicationFactor: -1,
        configs: [],
      };
    }
    return {
      ...result,
      topicConfigErrorCode: ErrorCode.NONE,
      numPartitions: partitions,
      replicationFactor: 1,
      configs: describeTopicConfigs(
        configs,
        brokerDefaults,
        created ? (broker.storage.topicLocation?.(t.name) ?? null) : null,
      ).map((c) => ({
        name: c.name,
        value: c.value,
        readOnly: c.readOnly,
        configSource: c.source,
        isSensitive: c.sensitive,
      })),
    };
  } catch (e) {
    if (e instanceof KafkaProtocolError) return failure(t.name, e);
    throw e;
  }
}

/** Kafka refuses a name that differs from an existing one only by '.' versus '_' (their metric names collide). */
function checkCollision(name: string, ctx: RequestContext): void {
  if (!/[._]/.test(name)) return;
  const unified = name.replaceAll('.', '_');
  for (const other of ctx.broker.topics.list()) {
    const otherName = other.record.name;
    if (otherName !== name && otherName.replaceAll('.', '_') === unified) {
      throw new KafkaProtocolError(
        'INVALID_TOPIC_EXCEPTION',
        `Topic '${name}' collides with existing topic: ${otherName}`,
      );
    }
  }
}

/** The number of partitions to create, after Kafka's checks of the counts and the manual assignment. */
function partitionCount(t: CreatableTopic, ctx: RequestContext): number {
  const { nodeId, defaultPartitions } = ctx.broker.config;
  if (t.assignments.length > 0) {
    if (t.replicationFactor !== -1) {
      throw new KafkaProtocolError(
        'INVALID_REQUEST',
        'A manual partition assignment was specified, but replication factor was not set to -1.',
      );
    }
    if (t.numPartitions !== -1) {
      throw new KafkaProtocolError(
        'INVALID_REQUEST',
        'A manual partition assignment was specified, but numPartitions was not set to -1.',
      );
    }
    const indexes = new Set<number>();
    for (const a of t.assignments) {
      if (indexes.has(a.partitionIndex)) {
        throw new KafkaProtocolError(
          'INVALID_REPLICA_ASSIGNMENT',
          `Found multiple manual partition assignments for partition ${a.partitionIndex}`,
        );
      }
      checkManualAssignment(a.brokerIds, nodeId);
      indexes.add(a.partitionIndex);
    }
    for (let i = 0; i < indexes.size; i++) {
      if (!indexes.has(i)) {
        throw new KafkaProtocolError(
          'INVALID_REPLICA_ASSIGNMENT',
          'partitions should be a consecutive 0-based integer sequence',
        );
      }
    }
    return indexes.size;
  }
  if (t.replicationFactor < -1 || t.replicationFactor === 0) {
    throw new KafkaProtocolError(
      'INVALID_REPLICATION_FACTOR',
      'Replication factor must be larger than 0, or -1 to use the default value.',
    );
  }
  if (t.numPartitions < -1 || t.numPartitions === 0) {
    throw new KafkaProtocolError(
      'INVALID_PARTITIONS',
      'Number of partitions was set to an invalid non-positive value.',
    );
  }
  if (t.replicationFactor > 1) {
    const rf = t.replicationFactor;
    throw new KafkaProtocolError(
      'INVALID_REPLICATION_FACTOR',
      `Unable to replicate the partition ${rf} time(s): The target replication factor of ${rf} cannot be reached because only 1 broker(s) are registered. ${ONE_REPLICA}.`,
    );
  }
  return t.numPartitions === -1 ? defaultPartitions : t.numPartitions;
}
