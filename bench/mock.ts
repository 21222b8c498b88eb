/**
 * The `mock` group: kch against an in-memory Kafka written in C, librdkafka's mock cluster (issue 19).
 *
 * Both servers keep records in memory only: kch with memory storage (a broker child, as every group
 * starts one), the mock cluster of the system's librdkafka (bench/clients/rdkafka-mock.py, through
 * ctypes, one broker). The same librdkafka client (bench/clients/rdkafka.py, the settings of the
 * produce phases: acks=all, linger.ms=5, no compression) runs against each, in rounds of alternating
 * order so that neither is always first:
 *
 * - max: N records at full speed (a quarter of the rdkafka phases' count, as the security group);
 * - consume: the records the mock still holds read back. The mock keeps only the last ~5 MiB of each
 *   partition (rd_kafka_mock_partition_t: max_size 5 MiB, max_cnt 100,000 batches; older batches are
 *   dropped as new ones come), so both consumers read that many records: from the mock's low
 *   watermarks, and from as far back in each of kch's partitions (in proportion to their records);
 * - steady: ack latency at a rate both meet, half of the slower one's max in that round.
 *
 * The servers' CPU (all threads) is read from /proc around each client run. The summary gives the
 * medians of the rounds and kch ÷ mock.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type ClientOut, PYTHON, ROOT } from './lib/children.js';
import type { Bench } from './lib/context.js';
import { cpuDelta, cpuSnapshot } from './lib/proc.js';
import { createTopic, deleteTopic, RawClient } from './lib/raw-client.js';
import type { MockFigures, MockRun, MockSummary, MockTarget } from './lib/results.js';
import { MiB, median, percentiles, round2, si } from './lib/stats.js';

const rounds = (quick: boolean) => (quick ? 1 : 3);
const runCount = (bench: Bench, size: number) =>
  bench.args.quick ? bench.plan.count(size) : Math.round(bench.plan.count(size) / 4);
const steadySeconds = (quick: boolean) => (quick ? 2 : 5);
const topicName = (size: number, round: number, kind: 'max' | 'steady') => `mock-${size}-${round}-${kind}`;

/** librdkafka's mock cluster in a child process: serves until its stdin is closed. */
class MockCluster {
  private constructor(
    private readonly child: ChildProcess,
    readonly bootstrap: string,
    readonly pid: number,
  ) {}

  static start(topics: string[], partitions: number): Promise<MockCluster> {
    const child = spawn(
      PYTHON,
      [join(ROOT, 'bench/clients/rdkafka-mock.py'), JSON.stringify({ topics, partitions })],
      {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let err = '';
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
    });
    return new Promise((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.once('line', (line) => {
        try {
          const o = JSON.parse(line) as { bootstrap?: string; error?: string };
          if (!o.bootstrap) throw new Error(o.error ?? line);
          resolve(new MockCluster(child, o.bootstrap, child.pid!));
        } catch (e) {
          reject(new Error(`librdkafka's mock cluster did not start: ${(e as Error).message} ${err}`));
        }
      });
      child.once('error', reject);
      child.once('exit', (code) =>
        reject(new Error(`librdkafka's mock cluster exited with ${code}: ${err}`)),
      );
    });
  }

  close(): Promise<void> {
    if (this.child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.stdin!.end();
    });
  }
}

interface Server {
  target: MockTarget;
  bootstrap: string;
  pid: number;
}

