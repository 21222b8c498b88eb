/**
 * kch benchmarks: throughput and latency of the broker against the limits of this machine, side by
 * side in one run. See docs/benchmarks.md.
 *
 *   pnpm bench [--quick] [--cpu-prof] [--sustained <seconds>] [--sustained-rate <rec/s>] [--only <groups>] [--sizes 100,1024]
 *              [--payloads printable,binary,json] [--partitions 4] [--storages chdb,memory]
 *              [--rates <rec/s per size>] [--produce-only]
 *              [--out <dir>] [--keep]
 *   pnpm bench --report <results dir>     rewrites results.md and charts/ from its results.json
 *
 * Groups (--only, comma separated; all but `sustained` and `cluster` by default (and `mock` with --quick),
 * `sustained` with --sustained):
 *   limits    raw TCP loopback; direct insert into embedded ClickHouse in the storage's format; the
 *             storage layer without a broker; the storage's read path. The direct-insert limit is
 *             measured again before and after each full-speed chdb produce phase (--quick: after the
 *             rdkafka one only); ratios use the median of its samples, beside CPU per record
 *   rdkafka   librdkafka (python3-confluent-kafka) producer at full speed and at half of it, acks=all;
 *             tail consume; cold replay from ClickHouse after a restart (chdb)
 *   kafkajs   kafkajs producer at full speed and at half of it, acks=all
 *   latency   produce-to-consume (librdkafka) and produce-to-visible-in-SQL (chdb), in the rdkafka suites;
 *             and ack latency at 1k, 10k and 50k rec/s on chdb against a bare insert of the same rows
 *             (bench/latency-floor.ts; --quick: 10k rec/s, the first size)
 *   security  librdkafka produce then consume over PLAINTEXT, SSL and SASL_SSL (SCRAM-SHA-512) listeners
 *             of one memory-storage broker, rounds in alternating order: what TLS and SASL cost
 *   transactions librdkafka idempotent, then in transactions of 1,000 records: what a commit costs
 *   mock      librdkafka against kch (memory storage) and against librdkafka's mock cluster (an
 *             in-memory Kafka in C, started through ctypes): produce, consume and ack latency, kch ÷ mock;
 *             not part of --quick unless named
 *   engine-peer  kch (chdb) against Kafka + the ClickHouse Kafka engine (kch on memory storage as the broker,
 *             chdb in its own process): produce to visible in SQL and records/s landed; not part of --quick
 *   sustained two long produce runs of 1 KiB records on chdb (steady at 30,000 records/s or
 *             --sustained-rate, then full speed), RSS against the tail cache budget
 *   sustained-http (only when asked) the same two runs with the broker on a ClickHouse over HTTP in
 *             another process (the chdb stand-in): the broker's RSS is Node's, checked against the target
 *   cluster   (only when asked; needs ZooKeeper) 1 broker against 3 over one shared ClickHouse, 12
 *             partitions: librdkafka produce and consume; the failover gap after SIGTERM and SIGKILL
 *
 * --payloads names the kinds of value every produce and consume phase of the limits, rdkafka and kafkajs
 * groups runs with, each with a broker of its own: printable (base64url random bytes), binary (random
 * bytes) and json (order-like JSON objects), all of exactly the value size; all three by default,
 * printable alone with --quick. `latency` sends the first of them; security, transactions, sustained
 * and cluster send printable values. --storages limits the client scenarios to some storages; --rates fixes the rate of the "half" phases
 * (one figure per size, in the order of --sizes) instead of half of the measured maximum, so that runs
 * before and after a change compare latency at the same load; --produce-only skips the consume phases
 * (shorter runs, to repeat and interleave them on a busy machine).
 *
 * Each broker under test runs in a child process (bench/broker-child.ts); its CPU time (all threads,
 * and the main thread alone) and peak RSS are read from /proc for every phase. Results go to
 * bench/results/<time>/: results.json, results.md, charts/*.svg and, with --cpu-prof, profiles/.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBenchArgs } from './args.js';
import { clusterGroup } from './cluster.js';
import { enginePeerGroup } from './engine-peer.js';
import { latencyFloorGroup } from './latency-floor.js';
import {
  BrokerProcess,
  type BrokerStart,
  type BrokerStats,
  type ClientOut,
  nodeArgs,
  PYTHON,
  ROOT,
  runJson,
} from './lib/children.js';
import type { Bench } from './lib/context.js';
import { machine } from './lib/machine.js';
import { type Payload, payloadKey } from './lib/payloads.js';
import { cpuDelta, cpuSnapshot, memoryStatus, RssSampler, resetPeakRss } from './lib/proc.js';
import { createTopic, endOffsets, RawClient } from './lib/raw-client.js';
import { writeReport } from './lib/report.js';
import type { BrokerCost, Results } from './lib/results.js';
import { MiB, percentiles, si } from './lib/stats.js';
import { writePool } from './lib/values.js';
import { limits } from './limits/group.js';
import { applyLimitSpread } from './limits/spread.js';
import { mockGroup } from './mock.js';
import { formatTop, readProfile, selfTimes } from './profile-top.js';
import { securityGroup } from './security.js';
import { kafkajsSuite, produceResult, rdkafkaSuite, sum } from './suites.js';
import { sustainedHttpGroup } from './sustained-http.js';
import { transactionsGroup } from './transactions.js';

// ------------------------------------------------------------------------------------ options

const args = (() => {
  try {
    return parseBenchArgs(process.argv.slice(2), new URL(import.meta.url));
  } catch (e) {
    // A mistyped argument: its message and where the options are, not a stack trace.
    process.stderr.write(`bench: ${(e as Error).message}\nRun \`pnpm bench --help\` for the options.\n`);
    process.exit(2);
  }
})();

if (args.report) {
  // Only the report of an earlier run: results.md and charts/ again from its results.json.
  const saved = JSON.parse(readFileSync(join(args.report, 'results.json'), 'utf8')) as Results;
  process.stdout.write(writeReport(saved, args.report));
  process.exit(0);
}

const quick = args.quick;
const P = args.partitions;

/** How much each scenario does: --quick keeps the whole run under two minutes. */
const plan = {
  count: (size: number) => (quick ? (size <= 100 ? 100_000 : 20_000) : size <= 100 ? 2_000_000 : 400_000),
  kafkajsCount: (size: number) => (quick ? (size <= 100 ? 10_000 : 3_000) : size <= 100 ? 300_000 : 100_000),
  halfSeconds: quick ? 2 : 10,
  e2eRate: quick ? 2_000 : 5_000,
  e2eSeconds: quick ? 1.5 : 10,
  sqlProbes: quick ? 5 : 50,
  insertSizes: quick ? [4 * MiB] : [1 * MiB, 4 * MiB, 16 * MiB, 64 * MiB],
  tailCacheBytes: 256 * MiB,
  timeoutMs: quick ? 120_000 : 900_000,
};

