import { type ElectLeadersRequest, ErrorCode, errorInfo } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';

type PartitionResult = { partitionId: number; errorCode: number; errorMessage: string | null };
type Results = { topic: string; partitionResult: PartitionResult[] }[];

/** Kafka's election types (KIP-460): the preferred replica, or any live one (unclean). */
const PREFERRED = 0;
const UNCLEAN = 1;

/**
 * ElectLeaders (kafka-leader-election.sh): every partition has one replica, its leader, which is also
 * its preferred replica, so there is never an election to hold. Each partition named is answered
 * ELECTION_NOT_NEEDED, as Kafka answers for a partition whose preferred leader leads; a request for
 * every partition (null) is answered with none, as Kafka leaves out the partitions that need no
 * election. Alter on the cluster is required.
 */
export default defineHandler({
  api: 'ElectLeaders',
  serial: true,
  handle(request, ctx) {
    if (!allowed(ctx, AclOperation.ALTER, ResourceType.CLUSTER, CLUSTER_NAME))
      return { throttleTimeMs: 0, ...refused(request, ErrorCode.CLUSTER_AUTHORIZATION_FAILED) };
    if (ctx.apiVersion >= 1 && request.electionType !== PREFERRED && request.electionType !== UNCLEAN)
      return { throttleTimeMs: 0, ...refused(request, ErrorCode.INVALID_REQUEST) };
    const replicaElectionResults: Results = (request.topicPartitions ?? []).map((t) => {
      const topic = ctx.broker.topics.get(t.topic);
      return {
        topic: t.topic,
        partitionResult: t.partitions.map((partitionId) => {
          if (!topic)
            return result(partitionId, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `No such topic as ${t.topic}`);
          if (!topic.logs[partitionId])
            return result(
              partitionId,
              ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              `No such partition as ${t.topic}-${partitionId}`,
            );
          return result(partitionId, ErrorCode.ELECTION_NOT_NEEDED);
        }),
      };
    });
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, replicaElectionResults };
  },
  errorResponse(request, errorCode) {
    return refused(request, errorCode);
  },
});

function result(partitionId: number, errorCode: number, message?: string): PartitionResult {
  return { partitionId, errorCode, errorMessage: message ?? errorInfo(errorCode)?.message ?? null };
}

/** The whole request refused: every partition named with the error (ElectLeadersRequest.getErrorResponse). */
function refused(request: ElectLeadersRequest, errorCode: number) {
  return {
    errorCode,
    replicaElectionResults: (request.topicPartitions ?? []).map((t) => ({
      topic: t.topic,
      partitionResult: t.partitions.map((partitionId) => result(partitionId, errorCode)),
    })),
  };
}
