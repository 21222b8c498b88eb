import { ErrorCode, type TxnOffsetCommitRequest } from '@kch/protocol';
import type { CommittedOffset } from '@kch/storage';
import { OFFSET_METADATA_MAX_SIZE } from '../groups/offsets.js';
import { defineHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowedNames } from '../security/authorize.js';
import { coordinatorFor } from '../transactions/access.js';

type Topics = { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[];

/**
 * TxnOffsetCommit (KIP-98, KIP-447): offsets a transaction holds for a group, committed with it.
 * As Kafka's handleTxnOffsetCommitRequest: Write on the transactional id, Read on the group, Read on
 * each topic, the partition's existence; then the group's generation and member checks (v3+), then
 * the transaction's: the group must have been added (AddOffsetsToTxn), else TRANSACTION_ABORTABLE
 * from v4 and INVALID_TXN_STATE before.
 */
export default defineHandler({
  api: 'TxnOffsetCommit',
  async handle(request, ctx) {
    const v = ctx.apiVersion;
    const all = (code: number) => ({ throttleTimeMs: 0, topics: every(request, code) });
    const coordinator = coordinatorFor(ctx, request.transactionalId, request.groupId);
    if (typeof coordinator === 'number') return all(coordinator);
    const readable = allowedNames(
      ctx,
      AclOperation.READ,
      ResourceType.TOPIC,
      request.topics.map((t) => t.name),
    );
    const topics = every(request, ErrorCode.NONE);
    const offsets: CommittedOffset[] = [];
    const accepted: { errorCode: number }[] = [];
    const now = Date.now();
    request.topics.forEach((t, i) => {
      const topic = ctx.broker.topics.get(t.name);
      t.partitions.forEach((p, j) => {
        const out = topics[i]!.partitions[j]!;
        if (!readable.has(t.name)) out.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
        else if (!topic?.logs[p.partitionIndex]) out.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else if (p.committedMetadata !== null && p.committedMetadata.length > OFFSET_METADATA_MAX_SIZE)
          out.errorCode = ErrorCode.OFFSET_METADATA_TOO_LARGE;
        else {
          offsets.push({
            topic: t.name,
            partition: p.partitionIndex,
            offset: Number(p.committedOffset),
            leaderEpoch: v >= 2 ? p.committedLeaderEpoch : -1,
            metadata: p.committedMetadata ?? '',
            commitTimestamp: now,
          });
          accepted.push(out);
        }
      });
    });
    if (offsets.length === 0) return { throttleTimeMs: 0, topics };
    let code = ctx.broker.groups.validateTransactionalCommit({
      groupId: request.groupId,
      generationId: v >= 3 ? request.generationId : -1,
      memberId: v >= 3 ? request.memberId : '',
      groupInstanceId: v >= 3 ? request.groupInstanceId : null,
      apiVersion: v,
    });
    if (code === ErrorCode.NONE) {
      code = await coordinator.addOffsets(
        request.transactionalId,
        Number(request.producerId),
        request.producerEpoch,
        request.groupId,
        offsets,
        v >= 4 ? ErrorCode.TRANSACTION_ABORTABLE : ErrorCode.INVALID_TXN_STATE,
      );
    }
    // Before v2 a coordinator still loading was COORDINATOR_NOT_AVAILABLE to the client.
    if (v < 2 && code === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) code = ErrorCode.COORDINATOR_NOT_AVAILABLE;
    for (const out of accepted) out.errorCode = code;
    return { throttleTimeMs: 0, topics };
  },
  errorResponse(request, errorCode) {
    return { topics: every(request, errorCode) };
  },
});

function every(request: TxnOffsetCommitRequest, errorCode: number): Topics {
  return request.topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
  }));
}