const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
const outDir = args.out || join(ROOT, 'bench', 'results', stamp);
const profDir = join(outDir, 'profiles');
const poolDir = mkdtempSync(join(tmpdir(), 'kch-bench-pool-'));
const dataDirs: string[] = [];
mkdirSync(outDir, { recursive: true });
if (args.cpuProf) mkdirSync(profDir, { recursive: true });

const log = (s: string) => process.stderr.write(`${s}\n`);

// ------------------------------------------------------------------------------------ results

const results: Results = {
  meta: {},
  limits: { tcp: {}, direct: {} },
  produce: [],
  consume: [],
  e2e: [],
  sqlVisible: null,
  sustained: null,
  security: null,
  profiles: [],
  skipped: [],
  errors: [],
};

// ------------------------------------------------------------------------------------ phases

function pool(size: number, payload: Payload = 'printable'): string {
  const file = join(poolDir, `values-${payloadKey(size, payload)}.bin`);
  if (!existsSync(file)) writePool(file, size, payload);
  return file;
}

function newDataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kch-bench-data-'));
  dataDirs.push(d);
  return d;
}

async function startBroker(
  storage: 'memory' | 'chdb',
  name: string,
  dir?: string,
  more: Pick<BrokerStart, 'tailCacheBytes' | 'broker' | 'scramUsers'> = {},
): Promise<{ b: BrokerProcess; idleRssMiB: number | null }> {
  const b = await BrokerProcess.start({
    storage,
    dir,
    tailCacheBytes: plan.tailCacheBytes,
    ...more,
    ...(args.cpuProf ? { cpuProf: { dir: profDir, name } } : {}),
  });
  return { b, idleRssMiB: memoryStatus(b.pid)?.rssMiB ?? null };
}

