/**
 * What the `engine-peer` group (bench/engine-peer.ts) measures: kch against Kafka + the ClickHouse Kafka
 * engine, produce to visible in SQL.
 */
import type { Percentiles } from './stats.js';

/**
 * `kch`: kch on chdb storage, the rows in its topic table at the ack. `engine-default`,
 * `engine-tuned`: kch on memory storage playing the Kafka broker, a ClickHouse Kafka engine table
 * (chdb in a process of its own) moving the records into a MergeTree through a materialized view,
 * with the engine's default settings or tuned ones.
 */
export type EnginePeerSetup = 'kch' | 'engine-default' | 'engine-tuned';

export interface EnginePeerRun {
  setup: EnginePeerSetup;
  /** The Kafka engine settings beyond broker, topic, group and format ('' for kch). */
  settings: string;
  /** Steady phase: records/s sent (one partition), for `seconds`. */
  rate: number;
  seconds: number;
  records: number;
  /** Per record: from its produce() call to the first SQL poll that saw it (wall clock). */
  visibleMs: Percentiles | null;
  /** The producer's acknowledgements (every 8th record): kch's records are in SQL by then. */
  ackMs: Percentiles | null;
  /** Records that never became visible within the phase's wait. */
  missing: number;
  /** SQL polls per second during the steady phase (each `SELECT count()` through the owning process). */
  pollsPerSec: number;
  /** Full-speed phase: records sent (partitions of the run) and how fast they landed in SQL. */
  fullRecords: number;
  /** Records / (moment the last was visible − first produce() call). */
  landedPerSec: number;
  /** The producer's own rate (records / its seconds, until every ack). */
  producedPerSec: number;
  loadavg1: number;
}

export interface EnginePeerResults {
  partitions: number;
  size: number;
  runs: EnginePeerRun[];
}
