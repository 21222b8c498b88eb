/**
 * results.md (tables), charts/*.svg (bar charts) and the target check, from the results of a run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { table } from './markdown.js';
import { PAYLOADS, type Payload, parsePayloadKey, sizeName, valuesName } from './payloads.js';
import { enginePeerSection } from './report-engine-peer.js';
import { latencyFloorSection } from './report-latency.js';
import { limitSpreadSection } from './report-limit-spread.js';
import { mockSection } from './report-mock.js';
import type { ConsumeResult, ProduceResult, Results, TransactionRun } from './results.js';
import { median, type Percentiles, pct, si } from './stats.js';
import { barChartSvg } from './svg.js';

const MiB = 1024 * 1024;
const n1 = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(1));
const n2 = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(2));
const lat = (p: Percentiles | null | undefined) => (p ? `${n1(p.p50)} / ${n1(p.p99)} / ${n1(p.p999)}` : '–');
const payloadOf = (x: { payload?: Payload }): Payload => x.payload ?? 'printable';

export interface TargetRow {
  target: string;
  measured: string;
  met: boolean | null;
  gap: string;
}

/** The issue's targets for this 2-core machine, against what the run measured. */
export function targets(r: Results): TargetRow[] {
  const rows: TargetRow[] = [];
  const run = (size: number, mode: 'max' | 'half', payload: Payload = 'printable') =>
    r.produce.find(
      (p) =>
        p.client === 'rdkafka' &&
        p.storage === 'chdb' &&
        p.size === size &&
        p.mode === mode &&
        payloadOf(p) === payload,
    );
  const prod = (size: number) => run(size, 'max');
  const half = (size: number) => run(size, 'half');
  for (const size of [100, 1024]) {
    const p = prod(size);
    if (!p) continue;
    const ratio = p.ratioToDirectInsert;
    rows.push({
      target: `chdb produce, ${sizeName(size)}, acks=all ≥ 60% of the direct-insert limit`,
      measured:
        ratio === null
          ? '–'
          : `${pct(ratio)} (${si(p.recordsPerSec)} of ${si(p.recordsPerSec / ratio)} rec/s)`,
      met: ratio === null ? null : ratio >= 0.6,
      gap: ratio === null ? '–' : ratio >= 0.6 ? 'met' : `×${(0.6 / ratio).toFixed(1)} to go`,
    });
    const aim =
      size === 100
        ? { v: p.recordsPerSec, want: 500_000, u: 'rec/s' }
        : { v: p.valueMiBPerSec, want: 100, u: 'MiB/s' };
    rows.push({
      target: `chdb produce, ${sizeName(size)}: aim ${si(aim.want)} ${aim.u}`,
      measured: `${si(aim.v)} ${aim.u}`,
      met: aim.v >= aim.want,
      gap: aim.v >= aim.want ? 'met' : `×${(aim.want / aim.v).toFixed(1)} to go`,
    });
    const h = half(size);
    if (h?.ackMs) {
      rows.push({
        target: `chdb p99 ack latency ≤ 20 ms at half of max, ${sizeName(size)}`,
        measured: `${n1(h.ackMs.p99)} ms at ${si(h.recordsPerSec)} rec/s`,
        met: h.ackMs.p99 <= 20,
        gap: h.ackMs.p99 <= 20 ? 'met' : `${n1(h.ackMs.p99 - 20)} ms over`,
      });
    }
  }
  const binary = run(1024, 'max', 'binary');
  const printable = prod(1024);
  if (binary && printable) {
    const ratio = binary.recordsPerSec / printable.recordsPerSec;
    rows.push({
      target: 'chdb produce, 1 KiB binary ≥ 0.8 × printable in the same run (issue 19)',
      measured: `×${n2(ratio)} (${si(binary.recordsPerSec)} of ${si(printable.recordsPerSec)} rec/s)`,
      met: ratio >= 0.8,
      gap: ratio >= 0.8 ? 'met' : `×${(0.8 / ratio).toFixed(2)} to go`,
    });
  }
  const printableOnly = (c: ConsumeResult) => payloadOf(c) === 'printable';
  const tail = r.consume
    .filter((c) => c.kind === 'tail' && c.size === 100 && c.storage === 'chdb' && printableOnly(c))
    .sort((a, b) => b.recordsPerSec - a.recordsPerSec)[0];
  if (tail) {
    rows.push({
      target: 'tail consume ≥ 1M rec/s of 100 B (chdb broker)',
      measured: `${si(tail.recordsPerSec)} rec/s (${tail.client})`,
      met: tail.recordsPerSec >= 1e6,
      gap: tail.recordsPerSec >= 1e6 ? 'met' : `×${(1e6 / tail.recordsPerSec).toFixed(1)} to go`,
    });
  }
  const cold = r.consume
    .filter((c) => c.kind === 'cold' && c.size === 100 && printableOnly(c))
    .sort((a, b) => b.recordsPerSec - a.recordsPerSec)[0];
  if (cold) {
    rows.push({
      target: 'cold replay ≥ 300k rec/s (100 B)',
      measured: `${si(cold.recordsPerSec)} rec/s (${cold.client})`,
      met: cold.recordsPerSec >= 3e5,
      gap: cold.recordsPerSec >= 3e5 ? 'met' : `×${(3e5 / cold.recordsPerSec).toFixed(1)} to go`,
    });
  }
  const s = r.sustained;
  for (const run of s?.runs ?? []) {
    const peak = run.result.broker.peakRssMiB ?? 0;
    rows.push({
      target: `RSS < tail cache budget + 200 MiB (${s!.rssLimitMiB} MiB) over ${s!.seconds} s, ${run.label}`,
      measured: `peak ${n1(peak)} MiB (idle ${n1(run.idleRssMiB)} MiB)`,
      met: peak < s!.rssLimitMiB,
      gap: peak < s!.rssLimitMiB ? 'met' : `${n1(peak - s!.rssLimitMiB)} MiB over`,
    });
  }
  return rows;
}