function summarizeInserts(s: BrokerStats): BrokerCost['inserts'] {
  const f = s.flushes;
  if (!f || f.inserts === 0) return null;
  return {
    count: f.inserts,
    rows: f.rows,
    avgRows: Math.round(f.rows / f.inserts),
    avgMiB: Math.round((f.bytes / f.inserts / MiB) * 100) / 100,
    avgMs: Math.round((f.ms / f.inserts) * 10) / 10,
    maxMs: Math.round(f.maxMs * 10) / 10,
    avgAppends: Math.round((f.appends / f.inserts) * 10) / 10,
    ms: percentiles(f.durations),
    queuedMs: percentiles(f.queued ?? []),
  };
}

/**
 * Phases that measure latency at a given rate start once ClickHouse has no merges left from earlier
 * phases (the burst before them leaves seconds of merging behind); their own merges still count.
 */
const SETTLED_PHASES = /^(produce-half|e2e|sql-visible|sustained)/;

/** Runs `fn` while measuring the broker process: CPU (all threads, main thread), peak RSS, its own stats. */
async function phase<T extends { records?: number }>(
  b: BrokerProcess,
  name: string,
  fn: () => Promise<T>,
  opts: { timeline?: boolean; records?: (v: T) => number } = {},
): Promise<{ value: T; broker: BrokerCost }> {
  log(`  ${name} ...`);
  if (SETTLED_PHASES.test(name)) {
    const s = await b.call<{ waitedMs: number; settled: boolean }>('merges-settle', { timeoutMs: 60_000 });
    if (s.waitedMs > 500 || !s.settled)
      log(
        `    waited ${(s.waitedMs / 1000).toFixed(1)} s for ClickHouse's merges to end${s.settled ? '' : ' (they did not)'}`,
      );
  }
  await b.stats(); // resets the child's accumulators
  if (args.cpuProf) await b.call('profile-start');
  const resetOk = resetPeakRss(b.pid);
  const sampler = new RssSampler(b.pid, opts.timeline ? 1000 : 200);
  const c0 = cpuSnapshot(b.pid);
  const t0 = performance.now();
  const value = await fn();
  const wall = (performance.now() - t0) / 1000;
  const c1 = cpuSnapshot(b.pid);
  sampler.stop();
  const mem = memoryStatus(b.pid);
  if (args.cpuProf) {
    const file = join(profDir, `${name}.cpuprofile`);
    await b.call('profile-stop', { file });
    try {
      const prof = readProfile(file);
      const fnRows = selfTimes(prof, 'function');
      results.profiles.push({
        phase: name,
        file,
        busyMs: fnRows.busyMs,
        top: fnRows.rows.slice(0, 25),
        areas: selfTimes(prof, 'area').rows.slice(0, 12),
      });
    } catch (e) {
      results.errors.push(`profile ${name}: ${(e as Error).message}`);
    }
  }
  const s = await b.stats();
  const cpu = cpuDelta(c0, c1);
  const records = opts.records ? opts.records(value) : (value.records ?? 0);
  const broker: BrokerCost = {
    wallSeconds: Math.round(wall * 1000) / 1000,
    cpu,
    cores: cpu ? Math.round((cpu.cpuSeconds / wall) * 100) / 100 : null,
    mainThreadCores: cpu ? Math.round((cpu.mainThreadSeconds / wall) * 100) / 100 : null,
    cpuMicrosPerRecord: cpu && records > 0 ? Math.round((cpu.cpuSeconds / records) * 1e6 * 100) / 100 : null,
    peakRssMiB: mem ? Math.max(resetOk ? mem.hwmMiB : 0, sampler.peakMiB) : sampler.peakMiB || null,
    rssEndMiB: mem?.rssMiB ?? null,
    anonEndMiB: mem?.anonMiB ?? null,
    fileEndMiB: mem?.fileMiB ?? null,
    produceRequestMs: percentiles(s.produceMs),
    inserts: summarizeInserts(s),
    tailCacheMiB: Math.round((s.tailCacheBytes / MiB) * 10) / 10,
    peakHeapMiB: s.memoryPeak ? Math.round((s.memoryPeak.heapUsed / MiB) * 10) / 10 : null,
    peakBuffersMiB: s.memoryPeak ? Math.round((s.memoryPeak.arrayBuffers / MiB) * 10) / 10 : null,
    peakClickhouseMiB: s.memoryPeak?.clickhouse
      ? Math.round((s.memoryPeak.clickhouse / MiB) * 10) / 10
      : null,
    peakMergesMiB: s.memoryPeak?.clickhouse ? Math.round((s.memoryPeak.merges / MiB) * 10) / 10 : null,
    eventLoopDelayMs: {
      p99: Math.round(s.eventLoopDelayMs.p99 * 10) / 10,
      max: Math.round(s.eventLoopDelayMs.max * 10) / 10,
    },
    loadavg1: Math.round(loadavg()[0]! * 100) / 100,
    ...(opts.timeline ? { rssTimeline: sampler.timeline } : {}),
  };
  return { value, broker };
}