export async function mockGroup(bench: Bench): Promise<void> {
  const { args, results, log } = bench;
  const P = args.partitions;
  const n = rounds(args.quick);
  log(`mock: librdkafka against kch (memory storage) and librdkafka's mock cluster, ${P} partitions`);
  const topics = args.sizes.flatMap((size) =>
    Array.from({ length: n }, (_, round) => [
      topicName(size, round, 'max'),
      topicName(size, round, 'steady'),
    ]).flat(),
  );
  let mock: MockCluster;
  try {
    mock = await MockCluster.start(topics, P);
  } catch (e) {
    const why = (e as Error).message.split('\n')[0]!;
    if (process.env.CI) throw new Error(`${why}; CI must have it`);
    results.skipped.push(`mock group: ${why}`);
    return;
  }
  const runs: MockRun[] = [];
  results.mock = { rounds: n, runs, summary: [] };
  const { b } = await bench.startBroker('memory', 'broker-mock');
  const admin = await RawClient.connect('127.0.0.1', b.port);
  const servers: Server[] = [
    { target: 'kch', bootstrap: `127.0.0.1:${b.port}`, pid: b.pid },
    { target: 'mock', bootstrap: mock.bootstrap, pid: mock.pid },
  ];
  try {
    for (const size of args.sizes) {
      for (let round = 0; round < n; round++) {
        const order = round % 2 === 0 ? servers : [...servers].reverse();
        for (const kind of ['max', 'steady'] as const)
          await createTopic(admin, topicName(size, round, kind), P);
        runs.push(...(await oneRound(bench, order, size, round)));
        for (const kind of ['max', 'steady'] as const) await deleteTopic(admin, topicName(size, round, kind));
      }
    }
  } catch (e) {
    results.errors.push(`mock: ${(e as Error).stack ?? e}\n${b.lastStderr}`);
    log(`    FAILED: ${(e as Error).message}`);
  } finally {
    admin.close();
    await b.close();
    await mock.close();
  }
  results.mock.summary = summarize(runs);
  for (const s of results.mock.summary)
    log(
      `    ${s.kind} ${s.size} B: kch ${si(s.kch.recordsPerSec)} rec/s, mock ${si(s.mock.recordsPerSec)} rec/s, kch ÷ mock ×${s.ratio.recordsPerSec}` +
        (s.ratio.ackP99 === null
          ? ''
          : `; ack p50 ${s.kch.ackP50} / ${s.mock.ackP50} ms, p99 ${s.kch.ackP99} / ${s.mock.ackP99} ms`),
    );
}

/** One round of one size: full speed on both, read back what the mock holds on both, then steady. */
async function oneRound(bench: Bench, order: Server[], size: number, round: number): Promise<MockRun[]> {
  const P = bench.args.partitions;
  const count = runCount(bench, size);
  const client = { size, pool: bench.pool(size) };
  const out: MockRun[] = [];
  const record = (
    s: Server,
    kind: MockRun['kind'],
    targetRate: number | null,
    o: ClientOut,
    cpu: number | null,
  ) => {
    const r = mockRun(s.target, kind, size, round, targetRate, o, cpu);
    out.push(r);
    bench.log(
      `    ${kind} ${size} B round ${round} ${s.target}: ${si(r.recordsPerSec)} rec/s` +
        (r.ackMs ? `, ack p50 ${r.ackMs.p50} p99 ${r.ackMs.p99} ms` : ''),
    );
    const failed = (o.errors ?? 0) + (o.unflushed ?? 0);
    if (failed)
      bench.results.errors.push(`mock ${kind} ${size} B ${s.target}: ${failed} failed (${o.error ?? ''})`);
    return r;
  };

  const produce = (s: Server, topic: string, load: Record<string, number>) =>
    measured(s, () => bench.rdkafka({ ...client, mode: 'produce', bootstrap: s.bootstrap, topic, ...load }));

  const max = topicName(size, round, 'max');
  const maxRates = new Map<MockTarget, number>();
  for (const s of order) {
    const { o, cpu } = await produce(s, max, { count, sample_every: 64 });
    maxRates.set(s.target, record(s, 'max', null, o, cpu).recordsPerSec);
  }

  // The same number of records from each: as many as the mock still holds.
  const marks = new Map<MockTarget, { low: number[]; high: number[] }>();
  for (const s of order) {
    const w = await bench.rdkafka({
      ...client,
      mode: 'watermarks',
      bootstrap: s.bootstrap,
      topic: max,
      partitions: P,
    });
    marks.set(s.target, { low: w.low ?? [], high: w.high ?? [] });
  }
  const held = marks.get('mock')!;
  const wanted = between(held.low, held.high);
  for (const s of order) {
    const { low, high } = marks.get(s.target)!;
    const offsets = s.target === 'mock' ? low : tailOffsets(low, high, wanted);
    const n = between(offsets, high);
    const { o, cpu } = await measured(s, () =>
      bench.rdkafka({ ...client, mode: 'consume', bootstrap: s.bootstrap, topic: max, offsets, count: n }),
    );
    record(s, 'consume', null, o, cpu);
    if (o.records < n)
      bench.results.errors.push(`mock consume ${size} B ${s.target}: ${o.records} of ${n} records`);
  }

  const rate = Math.max(100, Math.round(Math.min(...maxRates.values()) / 2));
  const steady = topicName(size, round, 'steady');
  for (const s of order) {
    const { o, cpu } = await produce(s, steady, {
      rate,
      duration: steadySeconds(bench.args.quick),
      sample_every: 8,
    });
    record(s, 'steady', rate, o, cpu);
  }
  return out;
}

