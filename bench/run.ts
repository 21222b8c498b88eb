/**
 * kch benchmarks: throughput and latency of the broker against the limits of this machine, side by
 * side in one run. See docs/benchmarks.md.
 *
 *   pnpm bench [--quick] [--cpu-prof] [--sustained <seconds>] [--sustained-rate <rec/s>] [--only <groups>] [--sizes 100,1024]
 *              [--partitions 4] [--storages chdb,memory] [--rates <rec/s per size>] [--produce-only]
 *              [--out <dir>] [--keep]
 *   pnpm bench --report <results dir>     rewrites results.md and charts/ from its results.json
 *
 * Groups (--only, comma separated; all but `sustained` and `cluster` by default, `sustained` with --sustained):
 *   limits    raw TCP loopback; direct insert into embedded ClickHouse in the storage's format; the
 *             storage layer without a broker; the storage's read path
 *   rdkafka   librdkafka (python3-confluent-kafka) producer at full speed and at half of it, acks=all;
 *             tail consume; cold replay from ClickHouse after a restart (chdb)
 *   kafkajs   kafkajs producer at full speed and at half of it, acks=all
 *   latency   produce-to-consume (librdkafka) and produce-to-visible-in-SQL (chdb)
 *   security  librdkafka produce then consume over PLAINTEXT, SSL and SASL_SSL (SCRAM-SHA-512) listeners
 *             of one memory-storage broker, rounds in alternating order: what TLS and SASL cost
 *   transactions librdkafka idempotent, then in transactions of 1,000 records: what a commit costs
 *   sustained two long produce runs of 1 KiB records on chdb (steady at 30,000 records/s or
 *             --sustained-rate, then full speed), RSS against the tail cache budget
 *   cluster   (only when asked; needs ZooKeeper) 1 broker against 3 over one shared ClickHouse, 12
 *             partitions: librdkafka produce and consume; the failover gap after SIGTERM and SIGKILL
 *
 * --storages limits the client scenarios to some storages; --rates fixes the rate of the "half" phases
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
import { encodeRecordBatchSync } from '@kch/protocol';
import { parseBenchArgs } from './args.js';
import { clusterGroup } from './cluster.js';
import {
  BrokerProcess,
  type BrokerStart,
  type BrokerStats,
  type ClientOut,
  clientCost,
  nodeArgs,
  PYTHON,
  ROOT,
  runJson,
} from './lib/children.js';
import type { Bench } from './lib/context.js';
import { machine } from './lib/machine.js';
import { cpuDelta, cpuSnapshot, memoryStatus, RssSampler, resetPeakRss } from './lib/proc.js';
import { createTopic, endOffsets, RawClient } from './lib/raw-client.js';
import { writeReport } from './lib/report.js';
import type { BrokerCost, ConsumeResult, ProduceResult, Results } from './lib/results.js';
import { MiB, percentiles, si } from './lib/stats.js';
import { writePool } from './lib/values.js';
import { limits } from './limits/group.js';
import { formatTop, readProfile, selfTimes } from './profile-top.js';
import { securityGroup } from './security.js';
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
  binaryLimit: !quick,
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

function pool(size: number, binary = false): string {
  const file = join(poolDir, `values-${size}${binary ? '-binary' : ''}.bin`);
  if (!existsSync(file)) writePool(file, size, binary);
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

/** What the groups in modules of their own (limits, security) use of the harness. */
const bench: Bench = { args, plan, results, log, pool, newDataDir, startBroker, phase, rdkafka };

function directLimit(size: number): number | null {
  return results.limits.direct[String(size)]?.limit?.recordsPerSec ?? null;
}
function tcpLimit(size: number): number | null {
  return results.limits.tcp[String(size)]?.recordsPerSec ?? null;
}

