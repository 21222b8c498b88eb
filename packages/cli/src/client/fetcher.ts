/**
 * Fetching records of one topic from given offsets: one Fetch per partition leader (in parallel),
 * sessionless (full requests, as KIP-227 allows), batches decoded and decompressed, control batches
 * and records before the asked offset skipped.
 */
import {
  decodeBatch,
  decodeMessageSet,
  ErrorCode,
  iterateBatches,
  RECORD_BATCH_MAGIC,
  recordOffset,
  recordTimestamp,
  TimestampType,
  ZERO_UUID,
} from '@kch/protocol';
import type { BrokerConnection, KafkaClient, TopicMetadata } from './client.js';

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
  logStartOffset: bigint;
  /** Records at or after the asked offset, in order. */
  records: FetchedRecord[];
  /** Where the next fetch of this partition starts: after the last record or skipped batch. */
  nextOffset: bigint;
}

export interface FetchOptions {
  /** How long the broker may wait for data (Kafka's fetch.max.wait.ms, default 500). */
  maxWaitMs?: number;
  minBytes?: number;
  /** Bytes for the whole response (fetch.max.bytes, default 50 MiB). */
  maxBytes?: number;
  /** Bytes per partition (max.partition.fetch.bytes, default 1 MiB). */
  partitionMaxBytes?: number;
}

/** Fetches every partition in `positions` (partition -> offset) once, from their leaders. */
export async function fetchOnce(
  client: KafkaClient,
  topic: TopicMetadata,
  positions: ReadonlyMap<number, bigint>,
  options: FetchOptions = {},
): Promise<PartitionFetch[]> {
  const byLeader = new Map<number, number[]>();
  for (const partition of positions.keys()) {
    const leader = topic.partitions.find((p) => p.partition === partition)?.leader ?? -1;
    const list = byLeader.get(leader) ?? [];
    list.push(partition);
    byLeader.set(leader, list);
  }
  const results = await Promise.all(
    [...byLeader].map(async ([leader, partitions]): Promise<PartitionFetch[]> => {
      if (leader < 0) {
        return partitions.map((partition) => failed(partition, ErrorCode.LEADER_NOT_AVAILABLE, positions));
      }
      const conn = await client.node(leader);
      return fetchFrom(conn, topic, partitions, positions, options);
    }),
  );
  return results.flat().sort((a, b) => a.partition - b.partition);
}

function failed(
  partition: number,
  errorCode: number,
  positions: ReadonlyMap<number, bigint>,
): PartitionFetch {
  return {
    partition,
    errorCode,
    highWatermark: -1n,
    logStartOffset: -1n,
    records: [],
    nextOffset: positions.get(partition)!,
  };
}

async function fetchFrom(
  conn: BrokerConnection,
  topic: TopicMetadata,
  partitions: number[],
  positions: ReadonlyMap<number, bigint>,
  options: FetchOptions,
): Promise<PartitionFetch[]> {
  const maxWaitMs = options.maxWaitMs ?? 500;
  // v13+ names topics by id; a broker whose metadata gave none is asked at v12.
  const hasId = topic.topicId !== ZERO_UUID;
  const { version, response } = await conn.send(
    'Fetch',
    (v) => ({
      replicaId: v <= 14 ? -1 : undefined,
      maxWaitMs,
      minBytes: options.minBytes ?? 1,
      maxBytes: v >= 3 ? (options.maxBytes ?? 50 * 1024 * 1024) : undefined,
      isolationLevel: v >= 4 ? 0 : undefined,
      sessionId: v >= 7 ? 0 : undefined,
      sessionEpoch: v >= 7 ? -1 : undefined,
      topics: [
        {
          topic: v <= 12 ? topic.name : undefined,
          topicId: v >= 13 ? topic.topicId : undefined,
          partitions: partitions.map((partition) => ({
            partition,
            currentLeaderEpoch: v >= 9 ? -1 : undefined,
            fetchOffset: positions.get(partition)!,
            lastFetchedEpoch: v >= 12 ? -1 : undefined,
            logStartOffset: v >= 5 ? -1n : undefined,
            partitionMaxBytes: options.partitionMaxBytes ?? 1024 * 1024,
          })),
        },
      ],
      forgottenTopicsData: v >= 7 ? [] : undefined,
      rackId: v >= 11 ? '' : undefined,
    }),
    { maxVersion: hasId ? undefined : 12, minVersion: 4, timeoutMs: maxWaitMs + 30_000 },
  );
  const out: PartitionFetch[] = [];
  if (version >= 7 && response.errorCode !== ErrorCode.NONE) {
    return partitions.map((p) => failed(p, response.errorCode, positions));
  }
  for (const t of response.responses) {
    for (const p of t.partitions) {
      const from = positions.get(p.partitionIndex);
      if (from === undefined) continue;
      if (p.errorCode !== ErrorCode.NONE) {
        out.push({ ...failed(p.partitionIndex, p.errorCode, positions), highWatermark: p.highWatermark });
        continue;
      }
      const { records, nextOffset } = await decodeRecords(topic.name, p.partitionIndex, p.records, from);
      out.push({
        partition: p.partitionIndex,
        errorCode: ErrorCode.NONE,
        highWatermark: p.highWatermark,
        logStartOffset: version >= 5 ? p.logStartOffset : -1n,
        records,
        nextOffset,
      });
    }
  }
  return out;
}

/** Decodes a partition's record set: whole batches only (a trailing partial one is left for the next fetch). */
export async function decodeRecords(
  topic: string,
  partition: number,
  data: Buffer | null,
  from: bigint,
): Promise<{ records: FetchedRecord[]; nextOffset: bigint }> {
  const records: FetchedRecord[] = [];
  let nextOffset = from;
  if (!data || data.length === 0) return { records, nextOffset };
  for (const entry of iterateBatches(data)) {
    if (entry.partial) break;
    if (entry.magic !== RECORD_BATCH_MAGIC) {
      for (const m of decodeMessageSet(entry.buf).messages) {
        if (m.offset < from) continue;
        records.push({
          topic,
          partition,
          offset: m.offset,
          timestamp: m.timestamp,
          timestampType: m.timestampType === TimestampType.LogAppendTime ? 'LogAppendTime' : 'CreateTime',
          key: m.key,
          value: m.value,
          headers: [],
        });
        nextOffset = m.offset + 1n;
      }
      continue;
    }
    const batch = await decodeBatch(entry.buf);
    const { header } = batch;
    const last = header.baseOffset + BigInt(header.lastOffsetDelta);
    // A control batch (transaction marker) holds no user records, but consumes its offsets.
    if (!header.isControl) {
      for (const r of batch.records) {
        const offset = recordOffset(header, r);
        if (offset < from) continue;
        records.push({
          topic,
          partition,
          offset,
          timestamp: recordTimestamp(header, r),
          timestampType:
            header.timestampType === TimestampType.LogAppendTime ? 'LogAppendTime' : 'CreateTime',
          // Views into the response: copied so that a retained record does not pin the whole response.
          key: r.key === null ? null : Buffer.from(r.key),
          value: r.value === null ? null : Buffer.from(r.value),
          headers: r.headers.map((h) => ({
            key: h.key,
            value: h.value === null ? null : Buffer.from(h.value),
          })),
        });
      }
    }
    if (last + 1n > nextOffset) nextOffset = last + 1n;
  }
  return { records, nextOffset };
}
