/**
 * The `engine-peer` group's section of results.md: kch against Kafka + the ClickHouse Kafka engine.
 */
import type { EnginePeerResults, EnginePeerRun } from './engine-peer-results.js';
import { table } from './markdown.js';
import type { Percentiles } from './stats.js';
import { si } from './stats.js';

const SETUPS = {
  kch: 'kch (chdb storage): the topic table',
  'engine-tuned': 'Kafka + Kafka engine, tuned',
  'engine-default': 'Kafka + Kafka engine, defaults',
} as const;

const ms = (p: Percentiles | null) => (p ? `${p.p50} / ${p.p99}` : '–');
const times = (a: number | null | undefined, b: number | null | undefined) =>
  a === null || a === undefined || !b ? '–' : `×${(a / b).toFixed(2)}`;

export function enginePeerSection(ep: EnginePeerResults): string[] {
  const kch = ep.runs.find((r) => r.setup === 'kch');
  const row = (r: EnginePeerRun) => [
    SETUPS[r.setup],
    r.settings ? `\`${r.settings}\`` : r.setup === 'kch' ? '–' : 'defaults (flush 7,500 ms, poll 500 ms)',
    `${si(r.rate)} × ${r.seconds} s`,
    ms(r.visibleMs),
    ms(r.ackMs),
    String(r.pollsPerSec),
    si(r.landedPerSec),
    si(r.producedPerSec),
    r.setup === 'kch' || !kch
      ? '–'
      : `${times(kch.visibleMs?.p50, r.visibleMs?.p50)} / ${times(kch.visibleMs?.p99, r.visibleMs?.p99)}`,
    r.setup === 'kch' || !kch ? '–' : times(kch.landedPerSec, r.landedPerSec),
    String(r.loadavg1),
  ];
  return [
    '## kch against Kafka + the ClickHouse Kafka engine',
    '',
    `The pipeline users run today beside kch's own: a topic consumed by an \`ENGINE = Kafka\` table into a MergeTree through a materialized view (kch on memory storage playing the Kafka broker, chdb in a process of its own running the engine), against kch on chdb storage, whose topic table holds the rows at the ack. The same librdkafka producer (acks=all, linger.ms=5) sends ${ep.size} B JSON values carrying their send time. Steady: one partition at a fixed rate; a record is visible at the first poll of the table (back to back, through the process that owns it, for the offsets past those already seen) that returns it. Full speed: records over ${ep.partitions} partitions; landed = records ÷ (the \`SELECT count()\` that counts them all − the first send). kch ÷ peer below 1 means kch is faster for latency; above 1, faster for landed rec/s. One run of each setup, one after the other: on a shared machine compare within a run.`,
    '',
    table(
      [
        'setup',
        'Kafka engine settings',
        'steady rec/s × s',
        'visible ms p50 / p99',
        'ack ms p50 / p99',
        'SQL polls/s',
        'full speed: landed rec/s',
        'produced rec/s',
        'visible kch ÷ peer p50 / p99',
        'landed kch ÷ peer',
        'load (1 min)',
      ],
      ep.runs.map(row),
    ),
    '',
  ];
}