function produceResult(
  client: 'rdkafka' | 'kafkajs',
  storage: 'memory' | 'chdb',
  size: number,
  mode: 'max' | 'half',
  targetRate: number | null,
  o: ClientOut,
  broker: BrokerCost,
  stored: number | null,
): ProduceResult {
  const rps = o.records / o.seconds;
  const direct = directLimit(size);
  const tcp = tcpLimit(size);
  const r: ProduceResult = {
    client,
    storage,
    size,
    mode,
    targetRate,
    records: o.records,
    seconds: Math.round(o.seconds * 1000) / 1000,
    recordsPerSec: Math.round(rps),
    valueMiBPerSec: Math.round(((o.records * size) / MiB / o.seconds) * 10) / 10,
    storedRecords: stored,
    errors: (o.errors ?? 0) + (o.unflushed ?? 0),
    ackMs: percentiles(o.latencies_ms ?? []),
    ratioToDirectInsert: storage === 'chdb' && direct ? Math.round((rps / direct) * 1000) / 1000 : null,
    ratioToTcp: tcp ? Math.round((rps / tcp) * 1000) / 1000 : null,
    broker,
    clientCost: clientCost(o),
  };
  const lat = r.ackMs ? `ack p50 ${r.ackMs.p50} p99 ${r.ackMs.p99} p999 ${r.ackMs.p999} ms` : '';
  const ins = broker.inserts;
  const req = broker.produceRequestMs;
  const insertLine = ins
    ? `\n      broker Produce ms p50 ${req?.p50} p99 ${req?.p99}; ${ins.count} inserts × ${si(ins.avgRows)} rows, ms p50 ${ins.ms?.p50} p99 ${ins.ms?.p99}, queued before insert p50 ${ins.queuedMs?.p50} p99 ${ins.queuedMs?.p99}; event loop delay p99 ${broker.eventLoopDelayMs.p99} max ${broker.eventLoopDelayMs.max} ms`
    : '';
  log(
    `    ${client} -> ${storage} ${size} B ${mode}: ${si(r.recordsPerSec)} rec/s, ${r.valueMiBPerSec} MiB/s, ${lat}; broker ${broker.cores} cores, peak RSS ${broker.peakRssMiB} MiB${r.errors ? `, ${r.errors} ERRORS ${o.error ?? ''}` : ''}${insertLine}`,
  );
  if (r.errors)
    results.errors.push(`${client} -> ${storage} ${size} B ${mode}: ${r.errors} records failed: ${o.error}`);
  return r;
}

