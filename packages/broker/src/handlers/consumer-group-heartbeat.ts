import { ErrorCode } from '@kch/protocol';
import { clientHostOf, heartbeatError } from '../groups/coordinator.js';
import { defineHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowed, allowedNames } from '../security/authorize.js';

/**
 * ConsumerGroupHeartbeat (KIP-848): a consumer group member joins, heartbeats, gets its assignment and
 * leaves through this one API (../groups/consumer/heartbeat.ts). As Kafka's
 * handleConsumerGroupHeartbeat: Read on the group, else GROUP_AUTHORIZATION_FAILED; Describe on every
 * subscribed topic name, else TOPIC_AUTHORIZATION_FAILED.
 */
export default defineHandler({
  api: 'ConsumerGroupHeartbeat',
  handle(request, ctx) {
    if (!allowed(ctx, AclOperation.READ, ResourceType.GROUP, request.groupId))
      return { throttleTimeMs: 0, ...heartbeatError(ErrorCode.GROUP_AUTHORIZATION_FAILED) };
    if (request.subscribedTopicNames) {
      const names = request.subscribedTopicNames;
      const described = allowedNames(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, names);
      const refused = names.filter((n) => !described.has(n));
      if (refused.length > 0)
        return {
          throttleTimeMs: 0,
          ...heartbeatError(
            ErrorCode.TOPIC_AUTHORIZATION_FAILED,
            `The group is not authorized to describe topics: ${refused.join(', ')}.`,
          ),
        };
    }
    const r = ctx.broker.groups.consumerGroupHeartbeat({
      apiVersion: ctx.apiVersion,
      groupId: request.groupId,
      memberId: request.memberId,
      memberEpoch: request.memberEpoch,
      instanceId: request.instanceId,
      rackId: request.rackId,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      subscribedTopicNames: request.subscribedTopicNames,
      subscribedTopicRegex: request.subscribedTopicRegex,
      serverAssignor: request.serverAssignor,
      topicPartitions: request.topicPartitions,
      clientId: ctx.header.clientId ?? '',
      clientHost: clientHostOf(ctx.connection.remoteAddress),
    });
    return { throttleTimeMs: 0, ...r };
  },
  errorResponse(_request, errorCode) {
    return heartbeatError(errorCode);
  },
});
