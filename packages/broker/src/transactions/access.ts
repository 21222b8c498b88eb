/**
 * What a producer's transactional request is checked for before its coordinator is asked, in Kafka's
 * order (KafkaApis): Write on its transactional id, Read on the group it names (AddOffsetsToTxn,
 * TxnOffsetCommit), then a transaction coordinator on this broker.
 */
import { ErrorCode } from '@kch/protocol';
import type { RequestContext } from '../handler.js';
import { AclOperation, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';
import type { TransactionCoordinator } from './coordinator.js';

/** The coordinator that serves the request, or the error code that answers it. */
export function coordinatorFor(
  ctx: RequestContext,
  transactionalId: string,
  groupId?: string,
): TransactionCoordinator | number {
  if (!allowed(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, transactionalId))
    return ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
  if (groupId !== undefined && !allowed(ctx, AclOperation.READ, ResourceType.GROUP, groupId))
    return ErrorCode.GROUP_AUTHORIZATION_FAILED;
  return ctx.broker.transactions ?? ErrorCode.NOT_COORDINATOR;
}
