/**
 * The `mock` group's section of results.md: kch (memory storage) against librdkafka's mock cluster.
 */
import { table } from './markdown.js';
import { sizeName } from './payloads.js';
import type { MockFigures, Results } from './results.js';
import { si } from './stats.js';

const KINDS = {
  max: 'produce, full speed',
  consume: 'consume',
  steady: 'produce, steady',
} as const;

const n = (x: number | null | undefined) => (x === null || x === undefined ? '–' : String(x));
const times = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `×${x.toFixed(2)}`);
const ack = (f: MockFigures) => (f.ackP50 === null ? '–' : `${n(f.ackP50)} / ${n(f.ackP99)}`);

export function mockSection(mock: NonNullable<Results['mock']>): string[] {
  const rows = mock.summary.map((s) => [
    sizeName(s.size),
    KINDS[s.kind],
    si(s.kch.recordsPerSec),
    si(s.mock.recordsPerSec),
    `${s.kch.valueMiBPerSec} / ${s.mock.valueMiBPerSec}`,
    times(s.ratio.recordsPerSec),
    ack(s.kch),
    ack(s.mock),
    `${times(s.ratio.ackP50)} / ${times(s.ratio.ackP99)}`,
    `${n(s.kch.serverCpuMicrosPerRecord)} / ${n(s.mock.serverCpuMicrosPerRecord)}`,
    times(s.ratio.serverCpu),
  ]);
  return [
    "## kch against librdkafka's mock cluster (in-memory Kafka in C)",
    '',
    `The same librdkafka client (acks=all, linger.ms=5, no compression) against kch on memory storage and against the mock cluster of the system's librdkafka (one broker, started through ctypes); medians of ${mock.rounds} round(s) in alternating order. Consume reads back what the mock still holds (its last ~5 MiB per partition) from each. Steady produces at half of the slower server's full speed in that round: judge ack latency there (at full speed it is the client's queue). kch ÷ mock above 1 means kch is faster for rates, slower for latency and CPU.`,
    '',
    table(
      [
        'values',
        'phase',
        'kch rec/s',
        'mock rec/s',
        'MiB/s kch / mock',
        'kch ÷ mock (rec/s, MiB/s)',
        'kch ack ms p50 / p99',
        'mock ack ms p50 / p99',
        'ack kch ÷ mock p50 / p99',
        'server CPU µs/rec kch / mock',
        'CPU kch ÷ mock',
      ],
      rows,
    ),
    '',
  ];
}