/** Offsets that leave about `wanted` records to read, taken from each partition in proportion to its records. */
function tailOffsets(low: number[], high: number[], wanted: number): number[] {
  const total = between(low, high);
  return high.map((h, p) => Math.max(low[p]!, h - Math.round((wanted * (h - low[p]!)) / Math.max(1, total))));
}

/** Records from `from` to `to`, over the partitions. */
const between = (from: number[], to: number[]) => to.reduce((a, h, p) => a + h - from[p]!, 0);

/** Runs a client while reading the server's CPU (all threads) from /proc. */
async function measured(
  s: Server,
  fn: () => Promise<ClientOut>,
): Promise<{ o: ClientOut; cpu: number | null }> {
  const c0 = cpuSnapshot(s.pid);
  const o = await fn();
  return { o, cpu: cpuDelta(c0, cpuSnapshot(s.pid))?.cpuSeconds ?? null };
}

function mockRun(
  target: MockTarget,
  kind: MockRun['kind'],
  size: number,
  round: number,
  targetRate: number | null,
  o: ClientOut,
  cpuSeconds: number | null,
): MockRun {
  const seconds = o.seconds > 0 ? o.seconds : Number.NaN;
  return {
    target,
    kind,
    size,
    round,
    records: o.records,
    seconds: Math.round(o.seconds * 1000) / 1000,
    recordsPerSec: Math.round(o.records / seconds),
    valueMiBPerSec: Math.round(((o.records * size) / MiB / seconds) * 10) / 10,
    ackMs: kind === 'consume' ? null : percentiles(o.latencies_ms ?? []),
    targetRate,
    serverCpuMicrosPerRecord:
      cpuSeconds === null || o.records === 0 ? null : round2((cpuSeconds / o.records) * 1e6),
    serverCores: cpuSeconds === null ? null : round2(cpuSeconds / seconds),
    loadavg1: round2(loadavg()[0]!),
  };
}

/** Medians over the rounds of each size and kind, and kch ÷ mock. */
function summarize(runs: readonly MockRun[]): MockSummary[] {
  const out: MockSummary[] = [];
  for (const size of [...new Set(runs.map((r) => r.size))]) {
    for (const kind of ['max', 'consume', 'steady'] as const) {
      const of = (target: MockTarget) =>
        runs.filter((r) => r.size === size && r.kind === kind && r.target === target);
      const kch = figures(of('kch'));
      const mock = figures(of('mock'));
      if (!kch || !mock) continue;
      const over = (a: number | null, b: number | null) => (a === null || !b ? null : round2(a / b));
      out.push({
        kind,
        size,
        runs: of('kch').length,
        kch,
        mock,
        ratio: {
          recordsPerSec: over(kch.recordsPerSec, mock.recordsPerSec),
          ackP50: over(kch.ackP50, mock.ackP50),
          ackP99: over(kch.ackP99, mock.ackP99),
          serverCpu: over(kch.serverCpuMicrosPerRecord, mock.serverCpuMicrosPerRecord),
        },
      });
    }
  }
  return out;
}

function figures(rs: MockRun[]): MockFigures | null {
  if (rs.length === 0) return null;
  const m = (f: (r: MockRun) => number | null | undefined) =>
    median(rs.map(f).filter((x): x is number => x !== null && x !== undefined && Number.isFinite(x)));
  const r2 = (x: number | null) => (x === null ? null : round2(x));
  return {
    recordsPerSec: Math.round(m((r) => r.recordsPerSec) ?? 0),
    valueMiBPerSec: r2(m((r) => r.valueMiBPerSec)) ?? 0,
    ackP50: r2(m((r) => r.ackMs?.p50)),
    ackP99: r2(m((r) => r.ackMs?.p99)),
    serverCpuMicrosPerRecord: r2(m((r) => r.serverCpuMicrosPerRecord)),
  };
}
