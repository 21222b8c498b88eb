/**
 * Transactions for `kch transactions`, as kafka-transactions.sh asks the brokers: ListTransactions,
 * DescribeTransactions and DescribeProducers through the library's own request code (callApi), and
 * WriteTxnMarkers, which the library has no request for, written here with its Writer (the request
 * kafka-transactions.sh's `abort` sends to the partition's leader).
 */
import { createAPI, type Reader, Writer } from '@platformatic/kafka';
import { callApi, callRequest } from './admin-api.js';
import type { Kafka } from './kafka.js';

export interface ListedTransaction {
  transactionalId: string;
  producerId: bigint;
  transactionState: string;
}

export async function listTransactions(
  kafka: Kafka,
  filters: { states: string[]; producerIds: bigint[]; durationMs: bigint },
): Promise<ListedTransaction[]> {
  const r = await kafka.call('listing transactions', () =>
    callApi<[string[], bigint[], bigint, null], { transactionStates: ListedTransaction[] }>(
      kafka,
      'ListTransactions',
      filters.states,
      filters.producerIds,
      filters.durationMs,
      null,
    ),
  );
  return r.transactionStates;
}

export interface DescribedTransaction {
  errorCode: number;
  transactionalId: string;
  transactionState: string;
  transactionTimeoutMs: number;
  transactionStartTimeMs: bigint;
  producerId: bigint;
  producerEpoch: number;
  topics: { topic: string; partitions: number[] }[];
}

export async function describeTransaction(
  kafka: Kafka,
  transactionalId: string,
): Promise<DescribedTransaction> {
  const r = await kafka.call(
    `describing transaction ${transactionalId}`,
    () =>
      callApi<[string[]], { transactionStates: DescribedTransaction[] }>(kafka, 'DescribeTransactions', [
        transactionalId,
      ]),
    (code) =>
      code === 105
        ? `there is no transactional id "${transactionalId}"; list them with \`kch transactions list\``
        : undefined,
  );
  return r.transactionStates[0]!;
}

export interface ActiveProducer {
  producerId: bigint;
  producerEpoch: number;
  lastSequence: number;
  lastTimestamp: bigint;
  coordinatorEpoch: number;
  currentTxnStartOffset: bigint;
}

export async function describeProducers(
  kafka: Kafka,
  topic: string,
  partition: number,
): Promise<ActiveProducer[]> {
  const r = await kafka.call(`describing the producers of ${topic}-${partition}`, () =>
    callApi<
      [{ name: string; partitionIndexes: number[] }[]],
      { topics: { partitions: { activeProducers: ActiveProducer[] }[] }[] }
    >(kafka, 'DescribeProducers', [{ name: topic, partitionIndexes: [partition] }]),
  );
  return r.topics[0]?.partitions[0]?.activeProducers ?? [];
}

export interface TxnMarker {
  producerId: bigint;
  producerEpoch: number;
  commit: boolean;
  coordinatorEpoch: number;
  topic: string;
  partition: number;
}

/*
  WriteTxnMarkers Request (Version: 1) => [markers] TAG_BUFFER
    markers => producer_id producer_epoch transaction_result [topics] coordinator_epoch TAG_BUFFER
      topics => name [partition_indexes] TAG_BUFFER
  WriteTxnMarkers Response (Version: 1) => [markers] TAG_BUFFER
    markers => producer_id [topics] TAG_BUFFER
      topics => name [partitions] TAG_BUFFER
        partitions => partition_index error_code TAG_BUFFER
*/
const writeTxnMarkersV1 = createAPI<[TxnMarker], number>(
  27,
  1,
  (m: TxnMarker) =>
    Writer.create()
      .appendArray([m], (w, x) => {
        w.appendInt64(x.producerId)
          .appendInt16(x.producerEpoch)
          .appendBoolean(x.commit)
          .appendArray([x], (w2, y) => {
            w2.appendString(y.topic).appendArray([y.partition], (w3, p) => w3.appendInt32(p), true, false);
          })
          .appendInt32(x.coordinatorEpoch);
      })
      .appendTaggedFields(),
  (_correlationId: number, _apiKey: number, _apiVersion: number, reader: Reader) => {
    let code = 0;
    reader.readArray((r) => {
      r.readInt64();
      r.readArray((t) => {
        t.readString();
        t.readArray((p) => {
          p.readInt32();
          code = p.readInt16();
        });
      });
    });
    return code;
  },
);

/** Writes one marker into one partition; resolves with the partition's error code (0: written). */
export function writeTxnMarker(kafka: Kafka, marker: TxnMarker): Promise<number> {
  return kafka.call(
    `writing the ${marker.commit ? 'COMMIT' : 'ABORT'} marker into ${marker.topic}-${marker.partition}`,
    () => callRequest(kafka, writeTxnMarkersV1, marker),
  );
}