const rdkafka = (opts: Record<string, unknown>) =>
  runJson<ClientOut>(
    PYTHON,
    [join(ROOT, 'bench/clients/rdkafka.py'), JSON.stringify(opts)],
    plan.timeoutMs,
  ).then((r) => {
    if (r.result.librdkafka) results.meta.librdkafka = r.result.librdkafka;
    return r.result;
  });
const kafkajs = (opts: Record<string, unknown>) =>
  runJson<ClientOut>(process.execPath, nodeArgs('bench/clients/kafkajs.ts', opts), plan.timeoutMs).then(
    (r) => r.result,
  );
const fetcher = (opts: Record<string, unknown>) =>
  runJson<ClientOut>(process.execPath, nodeArgs('bench/clients/fetcher.ts', opts), plan.timeoutMs).then(
    (r) => r.result,
  );

/** What the groups in modules of their own (limits, clients, security, ...) use of the harness. */
const bench: Bench = {
  args,
  plan,
  results,
  log,
  pool,
  newDataDir,
  startBroker,
  phase,
  rdkafka,
  kafkajs,
  fetcher,
};

/** Records/s of 1 KiB of the steady sustained run unless --sustained-rate says otherwise. */
const DEFAULT_SUSTAINED_RATE = 30_000;

async function sustainedRun(seconds: number): Promise<void> {
  const size = 1024;
  // Steady: a fixed rate (--sustained-rate) that the machine keeps up with for the whole run, so runs
  // compare (half of a burst maximum did not: bursts leave merges for later, and half of one 1 KiB
  // burst was above what the two cores sustain); full speed: the producer outruns the storage, so what
  // bounds memory is the broker's backpressure alone.
  const steady = args.sustainedRate || DEFAULT_SUSTAINED_RATE;
  results.sustained = {
    seconds,
    size,
    tailCacheBudgetMiB: plan.tailCacheBytes / MiB,
    rssLimitMiB: plan.tailCacheBytes / MiB + 200,
    runs: [],
  };
  for (const rate of [steady, 0]) {
    const label = rate ? `steady at ${si(rate)} rec/s` : 'full speed';
    log(
      `sustained: ${seconds} s of librdkafka ${label}, chdb, ${size} B values, tail cache ${plan.tailCacheBytes / MiB} MiB`,
    );
    const dir = newDataDir();
    const name = rate ? 'steady' : 'full';
    const { b, idleRssMiB } = await startBroker('chdb', `broker-sustained-${name}`, dir);
    const admin = await RawClient.connect('127.0.0.1', b.port);
    try {
      await createTopic(admin, 'sustained', P);
      const r = await phase(
        b,
        `sustained-${name}-chdb-1024B`,
        () =>
          rdkafka({
            mode: 'produce',
            bootstrap: `127.0.0.1:${b.port}`,
            topic: 'sustained',
            size,
            pool: pool(size),
            count: 0,
            rate,
            duration: seconds,
            sample_every: rate ? 8 : 64,
          }),
        { timeline: true },
      );
      const stored = sum(await endOffsets(admin, 'sustained', P));
      const result = produceResult(
        bench,
        'rdkafka',
        { storage: 'chdb', size, payload: 'printable' },
        rate ? 'half' : 'max',
        rate || null,
        r.value,
        r.broker,
        stored,
      );
      results.sustained.runs.push({ label, rate: rate || null, idleRssMiB, result });
    } catch (e) {
      results.errors.push(`sustained ${label}: ${(e as Error).stack ?? e}\n${b.lastStderr}`);
    } finally {
      admin.close();
      await b.close();
      if (!args.keep) rmSync(dir, { recursive: true, force: true });
    }
  }
}

