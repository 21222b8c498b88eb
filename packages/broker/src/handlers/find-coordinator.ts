import { ErrorCode, errorInfo, KafkaProtocolError } from '@kch/protocol';
import { defineHandler, type RequestContext } from '../handler.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';

/** FindCoordinator key types (FindCoordinatorRequest.CoordinatorType). */
const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;
const KEY_TYPE_SHARE = 2;

interface Coordinator {
  errorCode: number;
  errorMessage: string | null;
  nodeId: number;
  host: string;
  port: number;
}

/**
 * Where a key's coordinator is: this broker for every group when it is alone; with several brokers,
 * the holder of the group's slot (../cluster/leadership.ts). Transactional ids: this broker, where it
 * serves transactions.
 *
 * Where it does not (a storage without transactions, several brokers over one database), the answer
 * is INVALID_REQUEST, not COORDINATOR_NOT_AVAILABLE (what Kafka answered for share groups before
 * KIP-932): that one is retriable, so a transactional producer would retry until max.block.ms and fail
 * with a bare timeout, while a non-retriable code fails initTransactions at once and the Java client
 * shows our errorMessage ("Could not find a coordinator ... due to unexpected error: <message>").
 * INVALID_REQUEST is also what Kafka answers for a key type it does not serve (an unknown type, or
 * share keys below v6).
 */
function coordinatorFor(keyType: number, key: string, ctx: RequestContext): Coordinator {
  // Kafka's getCoordinator asks Describe on the group or transactional id before anything else.
  const refused =
    keyType === KEY_TYPE_GROUP && !allowed(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, key)
      ? ErrorCode.GROUP_AUTHORIZATION_FAILED
      : keyType === KEY_TYPE_TRANSACTION &&
          !allowed(ctx, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, key)
        ? ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        : undefined;
  if (refused !== undefined)
    return { errorCode: refused, errorMessage: errorInfo(refused)!.message, nodeId: -1, host: '', port: -1 };
  if (keyType === KEY_TYPE_GROUP) {
    const coordinator = ctx.broker.coordinatorFor(key, ctx.connection.listener);
    // Between a coordinator's death and its slot's takeover: retriable, the client asks again.
    if (!coordinator) {
      const code = ErrorCode.COORDINATOR_NOT_AVAILABLE;
      return { errorCode: code, errorMessage: errorInfo(code)!.message, nodeId: -1, host: '', port: -1 };
    }
    // Kafka sets the error message to Errors.NONE.message(), which is "NONE".
    return { errorCode: ErrorCode.NONE, errorMessage: 'NONE', ...coordinator };
  }
  if (keyType === KEY_TYPE_TRANSACTION) {
    const refusal = ctx.broker.transactionsRefused();
    if (refusal === null)
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: 'NONE',
        ...ctx.broker.transactionCoordinatorFor(ctx.connection.listener),
      };
    return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: refusal, nodeId: -1, host: '', port: -1 };
  }
  const errorMessage =
    keyType === KEY_TYPE_SHARE
      ? 'Share groups are not supported by this broker (kch).'
      : `Unknown coordinator key type ${keyType}.`;
  return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage, nodeId: -1, host: '', port: -1 };
}

/** FindCoordinator: v0-3 one key, v4+ a batch of keys (KIP-699). */
export default defineHandler({
  api: 'FindCoordinator',
  handle(request, ctx) {
    const keyType = ctx.apiVersion >= 1 ? request.keyType : KEY_TYPE_GROUP;
    // Share keys (v6+) need ClusterAction on the cluster, else the whole request fails, as in Kafka.
    if (
      keyType === KEY_TYPE_SHARE &&
      ctx.apiVersion >= 6 &&
      !allowed(ctx, AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME)
    ) {
      throw new KafkaProtocolError('CLUSTER_AUTHORIZATION_FAILED');
    }
    if (ctx.apiVersion < 4) return { throttleTimeMs: 0, ...coordinatorFor(keyType, request.key, ctx) };
    return {
      throttleTimeMs: 0,
      coordinators: request.coordinatorKeys.map((key) => ({ key, ...coordinatorFor(keyType, key, ctx) })),
    };
  },
  errorResponse(request, errorCode, ctx) {
    const failed = { errorCode, errorMessage: null, nodeId: -1, host: '', port: -1 };
    if (ctx.apiVersion < 4) return failed;
    return { coordinators: request.coordinatorKeys.map((key) => ({ key, ...failed })) };
  },
});
