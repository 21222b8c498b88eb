/**
 * Kafka calls the harness makes with the raw connection the broker's tests use too
 * (@kch/kafka-connection): topic creation and deletion, end offsets, and counting fetched records from
 * batch headers.
 */
import { RawClient } from '@kch/kafka-connection';

export { RawClient };

/** Creates a topic through CreateTopics; fails unless it was created. */
export async function createTopic(client: RawClient, name: string, partitions: number): Promise<void> {
  const r = await client.send('CreateTopics', 7, {
    topics: [{ name, numPartitions: partitions, replicationFactor: 1 }],
    timeoutMs: 30_000,
  });
  const t = r.topics[0]!;
  if (t.errorCode !== 0)
    throw new Error(`CreateTopics ${name}: error ${t.errorCode} ${t.errorMessage ?? ''}`);
}

/** Deletes a topic through DeleteTopics (v5: by name); fails unless it was deleted. */
export async function deleteTopic(client: RawClient, name: string): Promise<void> {
  const r = await client.send('DeleteTopics', 5, { topicNames: [name], timeoutMs: 30_000 });
  const t = r.responses[0]!;
  if (t.errorCode !== 0)
    throw new Error(`DeleteTopics ${name}: error ${t.errorCode} ${t.errorMessage ?? ''}`);
}

/** High watermarks of every partition of a topic (ListOffsets, latest). */
export async function endOffsets(client: RawClient, name: string, partitions: number): Promise<number[]> {
  const r = await client.send('ListOffsets', 7, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [
      {
        name,
        partitions: Array.from({ length: partitions }, (_, p) => ({
          partitionIndex: p,
          currentLeaderEpoch: -1,
          timestamp: -1n,
        })),
      },
    ],
  });
  return r.topics[0]!.partitions.map((p) => Number(p.offset));
}

/** Counts the records of the whole batches in a fetched `records` field; returns the next offset too. */
export function countRecords(records: Buffer | null, fetchOffset: number): { records: number; next: number } {
  let n = 0;
  let next = fetchOffset;
  if (!records) return { records: 0, next };
  let at = 0;
  while (at + 61 <= records.length) {
    const size = 12 + records.readInt32BE(at + 8);
    if (at + size > records.length) break; // a partial batch at the end
    const base = Number(records.readBigInt64BE(at));
    const lastDelta = records.readInt32BE(at + 23);
    // Records before the fetch offset in the first batch are skipped, as consumers do.
    const count = records.readInt32BE(at + 57);
    n += base >= fetchOffset ? count : Math.max(0, base + lastDelta + 1 - fetchOffset);
    next = base + lastDelta + 1;
    at += size;
  }
  return { records: n, next };
}