const PAYLOAD_TEXT: Record<Payload, string> = {
  printable: 'printable (base64url random bytes)',
  binary: 'binary (random bytes)',
  json: 'JSON (order-like objects)',
};

/** The run's payloads in words: `printable (base64url random bytes), binary (random bytes)`. */
function payloadsText(payloads: Payload[]): string {
  const list = payloads.map((p) => PAYLOAD_TEXT[p] ?? p).join(', ');
  return payloads.length > 1 ? `${list} (a row names its payload unless printable)` : list;
}

/**
 * Full-speed produce of each payload against printable's, per client, storage and size: what binary
 * and JSON values cost the broker and its inserts (issue 19: 1 KiB binary ≥ 0.8 × printable on chdb).
 */
function payloadSection(maxRuns: ProduceResult[]): string[] {
  const others = PAYLOADS.filter((p) => p !== 'printable' && maxRuns.some((x) => payloadOf(x) === p));
  if (others.length === 0) return [];
  const rows: string[][] = [];
  for (const base of maxRuns.filter((x) => payloadOf(x) === 'printable')) {
    const same = (p: Payload) =>
      maxRuns.find(
        (x) =>
          x.client === base.client &&
          x.storage === base.storage &&
          x.size === base.size &&
          payloadOf(x) === p,
      );
    rows.push([
      base.client,
      base.storage,
      sizeName(base.size),
      si(base.recordsPerSec),
      ...others.flatMap((p) => {
        const x = same(p);
        return x ? [si(x.recordsPerSec), `×${n2(x.recordsPerSec / base.recordsPerSec)}`] : ['–', '–'];
      }),
    ]);
  }
  return [
    '## Payloads: produce throughput against printable values',
    '',
    'Full speed, acks=all, each payload with a broker of its own in the same run; the ratios divide by the printable row.',
    '',
    table(
      [
        'client',
        'storage',
        'size',
        'printable rec/s',
        ...others.flatMap((p) => [`${p} rec/s`, `${p} ÷ printable`]),
      ],
      rows,
    ),
    '',
  ];
}

