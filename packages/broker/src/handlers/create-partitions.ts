import { type CreatePartitionsRequest, ErrorCode, KafkaProtocolError } from '@kch/protocol';
import { defineHandler, type RequestContext } from '../handler.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';
import { checkManualAssignment, tooManyPartitions } from './create-topics.js';

type PartitionsTopic = CreatePartitionsRequest['topics'][number];

/**
 * CreatePartitions: raises a topic's partition count, as Kafka's controller does (the count must grow;
 * manual assignments, one per new partition, may only name this broker); validateOnly checks and
 * changes nothing.
 */
export default defineHandler({
  api: 'CreatePartitions',
  serial: true,
  async handle(request, ctx) {
    const counts = new Map<string, number>();
    for (const t of request.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
    const reported = new Set<string>();
    const results = [];
    for (const t of request.topics) {
      if (counts.get(t.name)! > 1) {
        if (!reported.has(t.name)) {
          reported.add(t.name);
          results.push({
            name: t.name,
            errorCode: ErrorCode.INVALID_REQUEST,
            errorMessage: 'Duplicate topic name.',
          });
        }
        continue;
      }
      // Alter on the topic, asked before its existence (the controller's createPartitions); Kafka
      // answers the refusal without a message.
      if (!allowed(ctx, AclOperation.ALTER, ResourceType.TOPIC, t.name)) {
        results.push({ name: t.name, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null });
        continue;
      }
      try {
        await createPartitions(t, request.validateOnly, ctx);
        results.push({ name: t.name, errorCode: ErrorCode.NONE, errorMessage: null });
      } catch (e) {
        if (!(e instanceof KafkaProtocolError)) throw e;
        results.push({ name: t.name, errorCode: e.code, errorMessage: e.message });
      }
    }
    return { throttleTimeMs: 0, results };
  },
  errorResponse(request, errorCode) {
    return { results: request.topics.map((t) => ({ name: t.name, errorCode, errorMessage: null })) };
  },
});

async function createPartitions(
  t: PartitionsTopic,
  validateOnly: boolean,
  ctx: RequestContext,
): Promise<void> {
  const { topics, config } = ctx.broker;
  const topic = topics.get(t.name);
  if (!topic) throw new KafkaProtocolError('UNKNOWN_TOPIC_OR_PARTITION');
  const current = topic.logs.length;
  if (t.count === current) {
    throw new KafkaProtocolError('INVALID_PARTITIONS', `Topic already has ${current} partition(s).`);
  }
  if (t.count < current) {
    throw new KafkaProtocolError(
      'INVALID_PARTITIONS',
      `The topic ${t.name} currently has ${current} partition(s); ${t.count} would not be an increase.`,
    );
  }
  const additional = t.count - current;
  if (t.assignments !== null && t.assignments.length !== additional) {
    throw new KafkaProtocolError(
      'INVALID_REPLICA_ASSIGNMENT',
      `Attempted to add ${additional} additional partition(s), but only ${t.assignments.length} assignment(s) were specified.`,
    );
  }
  const tooMany = tooManyPartitions(additional);
  if (tooMany) throw tooMany;
  for (const a of t.assignments ?? []) checkManualAssignment(a.brokerIds, config.nodeId);
  if (!validateOnly) await topics.setPartitionCount(t.name, t.count);
}
