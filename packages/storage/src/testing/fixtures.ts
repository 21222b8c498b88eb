/** Topics and batches the contract suites build their cases from. */
import { randomBytes } from 'node:crypto';
import {
  ControlRecordType,
  encodeControlBatch,
  encodeRecordBatchSync,
  type RecordInput,
} from '@kch/protocol';
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
  /** A transactional producer's batch (needs producerId). */
  transactional?: boolean;
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
    isTransactional: spec.transactional ?? false,
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
    isTransactional: spec.transactional ?? false,
    isControl: false,
    bytes,
  };
}

/**
 * A batch of `records` at `offset`: of transactional producer `producerId` (epoch 0, sequences from
 * `sequence`) when one is given, of a plain producer otherwise.
 */
export function producerBatch(
  offset: number,
  records: RecordInput[],
  producerId?: number,
  sequence = 0,
): StoredBatch {
  const transactional = producerId !== undefined;
  return testBatch({
    baseOffset: offset,
    records,
    producerId: producerId ?? -1,
    producerEpoch: transactional ? 0 : -1,
    baseSequence: transactional ? sequence : -1,
    transactional,
  });
}

/** A COMMIT or ABORT marker of producer `producerId` at `offset`, as the broker writes it. */
export function testMarker(
  offset: number,
  producerId: number,
  producerEpoch: number,
  type: 'commit' | 'abort',
  timestamp = 1_700_000_000_000,
): StoredBatch {
  const bytes = encodeControlBatch({
    baseOffset: BigInt(offset),
    producerId: BigInt(producerId),
    producerEpoch,
    type: type === 'commit' ? ControlRecordType.Commit : ControlRecordType.Abort,
    coordinatorEpoch: 0,
    timestamp: BigInt(timestamp),
  });
  return {
    baseOffset: offset,
    lastOffset: offset,
    recordCount: 1,
    baseTimestamp: timestamp,
    maxTimestamp: timestamp,
    producerId,
    producerEpoch,
    baseSequence: -1,
    isTransactional: true,
    isControl: true,
    bytes,
  };
}