function produceRows(list: ProduceResult[]): string[][] {
  return list.map((p) => [
    p.client,
    p.storage,
    valuesName(p.size, p.payload),
    p.mode === 'max' ? 'max' : `half (${si(p.targetRate)}/s)`,
    si(p.recordsPerSec),
    n1(p.valueMiBPerSec),
    p.ratioToDirectInsert === null ? '–' : pct(p.ratioToDirectInsert),
    p.ratioToTcp === null ? '–' : pct(p.ratioToTcp),
    lat(p.ackMs),
    p.broker.produceRequestMs
      ? `${n1(p.broker.produceRequestMs.p50)} / ${n1(p.broker.produceRequestMs.p99)}`
      : '–',
    `${n2(p.broker.cores)} (${n2(p.broker.mainThreadCores)})`,
    n2(p.broker.cpuMicrosPerRecord),
    `${n1(p.broker.peakRssMiB)} (${n1(p.broker.peakHeapMiB)} / ${n1(p.broker.peakBuffersMiB)} / ${n1(p.broker.peakClickhouseMiB)})`,
    p.broker.inserts
      ? `${p.broker.inserts.count} × ${si(p.broker.inserts.avgRows)} rows, ${n1(p.broker.inserts.avgMs)} ms`
      : '–',
    n2(p.clientCost.cores),
    n1(p.broker.loadavg1),
    p.errors ? `**${p.errors}**` : '0',
  ]);
}

function consumeRows(list: ConsumeResult[]): string[][] {
  return list.map((c) => [
    c.kind,
    c.storage,
    c.client,
    valuesName(c.size, c.payload),
    `${c.records}/${c.expected}`,
    si(c.recordsPerSec),
    n1(c.valueMiBPerSec),
    c.ratioToLimit === null ? '–' : pct(c.ratioToLimit),
    `${n2(c.broker.cores)} (${n2(c.broker.mainThreadCores)})`,
    n2(c.broker.cpuMicrosPerRecord),
    n1(c.broker.peakRssMiB),
    n2(c.clientCost.cores),
    n1(c.broker.loadavg1),
  ]);
}

