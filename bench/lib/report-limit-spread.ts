/**
 * results.md's section on the direct-insert limit measured several times in a run (bench/limits/spread.ts):
 * its spread per values, and each full-speed chdb produce phase against it by throughput and by CPU
 * per record.
 */
import { table } from './markdown.js';
import { parsePayloadKey, payloadKey, valuesName } from './payloads.js';
import type { Results, Spread } from './results.js';
import { pct, si } from './stats.js';

const n2 = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(2));
const times = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `×${x.toFixed(2)}`);
const range = (s: Spread | null, f: (x: number) => string) =>
  s ? `${f(s.min)} / ${f(s.median)} / ${f(s.max)}` : '–';

export function limitSpreadSection(r: Results): string[] {
  const spreads = Object.entries(r.limitSpread ?? {});
  // A lone sample (the sweep, e.g. no chdb produce phase ran) has no spread to show.
  if (!spreads.some(([, s]) => s.samples.length > 1)) return [];
  const limitRows = spreads.map(([key, s]) => {
    const { size, payload } = parsePayloadKey(key);
    const others = s.samples.map((x) => x.otherCores).filter((x): x is number => x !== null);
    return [
      valuesName(size, payload),
      s.samples.map((x) => x.when).join(', '),
      range(s.recordsPerSec, si),
      times(s.recordsPerSec?.maxOverMin),
      range(s.cpuMicrosPerRecord, n2),
      times(s.cpuMicrosPerRecord?.maxOverMin),
      others.length ? `${n2(Math.min(...others))}–${n2(Math.max(...others))}` : '–',
    ];
  });
  const phaseRows: string[][] = [];
  for (const p of r.produce) {
    if (p.storage !== 'chdb' || p.mode !== 'max') continue;
    const s = r.limitSpread?.[payloadKey(p.size, p.payload)];
    const br = s?.brackets.find((x) => x.client === p.client);
    const clientCpu = p.clientCost.cpuSeconds;
    phaseRows.push([
      p.client,
      valuesName(p.size, p.payload),
      si(p.recordsPerSec),
      br ? `${si(br.before)} / ${si(br.after)}` : '–',
      si(s?.recordsPerSec?.median),
      pct(p.ratioToDirectInsert),
      n2(p.broker.cpuMicrosPerRecord),
      n2(s?.cpuMicrosPerRecord?.median),
      times(p.cpuPerRecordVsDirect),
      clientCpu === null ? '–' : `${n2((clientCpu / p.records) * 1e6)} (${n2(p.clientCost.cores)} cores)`,
      `${n2(p.broker.cores)} / ${n2(br?.machineCores)}`,
    ]);
  }
  return [
    '## Direct-insert limit: spread over the run, and CPU per record',
    '',
    "The direct-insert limit of each value size and payload, measured by the limits group's insert-size sweep (its best size) and again right before and after each full-speed chdb produce phase (`--quick`: after the rdkafka phase only), at the sweep's best insert size with the same records. min / median / max over those samples; the throughput moves with what else runs on the machine (other work: CPU seconds per second of everything but the limit's process, from /proc/stat, during its insert loop), the CPU per record (the limit process's, all threads, ClickHouse's included) much less.",
    '',
    table(
      [
        'values',
        'samples',
        'limit rec/s min / median / max',
        'max ÷ min',
        'CPU µs/rec min / median / max',
        'max ÷ min',
        'other work, cores',
      ],
      limitRows,
    ),
    '',
    "Each full-speed chdb produce phase against it: throughput ÷ the median limit (the produce table's \"vs direct insert\"), and the broker's CPU per record (its process, all threads, ClickHouse's included, over the phase) ÷ the direct insert's median, which other load hardly moves: ×1.00 would be a broker that costs no more CPU than the bare insert. The client's CPU (its whole process) is what it takes from the same 2 cores; machine cores are every process's, during the phase.",
    '',
    table(
      [
        'client',
        'values',
        'rec/s',
        'limit before / after',
        'median limit',
        'vs median limit',
        'broker CPU µs/rec',
        'direct insert CPU µs/rec',
        'CPU per rec, broker ÷ direct',
        'client CPU µs/rec (cores)',
        'cores: broker / machine',
      ],
      phaseRows,
    ),
    '',
  ];
}
