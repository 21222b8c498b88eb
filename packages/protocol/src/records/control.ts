/**
 * Control batches: the transaction markers (COMMIT/ABORT) a transaction coordinator has written into
 * a partition. A control batch holds one record whose key is (version int16, type int16) and whose
 * value, for transaction markers, is an EndTxnMarker (version int16, coordinatorEpoch int32).
 */
import { KafkaCodecError } from '../errors.js';
import { NO_PARTITION_LEADER_EPOCH, type RecordBatchHeader } from './record-batch.js';
import type { KafkaRecord } from './record-codec.js';
import { encodeRecordBatchSync } from './record-codec.js';

export const ControlRecordType = {
  Abort: 0,
  Commit: 1,
} as const;
export type ControlRecordType = (typeof ControlRecordType)[keyof typeof ControlRecordType];

export const CONTROL_RECORD_KEY_VERSION = 0;
export const END_TXN_MARKER_VERSION = 0;

export interface ControlRecordKey {
  version: number;
  /** 0 ABORT, 1 COMMIT; KRaft uses higher types in its own log, returned as they are. */
  type: number;
}

export interface EndTxnMarker {
  version: number;
  coordinatorEpoch: number;
}

function corrupt(message: string): KafkaCodecError {
  return new KafkaCodecError('CORRUPT_RECORD', message);
}

/** Reads a control record's key. Like Kafka, a newer key version is read by its first two fields. */
export function decodeControlRecordKey(key: Uint8Array | null): ControlRecordKey {
  if (key === null || key.length < 4) {
    throw corrupt(
      `control record key has ${key === null ? 'no bytes (null)' : `${key.length} bytes`}, fewer than 4`,
    );
  }
  const b = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  const version = b.readInt16BE(0);
  if (version < 0) throw corrupt(`control record key has invalid version ${version}`);
  return { version, type: b.readInt16BE(2) };
}

/** Reads the value of a COMMIT or ABORT control record. */
export function decodeEndTxnMarker(value: Uint8Array | null): EndTxnMarker {
  if (value === null || value.length < 6) {
    throw corrupt(
      `end transaction marker has ${value === null ? 'no bytes (null)' : `${value.length} bytes`}, fewer than 6`,
    );
  }
  const b = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const version = b.readInt16BE(0);
  if (version < 0) throw corrupt(`end transaction marker has invalid version ${version}`);
  return { version, coordinatorEpoch: b.readInt32BE(2) };
}

/** The control type of a record in a control batch, or null for a record of an ordinary batch. */
export function controlRecordType(header: RecordBatchHeader, record: KafkaRecord): number | null {
  return header.isControl ? decodeControlRecordKey(record.key).type : null;
}

export function encodeControlRecordKey(type: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt16BE(CONTROL_RECORD_KEY_VERSION, 0);
  b.writeInt16BE(type, 2);
  return b;
}

export function encodeEndTxnMarker(coordinatorEpoch: number): Buffer {
  const b = Buffer.allocUnsafe(6);
  b.writeInt16BE(END_TXN_MARKER_VERSION, 0);
  b.writeInt32BE(coordinatorEpoch, 2);
  return b;
}

export interface ControlBatchInit {
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
  producerId: bigint;
  producerEpoch: number;
  type: ControlRecordType;
  coordinatorEpoch: number;
  /** The marker's timestamp (ms): baseTimestamp and maxTimestamp. */
  timestamp: bigint;
}

/**
 * A transaction marker batch as the broker writes it for WriteTxnMarkers: transactional, control,
 * uncompressed, one record at offset delta 0, no sequence.
 */
export function encodeControlBatch(init: ControlBatchInit): Buffer {
  return encodeRecordBatchSync({
    baseOffset: init.baseOffset ?? 0n,
    partitionLeaderEpoch: init.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH,
    isTransactional: true,
    isControl: true,
    producerId: init.producerId,
    producerEpoch: init.producerEpoch,
    baseTimestamp: init.timestamp,
    records: [
      {
        key: encodeControlRecordKey(init.type),
        value: encodeEndTxnMarker(init.coordinatorEpoch),
        timestamp: init.timestamp,
      },
    ],
  });
}
