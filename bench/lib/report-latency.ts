/**
 * The `latency` group's floor scenario (bench/latency-floor.ts): what results.json holds of it and its
 * section of results.md, "Latency against its floor".
 */
import { table } from './markdown.js';
import { valuesName } from './payloads.js';
import type { LatencyFloorRun } from './results.js';
import { type Percentiles, si } from './stats.js';

/** The target of issue 19: ack p99 through the broker at most 1.5 × the p99 of a bare insert. */
export const FLOOR_RATIO_TARGET = 1.5;

const ms = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(1));
const pair = (p: Percentiles | null | undefined) => (p ? `${ms(p.p50)} / ${ms(p.p99)}` : '–');

/** A process's CPU over a phase divided by its inserts (all of it: the broker's Kafka work too). */
const cpuPerInsert = (cpuSeconds: number | undefined, inserts: number | undefined) =>
  cpuSeconds === undefined || !inserts ? '–' : ms((cpuSeconds * 1000) / inserts);

/** The section's rows, one per values and rate, in the order they ran. */
export function latencyFloorSection(runs: LatencyFloorRun[]): string[] {
  if (runs.length === 0) return [];
  const rows = runs.map((r) => {
    const ins = r.broker.inserts;
    const b = r.bare;
    const remainder = r.ackMs && b?.latencyMs ? r.ackMs.p99 - b.latencyMs.p99 : null;
    return [
      valuesName(r.size, r.payload),
      si(r.rate),
      r.ackMs ? `${ms(r.ackMs.p50)} / ${ms(r.ackMs.p99)} / ${ms(r.ackMs.p999)}` : '–',
      pair(b?.latencyMs),
      r.ratioP99 === null
        ? '–'
        : `×${r.ratioP99.toFixed(2)} ${r.ratioP99 <= FLOOR_RATIO_TARGET ? '(met)' : '(not met)'}`,
      ms(remainder),
      ms(r.broker.produceRequestMs?.p99),
      ins ? `${ins.count} × ${si(ins.avgRows)}` : '–',
      b ? `${b.inserts} × ${si(b.rowsPerInsert)}` : '–',
      `${pair(ins?.ms)}; ${pair(b?.insertMs)}`,
      `${ms(ins?.queuedMs?.p99)}; ${ms(b?.queuedMs?.p99)}`,
      `${ms(r.broker.eventLoopDelayMs.p99)}; ${ms(b?.timerLateMs?.p99)}`,
      `${r.broker.mainThreadCores ?? '–'} / ${r.broker.cores ?? '–'}`,
      `${cpuPerInsert(r.broker.cpu?.cpuSeconds, ins?.count)}; ${cpuPerInsert(b?.cpuSeconds, b?.inserts)}`,
      String(r.broker.loadavg1),
    ];
  });
  const linger = runs[0]!.clientLingerMs;
  return [
    '## Latency against its floor',
    '',
    `librdkafka (acks=all, linger.ms=${linger}) at fixed rates through the broker on embedded ClickHouse, beside a bare insert of the same rows at the same rate in a process of its own (bench/limits/floor-insert.ts: every ${linger} ms the records due, written as rows and handed to the storage's group commit and insert, no Kafka). ` +
      `Ack: produce() call to acknowledgement (the client's linger included); bare: a linger interval's rows handed over to their insert's end. ` +
      `Target: ack p99 ≤ ${FLOOR_RATIO_TARGET} × bare p99. The remainder (ack p99 − bare p99) is made of the client's linger (up to ${linger} ms), the broker's queueing before an insert (queued p99, against the bare one's), slower inserts in the broker's process (insert ms), and its main thread (event loop delay p99, 10 ms sampling included; bare: how late its ${linger} ms timer ran). Columns "broker; bare" give both. CPU per insert is each process's CPU (all threads, the embedded ClickHouse's included) over the phase ÷ its inserts: the broker's includes its Kafka work, the bare one's is the insert path alone.`,
    '',
    table(
      [
        'values',
        'rate rec/s',
        'ack ms p50 / p99 / p999',
        'bare ms p50 / p99',
        'ack p99 ÷ bare p99',
        'remainder ms',
        'broker Produce ms p99',
        'broker inserts × rows',
        'bare inserts × rows',
        'insert ms p50 / p99: broker; bare',
        'queued ms p99: broker; bare',
        'main thread ms: event loop p99; bare timer late p99',
        'broker main / all cores',
        'CPU ms per insert: broker; bare',
        'load',
      ],
      rows,
    ),
    '',
  ];
}
