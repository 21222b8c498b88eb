import { ErrorCode, KafkaProtocolError, type WriteTxnMarkersRequest } from '@kch/protocol';
import { defineHandler, type RequestContext } from '../handler.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed } from '../security/authorize.js';

type Marker = WriteTxnMarkersRequest['markers'][number];

/**
 * WriteTxnMarkers: a COMMIT or ABORT marker written straight into partitions, as a coordinator does
 * on other brokers and kafka-transactions.sh's `abort` does for a hanging transaction (one whose
 * coordinator lost track of it). ClusterAction on the cluster, as in Kafka. An ABORT of a
 * transaction this broker's coordinator still holds open goes through the coordinator instead, so
 * that its state, its producer's epoch and every one of its partitions end together.
 */
export default defineHandler({
  api: 'WriteTxnMarkers',
  async handle(request, ctx) {
    if (!allowed(ctx, AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME))
      return everyPartition(request, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const markers = await Promise.all(request.markers.map((m) => writeMarker(m, ctx)));
    return { markers };
  },
  errorResponse(request, errorCode) {
    return everyPartition(request, errorCode);
  },
});

async function writeMarker(m: Marker, ctx: RequestContext) {
  const producerId = Number(m.producerId);
  const open = ctx.broker.transactions?.openTransactionOf(producerId);
  if (open !== undefined && !m.transactionResult) {
    const code = await ctx.broker.transactions!.abort(open, 'admin');
    return result(m, () => code);
  }
  const codes = await Promise.all(
    m.topics.flatMap((t) =>
      t.partitionIndexes.map(async (p) => {
        const log = ctx.broker.topics.get(t.name)?.logs[p];
        if (!log) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        try {
          await log.open();
          // Kafka's ProducerAppendInfo.appendEndTxnMarker: a marker older than the producer is refused.
          if ((log.producers.get(producerId)?.epoch ?? -1) > m.producerEpoch)
            return ErrorCode.INVALID_PRODUCER_EPOCH;
          await log.appendMarker(producerId, m.producerEpoch, m.transactionResult, m.coordinatorEpoch);
          return ErrorCode.NONE;
        } catch (e) {
          return e instanceof KafkaProtocolError ? e.code : ErrorCode.KAFKA_STORAGE_ERROR;
        }
      }),
    ),
  );
  let i = 0;
  return result(m, () => codes[i++]!);
}

function result(m: Marker, code: () => number) {
  return {
    producerId: m.producerId,
    topics: m.topics.map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, errorCode: code() })),
    })),
  };
}

function everyPartition(request: WriteTxnMarkersRequest, errorCode: number) {
  return { markers: request.markers.map((m) => result(m, () => errorCode)) };
}