// ------------------------------------------------------------------------------------ main

async function main(): Promise<void> {
  const started = performance.now();
  results.meta = {
    command: `pnpm bench ${process.argv.slice(2).join(' ')}`.trim(),
    date: new Date().toISOString(),
    quick,
    cpuProf: args.cpuProf,
    partitions: P,
    sizes: args.sizes,
    payloads: args.payloads,
    plan: { ...plan, count: Object.fromEntries(args.sizes.map((s) => [s, plan.count(s)])) },
    machine: machine(),
  };
  const py = await runJson(
    PYTHON,
    ['-c', 'import json, confluent_kafka; print(json.dumps({"ok": 1}))'],
    30_000,
  ).then(
    () => true,
    () => false,
  );
  if (!py) {
    const why = 'python3-confluent-kafka is not installed (apt-get install python3-confluent-kafka)';
    if (process.env.CI) throw new Error(`${why}; CI must have it`);
    results.skipped.push(`librdkafka scenarios: ${why}`);
    for (const group of [
      'rdkafka',
      'latency',
      'security',
      'sustained',
      'sustained-http',
      'cluster',
      'transactions',
      'mock',
    ])
      args.only.delete(group);
    args.only.delete('engine-peer');
  }
  log(`kch bench${quick ? ' --quick' : ''}: results in ${outDir}`);
  // Per record size: the limits, then the chdb broker right after them (the ratio to the limit is only
  // fair when both ran under the same load on a shared machine), then memory storage.
  // Each payload (--payloads) in turn, with a broker of its own.
  for (const size of args.sizes) {
    if (args.only.has('limits')) await limits(bench, size);
    for (const storage of args.storages) {
      for (const payload of args.payloads) {
        if (args.only.has('rdkafka')) await rdkafkaSuite(bench, { storage, size, payload });
        if (args.only.has('kafkajs')) await kafkajsSuite(bench, { storage, size, payload });
      }
    }
  }
  if (args.only.has('latency')) await latencyFloorGroup(bench);
  if (args.only.has('security')) await securityGroup(bench);
  if (args.only.has('transactions')) await transactionsGroup(bench);
  if (args.only.has('mock')) await mockGroup(bench);
  if (args.only.has('engine-peer')) await enginePeerGroup(bench);
  if (args.only.has('sustained')) await sustainedRun(args.sustained);
  if (args.only.has('sustained-http'))
    results.sustainedHttp = await sustainedHttpGroup(
      bench,
      args.sustained,
      args.sustainedRate || DEFAULT_SUSTAINED_RATE,
      P,
    );
  if (args.only.has('cluster')) await clusterGroup(bench);
  const m = results.meta.machine as Record<string, unknown>;
  m.loadavgEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  results.meta.seconds = Math.round((performance.now() - started) / 100) / 10;
  applyLimitSpread(results);

  writeFileSync(join(outDir, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
  const md = writeReport(results, outDir);
  process.stdout.write(md);
  if (args.cpuProf) {
    log(`\nCPU profiles in ${profDir}; top self time per phase:`);
    for (const p of results.profiles)
      log(`\n${p.phase} (${p.busyMs.toFixed(0)} ms busy)\n${formatTop(p.top, 10)}`);
  }
  if (!args.out) {
    const latest = join(ROOT, 'bench', 'results', 'latest');
    try {
      unlinkSync(latest);
    } catch {
      // none yet
    }
    try {
      symlinkSync(outDir, latest);
    } catch {
      // not important
    }
  }
  log(`\n${results.meta.seconds} s; results in ${outDir}`);
  if (results.errors.length) log(`errors:\n${results.errors.join('\n')}`);
}

try {
  await main();
} finally {
  rmSync(poolDir, { recursive: true, force: true });
  if (!args.keep) for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
}
process.exit(results.errors.length > 0 ? 1 : 0);
