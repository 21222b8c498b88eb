import {
  type DeleteTopicsResponse,
  ErrorCode,
  type Init,
  KafkaProtocolError,
  ZERO_UUID,
} from '@kch/protocol';
import { defineHandler, requester } from '../handler.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';

type TopicResult = Init<DeleteTopicsResponse['responses'][number]>;

/**
 * DeleteTopics: by name (v0-5: topicNames; v6+: topics with a name) or by topic id (v6+: topics with a
 * null name), with the checks of Kafka's ControllerApis.deleteTopics: a topic named twice, an id given
 * twice, both or neither of name and id, or a name and the id it maps to, get INVALID_REQUEST.
 */
export default defineHandler({
  api: 'DeleteTopics',
  serial: true,
  async handle(request, ctx) {
    const { topics } = ctx.broker;
    const results: TopicResult[] = [];
    const answer = (name: string | null, topicId: string, errorCode: number, errorMessage: string | null) =>
      results.push({ name, topicId, errorCode, errorMessage });
    const fail = (name: string | null, topicId: string, e: KafkaProtocolError) =>
      answer(name, topicId, e.code, e.message);

    const entries =
      ctx.apiVersion >= 6 ? request.topics : request.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
    const names: string[] = [];
    const ids: string[] = [];
    for (const t of entries) {
      if (t.name === null && t.topicId === ZERO_UUID) {
        fail(
          null,
          ZERO_UUID,
          new KafkaProtocolError('INVALID_REQUEST', 'Neither topic name nor id were specified.'),
        );
      } else if (t.name === null) {
        ids.push(t.topicId);
      } else if (t.topicId === ZERO_UUID) {
        names.push(t.name);
      } else {
        fail(
          t.name,
          t.topicId,
          new KafkaProtocolError('INVALID_REQUEST', 'You may not specify both topic name and topic id.'),
        );
      }
    }
    const uniqueNames = once(names, (name) =>
      fail(name, ZERO_UUID, new KafkaProtocolError('INVALID_REQUEST', 'Duplicate topic name.')),
    );
    const uniqueIds = once(ids, (id) =>
      fail(null, id, new KafkaProtocolError('INVALID_REQUEST', 'Duplicate topic id.')),
    );

    // The controller's deleteTopics: Delete on the cluster covers every topic; else Delete on a topic
    // allows deleting it, and Describe on it to hear of it (a refused id's name stays unsaid).
    const clusterDelete = allowed(ctx, AclOperation.DELETE, ResourceType.CLUSTER, CLUSTER_NAME);
    const describable = (name: string) =>
      clusterDelete || allowed(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, name);
    const deletable = (name: string) =>
      clusterDelete || allowed(ctx, AclOperation.DELETE, ResourceType.TOPIC, name);
    const refused = () => new KafkaProtocolError('TOPIC_AUTHORIZATION_FAILED');

    // The topics to delete, by id, with their names.
    const toDelete = new Map<string, string>();
    for (const id of uniqueIds) {
      const topic = topics.getById(id);
      if (!topic) fail(null, id, new KafkaProtocolError('UNKNOWN_TOPIC_ID'));
      else if (!deletable(topic.record.name))
        fail(describable(topic.record.name) ? topic.record.name : null, id, refused());
      else toDelete.set(id, topic.record.name);
    }
    for (const name of uniqueNames) {
      if (!describable(name)) {
        fail(name, ZERO_UUID, refused());
        continue;
      }
      const topic = topics.get(name);
      if (!topic) {
        fail(name, ZERO_UUID, new KafkaProtocolError('UNKNOWN_TOPIC_OR_PARTITION'));
        continue;
      }
      const id = topic.record.topicId;
      if (!deletable(name)) {
        fail(name, ZERO_UUID, refused());
      } else if (toDelete.has(id)) {
        // As Kafka: the topic is not deleted, and this one answer covers both the name and the id.
        toDelete.delete(id);
        fail(
          name,
          id,
          new KafkaProtocolError(
            'INVALID_REQUEST',
            'The provided topic name maps to an ID that was already supplied.',
          ),
        );
      } else {
        toDelete.set(id, name);
      }
    }

    for (const [id, name] of toDelete) {
      try {
        await topics.delete(name, requester(ctx));
        answer(name, id, ErrorCode.NONE, null);
      } catch (e) {
        if (!(e instanceof KafkaProtocolError)) throw e;
        fail(name, id, e);
      }
    }
    return { throttleTimeMs: 0, responses: results };
  },
  errorResponse(request, errorCode, ctx) {
    const entries =
      ctx.apiVersion >= 6 ? request.topics : request.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
    return { responses: entries.map((t) => ({ name: t.name, topicId: t.topicId, errorCode })) };
  },
});

/** The values that occur once, in order; `duplicate` is called once for each value that occurs more often. */
function once<T>(values: readonly T[], duplicate: (v: T) => void): T[] {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  for (const [v, n] of counts) if (n > 1) duplicate(v);
  return [...counts].filter(([, n]) => n === 1).map(([v]) => v);
}