export function writeReport(r: Results, outDir: string): string {
  const charts = join(outDir, 'charts');
  mkdirSync(charts, { recursive: true });
  const m = r.meta as Record<string, any>;
  const mach = m.machine ?? {};
  const out: string[] = [];
  out.push(
    `# kch benchmark results`,
    '',
    `\`${m.command}\` on ${m.date}, ${m.seconds} s.`,
    '',
    `Machine: ${mach.nproc} CPUs (${mach.cpuModel}), ${mach.memoryGiB} GiB, Linux ${mach.kernel}; Node ${mach.node}; ` +
      `chdb ${mach.chdb} (ClickHouse ${m.clickhouse ?? '?'}); librdkafka ${m.librdkafka ?? '?'}; kafkajs ${mach.kafkajs}. ` +
      `Load average at start ${mach.loadavgStart?.join(' ')}, at end ${mach.loadavgEnd?.join(' ')}. ` +
      `${m.partitions} partitions per topic; keys null; values: ${payloadsText(m.payloads ?? ['printable'])}.`,
    '',
  );

  // Limits
  const sizes = (m.sizes as number[]) ?? [100, 1024];
  const limitRows: string[][] = [];
  // By size, then payload (an object lists integer-like keys such as `1024` before `100-binary`).
  const order = (k: string) => {
    const { size, payload } = parsePayloadKey(k);
    return size * PAYLOADS.length + PAYLOADS.indexOf(payload);
  };
  const limitKeys = [...new Set([...Object.keys(r.limits.tcp), ...Object.keys(r.limits.direct)])].sort(
    (a, b) => order(a) - order(b),
  );
  for (const key of limitKeys.length ? limitKeys : sizes.map(String)) {
    const { size, payload } = parsePayloadKey(key);
    const tcp = r.limits.tcp[key];
    const d = r.limits.direct[key];
    const seq = d?.sequential;
    const us = (ms: number | undefined) => (ms === undefined || !d ? '–' : n2((ms * 1000) / d.records));
    limitRows.push([
      valuesName(size, payload),
      tcp ? `${si(tcp.recordsPerSec)} (${si(tcp.wireMiBPerSec)} MiB/s)` : '–',
      d
        ? `${si(d.limit.recordsPerSec)} (${n1(d.limit.valueMiBPerSec)} MiB/s), ${n1(d.limit.insertTargetBytes / MiB)} MiB inserts`
        : '–',
      d?.insertOnly ? si(d.insertOnly.recordsPerSec) : '–',
      // Results before RowBinary inserts name the insert's part chdbMs (and its bytes TSV bytes).
      seq ? `${us(seq.encodeMs)} / ${us(seq.insertMs ?? seq.chdbMs)}` : '–',
      d?.limit ? n2(d.limit.rowBytesPerValue ?? d.limit.tsvPerValue) : '–',
      d?.storageAppend ? si(d.storageAppend.recordsPerSec) : '–',
      d?.read ? `${si(d.read.selectOnlyRecordsPerSec)} / ${si(d.read.recordsPerSec)}` : '–',
      n1(d?.loadavg1 ?? tcp?.loadavg1),
    ]);
  }
  out.push(
    '## Limits (no Kafka in between)',
    '',
    table(
      [
        'values',
        'TCP loopback rec/s',
        'direct insert limit rec/s',
        'chdb insert alone rec/s',
        'µs/record: encode / insert',
        'insert bytes per value byte',
        'storage.append rec/s',
        'read: SELECT / +re-encode rec/s',
        'load',
      ],
      limitRows,
    ),
    '',
  );
  const sweep: string[][] = [];
  for (const [key, d] of Object.entries(r.limits.direct)) {
    for (const l of d.limits ?? []) {
      sweep.push([
        key,
        `${n1(l.insertTargetBytes / MiB)} MiB`,
        String(l.inserts),
        si(l.recordsPerSec),
        n1(l.valueMiBPerSec),
        n2(l.cpuSeconds / l.seconds),
      ]);
    }
  }
  if (sweep.length) {
    out.push(
      'Insert size sweep (encode overlapped with one insert in flight):',
      '',
      table(['values', 'insert', 'inserts', 'rec/s', 'MiB/s', 'cores'], sweep),
      '',
    );
  }

  const curveRows: string[][] = [];
  for (const [key, d] of Object.entries(r.limits.direct)) {
    const c = d.insertLatency;
    if (!c) continue;
    const rowsSeen = [...new Set<number>(c.curve.map((x: any) => x.rows))];
    for (const rows of rowsSeen) {
      const w = c.curve.find((x: any) => x.rows === rows && x.dedup);
      const wo = c.curve.find((x: any) => x.rows === rows && !x.dedup);
      curveRows.push([
        key,
        si(rows),
        `${n1(w?.medianMs)} (${n1(w?.minMs)}–${n1(w?.maxMs)})`,
        `${n1(wo?.medianMs)} (${n1(wo?.minMs)}–${n1(wo?.maxMs)})`,
        n2(c.selectOneMedianMs),
      ]);
    }
  }
  if (curveRows.length) {
    out.push(
      'One insert, by size (ms, median (min–max)): the floor under acks=all latency.',
      '',
      table(['values', 'rows', 'with dedup token (as the storage)', 'without', '`SELECT 1` ms'], curveRows),
      '',
    );
  }

  // Produce
  const maxRuns = r.produce.filter((p) => p.mode === 'max');
  const halfRuns = r.produce.filter((p) => p.mode === 'half');
  const produceHead = [
    'client',
    'storage',
    'values',
    'rate',
    'rec/s',
    'MiB/s',
    'vs direct insert (median)',
    'vs TCP',
    'ack ms p50 / p99 / p999',
    'broker request ms p50 / p99',
    'broker cores (main thread)',
    'broker CPU µs/rec',
    'broker peak RSS MiB (JS heap / Buffers / ClickHouse)',
    'inserts × avg rows, avg ms',
    'client cores',
    'load',
    'errors',
  ];
  out.push('## Produce, acks=all', '', table(produceHead, produceRows(maxRuns)), '');
  out.push('## Ack latency at half of the maximum rate', '', table(produceHead, produceRows(halfRuns)), '');
  out.push(...limitSpreadSection(r));
  out.push(...payloadSection(maxRuns));

  // Consume
  out.push(
    '## Consume',
    '',
    "Tail: from the tail cache of the broker that just took the writes (ratio to the TCP limit). Cold: a restarted broker on the same data directory, so every batch is read from ClickHouse and re-encoded (ratio to the storage read path without a broker). `fetch` is a Fetch loop that counts records from batch headers (the broker's speed); `rdkafka` is a librdkafka consumer.",
    '',
    table(
      [
        'kind',
        'storage',
        'client',
        'values',
        'records',
        'rec/s',
        'MiB/s',
        'vs limit',
        'broker cores (main)',
        'broker CPU µs/rec',
        'broker peak RSS MiB',
        'client cores',
        'load',
      ],
      consumeRows(r.consume),
    ),
    '',
  );

  // Latency
  if (r.e2e.length || r.sqlVisible) {
    out.push('## End-to-end latency', '');
    if (r.e2e.length) {
      out.push(
        table(
          [
            'storage',
            'values',
            'rate rec/s',
            'received',
            'produce → consume ms p50 / p99 / p999',
            'broker cores',
          ],
          r.e2e.map((e) => [
            e.storage,
            sizeName(e.size),
            si(e.rate),
            `${e.records}/${e.expected}`,
            lat(e.latencyMs),
            n2(e.broker.cores),
          ]),
        ),
        '',
      );
    }
    const v = r.sqlVisible;
    if (v) {
      out.push(
        `Produce (one record, acks=all) to visible in \`SELECT count()\` through a second chdb session, ${v.probes} probes: ` +
          `ack ${lat(v.ackMs)} ms, visible ${lat(v.visibleMs)} ms after the produce was sent, ${lat(v.visibleAfterAckMs)} ms after its ack (p50 / p99 / p999; ${v.pollsPerProbe} polls per probe).`,
        '',
      );
    }
  }
  out.push(...latencyFloorSection(r.latencyFloor ?? []));

  const sec = r.security;
  if (sec?.summary.length) {
    const ratio = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `×${n2(x)}`);
    out.push(
      '## Security: TLS and SASL cost',
      '',
      `librdkafka at full speed, then a consume of the same records, over each listener of one broker on memory storage (SASL_SSL with ${sec.mechanism}); medians of ${sec.rounds} rounds in alternating order. CPU per million records is in seconds (= µs per record): the broker's all threads, the client's while its clock ran. The last three columns divide by PLAINTEXT's figure.`,
      '',
      table(
        [
          'values',
          'kind',
          'protocol',
          'rec/s',
          'MiB/s',
          'broker CPU s / M rec',
          'rec/s per broker core',
          'broker cores',
          'client CPU s / M rec',
          'rec/s vs PLAINTEXT',
          'broker CPU per rec vs PLAINTEXT',
          'client CPU per rec vs PLAINTEXT',
        ],
        sec.summary.map((x) => [
          sizeName(x.size),
          x.kind,
          x.protocol,
          si(x.recordsPerSec),
          n1(x.valueMiBPerSec),
          n2(x.brokerCpuSecondsPerMillion),
          si(x.recordsPerBrokerCoreSecond),
          n2(x.brokerCores),
          n2(x.clientCpuSecondsPerMillion),
          ratio(x.vsPlaintext?.recordsPerSec),
          ratio(x.vsPlaintext?.brokerCpuPerRecord),
          ratio(x.vsPlaintext?.clientCpuPerRecord),
        ]),
      ),
      '',
    );
  }

  const tx = r.transactions;
  if (tx?.runs.length) out.push(...transactionsSection(tx));

  const cl = r.cluster;
  if (cl?.summary.length) out.push(...clusterSection(cl));
  if (r.mock?.summary.length) out.push(...mockSection(r.mock));
  if (r.enginePeer?.runs.length) out.push(...enginePeerSection(r.enginePeer));

  // Sustained
  const s = r.sustained;
  if (s?.runs.length) {
    out.push(
      '## Sustained',
      '',
      `${s.seconds} s of librdkafka, ${sizeName(s.size)} values, chdb, tail cache budget ${s.tailCacheBudgetMiB} MiB (RSS target: under ${s.rssLimitMiB} MiB).`,
      '',
      table(
        [
          'run',
          'rec/s',
          'MiB/s',
          'ack ms p50 / p99 / p999',
          'RSS idle',
          'RSS peak',
          'peak JS heap / Buffers / ClickHouse (merges)',
          'RSS end (anon + file)',
          'tail cache MiB',
          'broker cores',
        ],
        s.runs.map((x) => {
          const b = x.result.broker;
          return [
            x.label,
            si(x.result.recordsPerSec),
            n1(x.result.valueMiBPerSec),
            lat(x.result.ackMs),
            n1(x.idleRssMiB),
            n1(b.peakRssMiB),
            `${n1(b.peakHeapMiB)} / ${n1(b.peakBuffersMiB)} / ${n1(b.peakClickhouseMiB)} (${n1(b.peakMergesMiB)})`,
            `${n1(b.rssEndMiB)} (${n1(b.anonEndMiB)} + ${n1(b.fileEndMiB)})`,
            n1(b.tailCacheMiB),
            n2(b.cores),
          ];
        }),
      ),
      '',
    );
  }

  // Targets
  const t = targets(r);
  if (t.length) {
    out.push(
      '## Targets',
      '',
      table(
        ['target', 'measured', 'met', 'gap'],
        t.map((x) => [x.target, x.measured, x.met === null ? '–' : x.met ? 'yes' : 'no', x.gap]),
      ),
      '',
    );
  }

  // Profiles
  if (r.profiles.length) {
    out.push('## CPU profiles of the broker (main thread, self time)', '');
    for (const p of r.profiles) {
      out.push(
        `### ${p.phase} (${p.busyMs.toFixed(0)} ms busy)`,
        '',
        table(
          ['self ms', 'share', 'function'],
          p.top.slice(0, 15).map((x) => [x.ms.toFixed(0), pct(x.share), `\`${x.name}\``]),
        ),
        '',
        `By area: ${p.areas
          .slice(0, 8)
          .map((a) => `${a.name} ${pct(a.share)}`)
          .join(', ')}`,
        '',
      );
    }
  }
  if (r.skipped.length) out.push('## Skipped', '', ...r.skipped.map((x) => `- ${x}`), '');
  if (r.errors.length) out.push('## Errors', '', ...r.errors.map((x) => `- ${x.split('\n')[0]}`), '');

  // Charts
  for (const size of sizes) {
    const d = r.limits.direct[String(size)]; // the printable limits: the chart's markers
    // The median of the run's samples of the limit where there are several (spread.ts).
    const limit: number | undefined =
      r.limitSpread?.[String(size)]?.recordsPerSec?.median ?? d?.limit.recordsPerSec;
    const rows: { label: string; values: (number | null)[] }[] = [];
    if (d) rows.push({ label: 'direct insert limit (chdb)', values: [limit!] });
    if (d?.storageAppend)
      rows.push({ label: 'storage.append, no broker (chdb)', values: [d.storageAppend.recordsPerSec] });
    for (const p of maxRuns.filter((x) => x.size === size))
      rows.push({
        label: `${p.client} → ${p.storage}, ${valuesName(p.size, p.payload)}`,
        values: [p.recordsPerSec],
      });
    if (rows.length === 0) continue;
    const markers = [];
    if (d) markers.push({ value: limit! * 0.6, label: '60% of limit' });
    markers.push(
      size === 100
        ? { value: 500_000, label: 'aim 500k/s' }
        : { value: (100 * MiB) / size, label: 'aim 100 MiB/s' },
    );
    writeFileSync(
      join(charts, `produce-${size}.svg`),
      barChartSvg({
        title: `Produce, acks=all, ${sizeName(size)} values (records/s)`,
        unit: 'records/s',
        series: ['records/s'],
        rows,
        markers,
      }),
    );
  }
  const latRuns = halfRuns.filter((p) => p.ackMs);
  if (latRuns.length) {
    writeFileSync(
      join(charts, 'ack-latency-half.svg'),
      barChartSvg({
        title: 'Ack latency at half of max throughput (ms)',
        unit: 'ms',
        series: ['p50', 'p99', 'p99.9'],
        rows: latRuns.map((p) => ({
          label: `${p.client} → ${p.storage}, ${valuesName(p.size, p.payload)}`,
          values: [p.ackMs!.p50, p.ackMs!.p99, p.ackMs!.p999],
        })),
        markers: [{ value: 20, label: 'p99 target 20 ms' }],
      }),
    );
  }
  if (r.consume.length) {
    const rows = r.consume.map((c) => ({
      label: `${c.kind} ${c.client} ← ${c.storage}, ${valuesName(c.size, c.payload)}`,
      values: [c.recordsPerSec],
    }));
    for (const size of sizes) {
      const read = r.limits.direct[String(size)]?.read;
      if (read)
        rows.push({
          label: `storage read path, ${sizeName(size)}`,
          values: [Math.round(read.recordsPerSec)],
        });
    }
    writeFileSync(
      join(charts, 'consume.svg'),
      barChartSvg({
        title: 'Consume (records/s)',
        unit: 'records/s',
        series: ['records/s'],
        rows,
        markers: [
          { value: 1e6, label: 'tail 1M/s' },
          { value: 3e5, label: 'cold 300k/s' },
        ],
      }),
    );
  }
  const timelines = (s?.runs ?? []).filter((x) => x.result.broker.rssTimeline?.length);
  if (s && timelines.length) {
    const longest = Math.max(...timelines.map((x) => x.result.broker.rssTimeline!.length));
    const step = Math.max(1, Math.ceil(longest / 30));
    const rows = [];
    for (let i = 0; i < longest; i += step) {
      rows.push({
        label: `${i} s`,
        values: timelines.map((x) => x.result.broker.rssTimeline![i]?.rssMiB ?? null),
      });
    }
    writeFileSync(
      join(charts, 'sustained-rss.svg'),
      barChartSvg({
        title: `Broker RSS during ${s.seconds} s of produce, 1 KiB values, chdb (MiB)`,
        unit: 'MiB',
        series: timelines.map((x) => x.label),
        rows,
        markers: [{ value: s.rssLimitMiB, label: 'budget + 200 MiB' }],
      }),
    );
  }
  const md = `${out.join('\n')}\n`;
  writeFileSync(join(outDir, 'results.md'), md);
  return md;
}

