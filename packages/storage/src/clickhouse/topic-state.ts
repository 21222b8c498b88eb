/**
 * What the ClickHouse storage keeps in memory about each topic and partition: records shared by its
 * rooms (./clickhouse-storage.ts lists them), so that none of them has to reach into another for it.
 */
import { InFlightAppends } from '../in-flight-appends.js';
import { LeaderFences } from '../leader-fences.js';
import { type RecordCheck, StorageError, type TopicPartition, type TopicRecord } from '../storage.js';
import type { KeyedTurns } from '../turns.js';
import { recordCheckFor } from './bound-check.js';
import type { Binding, BoundSchema } from './bound-table.js';
import type { Flusher } from './flusher.js';
import type { SideIndex } from './side-index.js';
import { ownPartitionRows, type PartitionRows } from './statements.js';
import type { OwnTable } from './topic-tables.js';
import { type BackendFailure, UNKNOWN_TABLE } from './transport.js';

export interface PartitionState {
  /** The end of what was stored: `appends.storedEnd`. */
  readonly nextOffset: number;
  /** The first offset reads return: the DeleteRecords marker or the first record still stored. */
  logStartOffset: number;
  /** The durable DeleteRecords marker (what `_kch_partitions` holds). */
  marker: number;
  /** The end last written to `_kch_partitions`. */
  checkpointedEnd: number;
  /**
   * Set when an insert of this partition failed: rows from this offset on may still have landed (a
   * network in between), and are deleted before the partition is used again.
   */
  suspectFrom: number | null;
  suspectQueries: string[];
  /** Appends handed to the flusher and not settled yet (pipelined appends), and where the log ends. */
  readonly appends: InFlightAppends;
  /** Its rows in `_kch_txn_batches`: pending transactional batches, and where markers are. */
  readonly side: SideIndex;
}

/** A partition as recovered from its rows and `_kch_partitions`, nothing in flight. */
export function recoveredPartition(
  nextOffset: number,
  logStartOffset: number,
  marker: number,
  checkpointedEnd: number,
  side: SideIndex,
): PartitionState {
  return {
    side,
    get nextOffset() {
      return this.appends.storedEnd;
    },
    appends: new InFlightAppends(nextOffset),
    logStartOffset,
    marker,
    checkpointedEnd,
    suspectFrom: null,
    suspectQueries: [],
  };
}

export interface TopicState {
  record: TopicRecord;
  /** Quoted `db`.`table`: the topic's own table, or the one it is bound to. */
  table: string;
  /** The table kch created for the topic, as recorded with it; null for a bound topic. */
  own: OwnTable | null;
  partitions: Map<number, Promise<PartitionState>>;
  /**
   * Partitions opened with a leadership (many brokers): their fences, kept for as long as the topic,
   * across recoveries of the partition's state. See {@link PartitionFence}.
   */
  fences: Map<number, PartitionFence>;
  /** Appends of a partition run one after the other (the contract says so; this makes sure). */
  locks: KeyedTurns<number>;
  /** The group commit into the topic's own table, made by the first append (./partition-writer.ts). */
  flusher: Flusher | null;
  /** Encoded batch bytes per record seen so far, to size reads. */
  bytesPerRecord: number;
  /** The table was found missing (dropped behind kch's back): it is created again before use. */
  tableMissing: boolean;
  /** An insert failed for a reason other than load: the table is checked to still be kch's before use. */
  verifyTable: boolean;
  /** Set when the topic is bound to a user's table (kch.table): its records are that table's rows. */
  bound: BoundTopic | null;
  /**
   * Every use fails with this: binding configs stored for the topic that cannot be read (edited by
   * hand), or a table under the topic's table name that kch did not create.
   */
  unusable: StorageError | null;
}

/**
 * A partition's fences (../leader-fences.ts) and its rows in kch's own table under them, the SQL
 * condition built once when the fences change rather than on every read. A bound table's rows are
 * built from the fences on each use (./bound-topics.ts `boundPartitionRows`), as its columns may change.
 */
export interface PartitionFence {
  readonly fences: LeaderFences;
  readonly rows: PartitionRows;
}

/** Sets the partition's fences (a no-op when they did not change). */
export function setFences(t: TopicState, partition: number, fences: LeaderFences): void {
  if (fences === fencesOf(t, partition)) return;
  t.fences.set(partition, { fences, rows: ownPartitionRows(partition, fences.starts) });
}

export function fencesOf(t: TopicState, partition: number): LeaderFences {
  return t.fences.get(partition)?.fences ?? LeaderFences.NONE;
}

/**
 * The rows of a partition of kch's own table that Kafka sees: every read of the partition's rows goes
 * through this, so a deposed leader's late rows are hidden from all of them.
 */
export function ownRowsOf(t: TopicState, partition: number): PartitionRows {
  return t.fences.get(partition)?.rows ?? ownPartitionRows(partition);
}

/** A topic bound to a table (./bound-table.ts): the binding and the table's columns as last read. */
export interface BoundTopic {
  binding: Binding;
  schema: BoundSchema | null;
  check: RecordCheck | null;
  /** Date.now() when the schema was read. */
  loadedAt: number;
  /** An insert failed: the table may have changed, read it again before the next use. */
  stale: boolean;
  loading: Promise<BoundSchema> | null;
}

export function boundTopic(binding: Binding, schema?: BoundSchema): BoundTopic {
  return {
    binding,
    schema: schema ?? null,
    check: schema ? recordCheckFor(schema) : null,
    loadedAt: schema ? Date.now() : 0,
    stale: false,
    loading: null,
  };
}

/**
 * What a failed call on the topic's table says about the table: missing (created again before the
 * next use), or refused for another reason than load (checked to still be kch's before the next use).
 */
export function noteTableFailure(t: TopicState, f: BackendFailure): void {
  if (f.code === UNKNOWN_TABLE) t.tableMissing = true;
  else if (!f.transient) t.verifyTable = true;
}

/**
 * Folds what `bytes` of `records` records weighed into the topic's bytes-per-record estimate (the
 * newest sample weighing `weight`). Nothing to learn from no records: empty batches alone would make
 * the estimate NaN, and every read sized by it would fail.
 */
export function noteRecordSize(t: TopicState, bytes: number, records: number, weight: number): void {
  if (records <= 0) return;
  t.bytesPerRecord = Math.max(16, Math.round(t.bytesPerRecord * (1 - weight) + (bytes / records) * weight));
}

export function unknownTopic(name: string): StorageError {
  return new StorageError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
}

export function unknownPartition(tp: TopicPartition): StorageError {
  return new StorageError(
    'UNKNOWN_TOPIC_OR_PARTITION',
    `partition ${tp.topic}-${tp.partition} does not exist`,
  );
}
