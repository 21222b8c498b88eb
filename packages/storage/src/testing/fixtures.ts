/** Topics and batches the contract suites build their cases from. */
import { randomBytes } from 'node:crypto';
import { encodeRecordBatchSync, type RecordInput } from '@kch/protocol';
import type { StoredBatch, TopicRecord } from '../storage.js';

let topicCounter = 0;

/** A number not handed out before in this process: names unique to one test. */
export function nextCount(): number {
  return topicCounter++;
}

/** A topic record with a name unique to this run. */
export function testTopic(partitionCount = 2, configs: Record<string, string> = {}): TopicRecord {
  return {
    name: `contract-${process.pid}-${Date.now().toString(36)}-${nextCount()}`,
    topicId: randomBytes(16).toString('base64url'),
    partitionCount,
    configs,
    createdAt: Date.now(),
  };
}

export interface BatchSpec {
  baseOffset: number;
  records: RecordInput[];
  baseTimestamp?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  /** The partition leader epoch in the header (default -1, as producers send it). */
  leaderEpoch?: number;
}

/** A stored batch built with the real codec, as a broker would hand it to storage. */
export function testBatch(spec: BatchSpec): StoredBatch {
  const baseTimestamp = spec.baseTimestamp ?? 1_700_000_000_000;
  const bytes = encodeRecordBatchSync({
    baseOffset: BigInt(spec.baseOffset),
    baseTimestamp: BigInt(baseTimestamp),
    producerId: BigInt(spec.producerId ?? -1),
    producerEpoch: spec.producerEpoch ?? -1,
    baseSequence: spec.baseSequence ?? -1,
    partitionLeaderEpoch: spec.leaderEpoch,
    records: spec.records,
  });
  const timestamps = spec.records.map((r) =>
    r.timestamp === undefined ? baseTimestamp : Number(r.timestamp),
  );
  return {
    baseOffset: spec.baseOffset,
    lastOffset: spec.baseOffset + spec.records.length - 1,
    recordCount: spec.records.length,
    baseTimestamp,
    maxTimestamp: Math.max(...timestamps),
    producerId: spec.producerId ?? -1,
    producerEpoch: spec.producerEpoch ?? -1,
    baseSequence: spec.baseSequence ?? -1,
    isTransactional: false,
    isControl: false,
    bytes,
  };
}
