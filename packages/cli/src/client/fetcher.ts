/**
 * Fetching records of one topic from given offsets, with @platformatic/kafka's consumer: one Fetch per
 * partition leader (in parallel), the library decoding and decompressing the batches. What kch adds:
 * each partition's high watermark and error code as the broker gave them (--exit-at-end and offset
 * resets need them), records before the asked offset and control batches skipped, LogAppendTime.
 *
 * The library's message stream would hide all of that (and always joins a group), so kch reads the
 * Fetch responses itself: `consumer.fetch()` is the library's public request-level call.
 */
import { ErrorCode } from '@kch/protocol';
import { type Consumer, FetchIsolationLevels } from '@platformatic/kafka';
import type { Kafka, TopicInfo } from './kafka.js';
import { responseOf } from './kafka-errors.js';

export interface FetchedRecord {
  topic: string;
  partition: number;
  offset: bigint;
  timestamp: bigint;
  timestampType: 'CreateTime' | 'LogAppendTime';
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
}

export interface PartitionFetch {
  partition: number;
  errorCode: number;
  highWatermark: bigint;
  /** Records at or after the asked offset, in order. */
  records: FetchedRecord[];
  /** Where the next fetch of this partition starts: after the last record or skipped batch. */
  nextOffset: bigint;
}

type FetchResponse = Awaited<ReturnType<Consumer['fetch']>>;

export interface FetchOptions {
  /** How long the broker may wait for data (Kafka's fetch.max.wait.ms, default 500). */
  maxWaitMs?: number;
}

/** RecordBatch attributes: the timestamp type bit and the control (transaction marker) bit. */
const LOG_APPEND_TIME = 0x08;
const CONTROL = 0x20;
/** Bytes for the whole response (fetch.max.bytes) and per partition (max.partition.fetch.bytes). */
const MAX_BYTES = 50 * 1024 * 1024;
const PARTITION_MAX_BYTES = 1024 * 1024;

/** Fetches every partition in `positions` (partition -> offset) once, from their leaders. */
export async function fetchOnce(
  kafka: Kafka,
  client: Consumer,
  topic: TopicInfo,
  positions: ReadonlyMap<number, bigint>,
  options: FetchOptions = {},
): Promise<PartitionFetch[]> {
  const byLeader = new Map<number, number[]>();
  for (const partition of positions.keys()) {
    const leader = topic.partitions[partition]?.leader ?? -1;
    const list = byLeader.get(leader) ?? [];
    if (list.length === 0) byLeader.set(leader, list);
    list.push(partition);
  }
  const results = await Promise.all(
    [...byLeader].map(async ([leader, partitions]): Promise<PartitionFetch[]> => {
      if (leader < 0) {
        return partitions.map((p) => failed(p, ErrorCode.LEADER_NOT_AVAILABLE, -1n, positions));
      }
      const response = await fetchFrom(kafka, client, topic, leader, partitions, positions, options);
      return read(topic, response, positions);
    }),
  );
  return results.flat().sort((a, b) => a.partition - b.partition);
}

async function fetchFrom(
  kafka: Kafka,
  client: Consumer,
  topic: TopicInfo,
  leader: number,
  partitions: number[],
  positions: ReadonlyMap<number, bigint>,
  options: FetchOptions,
): Promise<FetchResponse> {
  try {
    return await client.fetch({
      node: leader,
      maxWaitTime: options.maxWaitMs ?? 500,
      minBytes: 1,
      maxBytes: MAX_BYTES,
      // Every record, as kafka-console-consumer.sh and kcat read by default (read_uncommitted).
      isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED,
      topics: [
        {
          topicId: topic.uuid,
          partitions: partitions.map((partition) => ({
            partition,
            fetchOffset: positions.get(partition)!,
            partitionMaxBytes: PARTITION_MAX_BYTES,
            currentLeaderEpoch: -1,
            lastFetchedEpoch: -1,
          })),
        },
      ],
    });
  } catch (e) {
    // A partition's error code fails the whole call; its answer has every partition, errors included.
    const response = responseOf<FetchResponse>(e);
    if (response && response.errorCode === ErrorCode.NONE) return response;
    throw kafka.failure(e, `fetching from ${topic.name}`);
  }
}

function failed(
  partition: number,
  errorCode: number,
  highWatermark: bigint,
  positions: ReadonlyMap<number, bigint>,
): PartitionFetch {
  return { partition, errorCode, highWatermark, records: [], nextOffset: positions.get(partition)! };
}

/** A Fetch response's partitions as kch's consume loop takes them. */
function read(
  topic: TopicInfo,
  response: FetchResponse,
  positions: ReadonlyMap<number, bigint>,
): PartitionFetch[] {
  const out: PartitionFetch[] = [];
  for (const t of response.responses) {
    for (const p of t.partitions) {
      const from = positions.get(p.partitionIndex);
      if (from === undefined) continue;
      if (p.errorCode !== ErrorCode.NONE) {
        out.push(failed(p.partitionIndex, p.errorCode, p.highWatermark, positions));
        continue;
      }
      const records: FetchedRecord[] = [];
      let nextOffset = from;
      for (const batch of p.records ?? []) {
        const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
        // A control batch (transaction marker) holds no user records, but consumes its offsets.
        if (!(batch.attributes & CONTROL)) {
          const logAppendTime = (batch.attributes & LOG_APPEND_TIME) !== 0;
          for (const r of batch.records) {
            const offset = batch.firstOffset + BigInt(r.offsetDelta);
            if (offset < from) continue;
            records.push({
              topic: topic.name,
              partition: p.partitionIndex,
              offset,
              // LogAppendTime: the broker's time, which is the batch's max timestamp (Kafka's rule).
              timestamp: logAppendTime ? batch.maxTimestamp : batch.firstTimestamp + r.timestampDelta,
              timestampType: logAppendTime ? 'LogAppendTime' : 'CreateTime',
              key: r.key,
              value: r.value,
              headers: r.headers.map(([key, value]) => ({ key: key?.toString('utf8') ?? '', value })),
            });
          }
        }
        if (last + 1n > nextOffset) nextOffset = last + 1n;
      }
      out.push({
        partition: p.partitionIndex,
        errorCode: ErrorCode.NONE,
        highWatermark: p.highWatermark,
        records,
        nextOffset,
      });
    }
  }
  return out;
}