function consumeResult(
  kind: 'tail' | 'cold',
  client: 'fetch' | 'rdkafka',
  storage: 'memory' | 'chdb',
  size: number,
  expected: number,
  o: ClientOut,
  broker: BrokerCost,
): ConsumeResult {
  const rps = o.records / o.seconds;
  const limit =
    kind === 'tail' ? tcpLimit(size) : (results.limits.direct[String(size)]?.read?.recordsPerSec ?? null);
  const r: ConsumeResult = {
    kind,
    client,
    storage,
    size,
    records: o.records,
    expected,
    seconds: Math.round(o.seconds * 1000) / 1000,
    recordsPerSec: Math.round(rps),
    valueMiBPerSec: Math.round(((o.records * size) / MiB / o.seconds) * 10) / 10,
    ratioToLimit: limit ? Math.round((rps / limit) * 1000) / 1000 : null,
    broker,
    clientCost: clientCost(o),
  };
  log(
    `    ${kind} consume ${client} <- ${storage} ${size} B: ${si(r.recordsPerSec)} rec/s (${o.records}/${expected}), broker ${broker.cores} cores`,
  );
  if (o.records < expected)
    results.errors.push(`${kind} ${client} ${storage} ${size}: ${o.records} of ${expected}`);
  return r;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

// ------------------------------------------------------------------------------------ scenarios

async function rdkafkaSuite(storage: 'memory' | 'chdb', size: number): Promise<void> {
  log(`librdkafka, ${storage} storage, ${size} B values`);
  const tag = `${storage}-${size}B`;
  const dir = storage === 'chdb' ? newDataDir() : undefined;
  const bootstrap = (port: number) => `127.0.0.1:${port}`;
  const { b } = await startBroker(storage, `broker-rdkafka-${tag}`, dir);
  const admin = await RawClient.connect('127.0.0.1', b.port);
  let produced = 0;
  try {
    await createTopic(admin, 'max', P);
    const count = plan.count(size);
    const max = await phase(b, `produce-max-rdkafka-${tag}`, () =>
      rdkafka({
        mode: 'produce',
        bootstrap: bootstrap(b.port),
        topic: 'max',
        size,
        pool: pool(size),
        count,
        sample_every: 64,
      }),
    );
    const hws = await endOffsets(admin, 'max', P);
    produced = sum(hws);
    const maxResult = produceResult('rdkafka', storage, size, 'max', null, max.value, max.broker, produced);
    results.produce.push(maxResult);
    if (storage === 'chdb') {
      const { count: rows } = await b.call<{ count: number }>('sql-count', { table: 'max' });
      if (rows !== produced)
        results.errors.push(`chdb ${size}: table holds ${rows} rows, high watermarks say ${produced}`);
    }

    // Tail consume: from where the tail cache starts (everything, unless the budget evicted some).
    const { offsets } = await b.call<{ offsets: number[] }>('tail-start', { topic: 'max' });
    if (args.produceOnly) {
      produced = 0; // no cold replay either
    } else {
      const inTail = sum(hws.map((h, p) => h - offsets[p]!));
      const tf = await phase(b, `tail-fetch-${tag}`, () =>
        fetcher({ host: '127.0.0.1', port: b.port, topic: 'max', offsets, count: inTail }),
      );
      results.consume.push(consumeResult('tail', 'fetch', storage, size, inTail, tf.value, tf.broker));
      const tr = await phase(b, `tail-rdkafka-${tag}`, () =>
        rdkafka({
          mode: 'consume',
          bootstrap: bootstrap(b.port),
          topic: 'max',
          size,
          pool: pool(size),
          offsets,
          count: inTail,
        }),
      );
      results.consume.push(consumeResult('tail', 'rdkafka', storage, size, inTail, tr.value, tr.broker));
    }

    // Ack latency at half of the measured maximum.
    await createTopic(admin, 'half', P);
    const fixed = args.rates[args.sizes.indexOf(size)];
    const rate = fixed ?? Math.max(100, Math.round(maxResult.recordsPerSec / 2));
    const half = await phase(b, `produce-half-rdkafka-${tag}`, () =>
      rdkafka({
        mode: 'produce',
        bootstrap: bootstrap(b.port),
        topic: 'half',
        size,
        pool: pool(size),
        rate,
        duration: plan.halfSeconds,
        sample_every: 8,
      }),
    );
    const halfStored = sum(await endOffsets(admin, 'half', P));
    results.produce.push(
      produceResult('rdkafka', storage, size, 'half', rate, half.value, half.broker, halfStored),
    );

    if (args.only.has('latency')) {
      // Produce to consume, in one librdkafka process, at a moderate fixed rate.
      await createTopic(admin, 'e2e', P);
      const e2e = await phase(b, `e2e-rdkafka-${tag}`, () =>
        rdkafka({
          mode: 'e2e',
          bootstrap: bootstrap(b.port),
          topic: 'e2e',
          size,
          pool: pool(size),
          rate: plan.e2eRate,
          duration: plan.e2eSeconds,
          partitions: P,
          start_offsets: new Array(P).fill(0),
        }),
      );
      const lat = percentiles(e2e.value.latencies_ms ?? []);
      results.e2e.push({
        storage,
        size,
        rate: plan.e2eRate,
        records: e2e.value.records,
        expected: e2e.value.expected ?? 0,
        latencyMs: lat,
        broker: e2e.broker,
      });
      log(`    end to end at ${plan.e2eRate} rec/s: p50 ${lat?.p50} p99 ${lat?.p99} p999 ${lat?.p999} ms`);
      if (storage === 'chdb' && size === args.sizes[0]) await sqlVisibility(b, admin);
    }
  } catch (e) {
    results.errors.push(`rdkafka ${tag}: ${(e as Error).stack ?? e}\n${b.lastStderr}`);
    log(`    FAILED: ${(e as Error).message}`);
  } finally {
    admin.close();
    await b.close();
  }

  if (storage === 'chdb' && produced > 0) {
    // Cold replay: a new broker process on the same data directory, so the tail cache is empty (and
    // ClickHouse's caches in the process too); one per reader, so neither warms the other's.
    const zeros = new Array(P).fill(0);
    for (const reader of ['fetch', 'rdkafka'] as const) {
      const { b: cold } = await startBroker(storage, `broker-cold-${reader}-${tag}`, dir);
      try {
        const r = await phase(cold, `cold-${reader}-${tag}`, () =>
          reader === 'fetch'
            ? fetcher({ host: '127.0.0.1', port: cold.port, topic: 'max', offsets: zeros, count: produced })
            : rdkafka({
                mode: 'consume',
                bootstrap: bootstrap(cold.port),
                topic: 'max',
                size,
                pool: pool(size),
                offsets: zeros,
                count: produced,
              }),
        );
        results.consume.push(consumeResult('cold', reader, storage, size, produced, r.value, r.broker));
      } catch (e) {
        results.errors.push(`cold replay ${reader} ${tag}: ${(e as Error).stack ?? e}\n${cold.lastStderr}`);
      } finally {
        await cold.close();
      }
    }
  }
  if (dir && !args.keep) rmSync(dir, { recursive: true, force: true });
}

/** Produce one record at a time (acks=all) and time until `SELECT count()` in a second session sees it. */
async function sqlVisibility(b: BrokerProcess, admin: RawClient): Promise<void> {
  await createTopic(admin, 'visible', 1);
  const now = () => performance.timeOrigin + performance.now();
  const ack: number[] = [];
  const visible: number[] = [];
  const afterAck: number[] = [];
  let polls = 0;
  await phase(b, 'sql-visible-chdb', async () => {
    for (let k = 1; k <= plan.sqlProbes; k++) {
      const [armed, seen] = b.request<{ seenAt: number | null; polls: number }>(
        'sql-watch',
        { table: 'visible', target: k, timeoutMs: 10_000 },
        ['armed', 'seen'],
      );
      await armed;
      const records = encodeRecordBatchSync({
        records: [{ key: null, value: Buffer.from(`probe-${k}`), timestamp: BigInt(Date.now()) }],
      });
      const t0 = now();
      const r = await admin.send('Produce', 9, {
        acks: -1,
        timeoutMs: 10_000,
        topicData: [{ name: 'visible', partitionData: [{ index: 0, records }] }],
      });
      const t1 = now();
      const code = r.responses[0]!.partitionResponses[0]!.errorCode;
      if (code !== 0) throw new Error(`probe produce failed with ${code}`);
      const s = await seen!;
      ack.push(t1 - t0);
      polls += s.polls;
      if (s.seenAt !== null) {
        visible.push(s.seenAt - t0);
        afterAck.push(s.seenAt - t1);
      }
      await new Promise((res) => setTimeout(res, 20));
    }
    return { records: plan.sqlProbes };
  });
  results.sqlVisible = {
    storage: 'chdb',
    probes: plan.sqlProbes,
    ackMs: percentiles(ack),
    visibleMs: percentiles(visible),
    visibleAfterAckMs: percentiles(afterAck),
    pollsPerProbe: Math.round(polls / plan.sqlProbes),
  };
  log(
    `    visible in SQL: p50 ${results.sqlVisible.visibleMs?.p50} p99 ${results.sqlVisible.visibleMs?.p99} ms after the produce (ack p50 ${results.sqlVisible.ackMs?.p50} ms)`,
  );
}

async function kafkajsSuite(storage: 'memory' | 'chdb', size: number): Promise<void> {
  log(`kafkajs, ${storage} storage, ${size} B values`);
  const tag = `${storage}-${size}B`;
  const dir = storage === 'chdb' ? newDataDir() : undefined;
  const { b } = await startBroker(storage, `broker-kafkajs-${tag}`, dir);
  const admin = await RawClient.connect('127.0.0.1', b.port);
  const bootstrap = `127.0.0.1:${b.port}`;
  const batchRecords = size <= 100 ? 1000 : 200;
  try {
    await createTopic(admin, 'max', P);
    const max = await phase(b, `produce-max-kafkajs-${tag}`, () =>
      kafkajs({
        bootstrap,
        topic: 'max',
        size,
        pool: pool(size),
        count: plan.kafkajsCount(size),
        batchRecords,
        concurrency: 8,
      }),
    );
    const maxResult = produceResult(
      'kafkajs',
      storage,
      size,
      'max',
      null,
      max.value,
      max.broker,
      sum(await endOffsets(admin, 'max', P)) - 1, // one warm-up record
    );
    results.produce.push(maxResult);
    await createTopic(admin, 'half', P);
    const rate = Math.max(100, Math.round(maxResult.recordsPerSec / 2));
    const half = await phase(b, `produce-half-kafkajs-${tag}`, () =>
      kafkajs({
        bootstrap,
        topic: 'half',
        size,
        pool: pool(size),
        rate,
        duration: plan.halfSeconds,
        tickMs: 5,
      }),
    );
    results.produce.push(
      produceResult(
        'kafkajs',
        storage,
        size,
        'half',
        rate,
        half.value,
        half.broker,
        sum(await endOffsets(admin, 'half', P)) - 1,
      ),
    );
  } catch (e) {
    results.errors.push(`kafkajs ${tag}: ${(e as Error).stack ?? e}\n${b.lastStderr}`);
    log(`    FAILED: ${(e as Error).message}`);
  } finally {
    admin.close();
    await b.close();
    if (dir && !args.keep) rmSync(dir, { recursive: true, force: true });
  }
}

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
        'rdkafka',
        'chdb',
        size,
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
    for (const group of ['rdkafka', 'security', 'sustained', 'cluster', 'transactions'])
      args.only.delete(group);
  }
  log(`kch bench${quick ? ' --quick' : ''}: results in ${outDir}`);
  // Per record size: the limits, then the chdb broker right after them (the ratio to the limit is only
  // fair when both ran under the same load on a shared machine), then memory storage.
  for (const size of args.sizes) {
    if (args.only.has('limits')) await limits(bench, size);
    for (const storage of args.storages) {
      if (args.only.has('rdkafka')) await rdkafkaSuite(storage, size);
      if (args.only.has('kafkajs')) await kafkajsSuite(storage, size);
    }
  }
  if (args.only.has('security')) await securityGroup(bench);
  if (args.only.has('transactions')) await transactionsGroup(bench);
  if (args.only.has('sustained')) await sustainedRun(args.sustained);
  if (args.only.has('cluster')) await clusterGroup(bench);
  const m = results.meta.machine as Record<string, unknown>;
  m.loadavgEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  results.meta.seconds = Math.round((performance.now() - started) / 100) / 10;

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