/** The `cluster` group: 1 broker against 3 over one shared ClickHouse, and the failover gaps. */
function transactionsSection(tx: NonNullable<Results['transactions']>): string[] {
  const idempotent = (run: TransactionRun) =>
    tx.runs.find((x) => x.mode === 'idempotent' && x.storage === run.storage && x.size === run.size);
  return [
    '## Transactions: what a commit costs',
    '',
    `librdkafka, acks=all, the same records idempotent and then in transactions of ${tx.perTransaction} (each committed: the last records flushed, then EndTxn; the broker answers once the commit is stored, and the COMMIT markers copy the records into the topic's table). Commit is commit_transaction's time; the log's end counts the markers (one per transaction and partition written to); table rows are the topic's table after the run.`,
    '',
    table(
      [
        'storage',
        'values',
        'mode',
        'records',
        'rec/s',
        'MiB/s',
        'vs idempotent',
        'transactions',
        'commit p50 / p99 ms',
        'log end',
        'table rows',
        'broker cores',
      ],
      tx.runs.map((x) => {
        const base = idempotent(x);
        return [
          x.storage,
          sizeName(x.size),
          x.mode,
          si(x.records),
          si(x.recordsPerSec),
          n1(x.valueMiBPerSec),
          x.mode === 'transactional' && base ? `×${n2(x.recordsPerSec / base.recordsPerSec)}` : '–',
          x.mode === 'transactional' ? String(x.transactions) : '–',
          x.commitMs ? `${n1(x.commitMs.p50)} / ${n1(x.commitMs.p99)}` : '–',
          si(x.logEnd),
          x.tableRows === null ? '–' : si(x.tableRows),
          n2(x.broker.cores ?? 0),
        ];
      }),
    ),
    '',
  ];
}

