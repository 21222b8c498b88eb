import type { ProducerBatchInfo, StoredBatch } from './storage.js';

/** Kafka keeps the metadata of the last five batches of each producer to answer retried duplicates. */
export const PRODUCER_BATCHES_KEPT = 5;

/** Sequence numbers wrap from 2^31-1 to 0, as in Kafka's DefaultRecordBatch.incrementSequence. */
export function addSequence(sequence: number, delta: number): number {
  return (sequence + delta) % 2 ** 31;
}

export function producerBatchInfo(
  b: Pick<
    StoredBatch,
    'producerId' | 'producerEpoch' | 'baseSequence' | 'baseOffset' | 'lastOffset' | 'maxTimestamp'
  >,
): ProducerBatchInfo {
  return {
    producerId: b.producerId,
    producerEpoch: b.producerEpoch,
    baseSequence: b.baseSequence,
    lastSequence: addSequence(b.baseSequence, b.lastOffset - b.baseOffset),
    baseOffset: b.baseOffset,
    lastOffset: b.lastOffset,
    maxTimestamp: b.maxTimestamp,
  };
}

/**
 * The last batches of every idempotent producer in a log, oldest first, at most
 * {@link PRODUCER_BATCHES_KEPT} each: what a broker needs to rebuild producer state on open.
 */
export function lastProducerBatches(batches: readonly StoredBatch[]): ProducerBatchInfo[] {
  const byProducer = new Map<number, ProducerBatchInfo[]>();
  for (const b of batches) {
    if (b.producerId < 0 || b.isControl) continue;
    let list = byProducer.get(b.producerId);
    if (!list) {
      list = [];
      byProducer.set(b.producerId, list);
    }
    list.push(producerBatchInfo(b));
    if (list.length > PRODUCER_BATCHES_KEPT) list.shift();
  }
  return [...byProducer.values()].flat();
}