function clusterSection(cl: NonNullable<Results['cluster']>): string[] {
  const out = [
    '## Cluster: 1 broker against 3 over one shared ClickHouse',
    '',
    `librdkafka with every broker in its bootstrap list, ${cl.partitions} partitions (3 brokers lead 4 each), produce at full speed for ${cl.seconds} s (acks=all) then a consume of the same records from offset 0; a fresh database for each setup; medians of ${cl.rounds} round(s), 1 and 3 brokers in alternating order. Cores are CPU seconds per wall second of the client run: all brokers together, the ClickHouse server process (chdb over HTTP, ZooKeeper as its Keeper), the client, and the whole machine (other work included).`,
    '',
    table(
      [
        'kind',
        'values',
        'brokers',
        'rec/s',
        'MiB/s',
        'vs 1 broker',
        'brokers CPU µs/rec',
        'ClickHouse CPU µs/rec',
        'cores: brokers / ClickHouse / client / machine',
      ],
      cl.summary.map((x) => [
        x.kind,
        sizeName(x.size),
        String(x.brokers),
        si(x.recordsPerSec),
        n1(x.valueMiBPerSec),
        x.vsOneBroker === null ? '–' : `×${n2(x.vsOneBroker)}`,
        n2(x.brokerCpuMicrosPerRecord),
        n2(x.clickhouseCpuMicrosPerRecord),
        `${n2(x.cores.brokers)} / ${n2(x.cores.clickhouse)} / ${n2(x.cores.client)} / ${n2(x.cores.machine)}`,
      ]),
    ),
    '',
  ];
  if (cl.failover.length) {
    const bySignal = (sig: string) => cl.failover.filter((f) => f.signal === sig);
    out.push(
      'Failover: one of three brokers stopped under a steady librdkafka load; probes of one record per partition every 50 ms. Recovered: from the signal until every partition acknowledged a probe sent after its last failed one.',
      '',
      table(
        [
          'signal',
          'rounds',
          'recovered ms (median; each)',
          'longest stall ms (median)',
          'partitions interrupted / moved',
          'load records failed',
        ],
        ['SIGTERM', 'SIGKILL'].flatMap((sig) => {
          const fs = bySignal(sig);
          if (fs.length === 0) return [];
          const med = (f: (x: (typeof fs)[number]) => number) => n1(median(fs.map(f)));
          return [
            [
              sig,
              String(fs.length),
              `${med((x) => x.recoveredMs)} (${fs.map((x) => x.recoveredMs).join(', ')})`,
              med((x) => x.longestStallMs),
              fs.map((x) => `${x.partitionsInterrupted} / ${x.partitionsMoved}`).join(', '),
              String(fs.reduce((a, x) => a + x.load.errors, 0)),
            ],
          ];
        }),
      ),
      '',
    );
  }
  return out;
}
