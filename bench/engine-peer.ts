/**
 * The `engine-peer` group: kch against the pipeline users run today, Kafka + the ClickHouse Kafka table
 * engine (issue 19). A topic is consumed by an `ENGINE = Kafka` table into a MergeTree through a
 * materialized view; kch's own topic table is in SQL at the ack.
 *
 * - Kafka + Kafka engine: kch on memory storage plays the Kafka broker (a broker child); ClickHouse is
 *   chdb in a process of its own (bench/engine-peer-child.ts, its own data directory), with the engine's
 *   default settings (kafka_flush_interval_ms = stream_flush_interval_ms, 7,500 ms; poll timeout 500 ms)
 *   and tuned ones (TUNED: a 100 ms flush, as the ClickHouse docs suggest for latency).
 * - kch: kch on chdb storage (a broker child); its topic table is the table.
 *
 * The same producer (bench/clients/stamped.py: librdkafka, acks=all, linger.ms=5) sends JSON values
 * carrying their send time (wall clock). Steady: a one-partition topic at a fixed rate, while the
 * harness polls the table back to back through the process that owns it (kch's broker child, the
 * ClickHouse child) for the offsets past those it has seen: a record is visible at the first poll that
 * returns it; its latency is that moment − its send time. Full speed: N records over the run's
 * partitions, landed/s = N ÷ (the `SELECT count()` that counts them all − the first send).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { nodeArgs, PYTHON, ROOT, runJson } from './lib/children.js';
import type { Bench } from './lib/context.js';
import type { EnginePeerRun, EnginePeerSetup } from './lib/engine-peer-results.js';
import { createTopic, RawClient } from './lib/raw-client.js';
import { percentiles, round2, si } from './lib/stats.js';

const TUNED = 'kafka_flush_interval_ms = 100, kafka_poll_timeout_ms = 100, kafka_max_block_size = 65536';
const SIZE = 100;
const plan = (quick: boolean) => ({
  rate: quick ? 500 : 1000,
  // The default flush waits 7.5 s: a longer run sees several flushes.
  seconds: (setup: EnginePeerSetup) => (setup === 'engine-default' ? (quick ? 10 : 24) : quick ? 4 : 10),
  full: quick ? 20_000 : 100_000,
});
const now = () => performance.timeOrigin + performance.now();

/** A process that owns a table and answers `sql` (bench/broker-child.ts, bench/engine-peer-child.ts). */
interface SqlOwner {
  call<T>(type: string, body?: Record<string, unknown>): Promise<T>;
}

const sqlText = async (o: SqlOwner, sql: string) => (await o.call<{ text: string }>('sql', { sql })).text;

/** bench/engine-peer-child.ts: chdb in its own process, with the broker child's request protocol. */
class ClickHouseChild implements SqlOwner {
  private nextId = 0;
  private readonly waiters = new Map<number, (m: Record<string, unknown>) => void>();
  private constructor(readonly child: ChildProcess) {
    child.on('message', (raw) => {
      const m = raw as Record<string, unknown>;
      this.waiters.get(Number(m.id))?.(m);
      this.waiters.delete(Number(m.id));
    });
  }

  static start(dir: string): Promise<ClickHouseChild> {
    const child = spawn(process.execPath, nodeArgs('bench/engine-peer-child.ts', { dir }), {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => {
      err = (err + c.toString()).slice(-4000);
    });
    return new Promise((resolve, reject) => {
      child.once('message', () => resolve(new ClickHouseChild(child)));
      child.once('exit', (code) => reject(new Error(`ClickHouse child exited with ${code}: ${err}`)));
    });
  }

  call<T>(type: string, body: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      this.waiters.set(id, (m) =>
        m.error ? reject(new Error(`ClickHouse child: ${String(m.error)}`)) : resolve(m as T),
      );
      this.child.send({ ...body, type, id });
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    await this.call('close').catch(() => undefined);
    await exited;
  }
}

/** Where one setup's records land, and how to read them back. */
interface Target {
  owner: SqlOwner;
  /** The producer's bootstrap. */
  bootstrap: string;
  /**
   * Makes `topic` (partitions) and the table its records land in (columns `partition` and `offset`);
   * says the table and the SQL expression of a row's send time.
   */
  prepare(topic: string, partitions: number): Promise<{ table: string; sent: string }>;
}

const countOf = (table: string) => `SELECT count() FROM ${table}`;

/**
 * Polls partition 0 of `table` back to back for the offsets it holds from the lowest one not yet seen
 * (a primary key range: a few rows a poll), until every offset below `until` was seen or `timeoutMs`
 * passes. Each offset's time is the answer of the first poll that returned it: exact whatever order
 * the rows commit in (kch may have several inserts of a partition in flight).
 */
async function watchOffsets(
  owner: SqlOwner,
  table: string,
  until: number,
  timeoutMs: number,
): Promise<{ seenAt: Map<number, number>; polls: number; ms: number }> {
  const t0 = now();
  const seenAt = new Map<number, number>();
  let from = 0;
  let polls = 0;
  while (from < until && now() - t0 < timeoutMs) {
    const text = await sqlText(
      owner,
      `SELECT \`offset\` FROM ${table} WHERE partition = 0 AND \`offset\` >= ${from}`,
    );
    const at = now();
    polls++;
    for (const line of text.split('\n'))
      if (line !== '' && !seenAt.has(Number(line))) seenAt.set(Number(line), at);
    while (seenAt.has(from)) from++;
  }
  return { seenAt, polls, ms: now() - t0 };
}

interface Watch {
  /** [wall-clock ms of the poll's answer, rows it counted], one entry per change. */
  changes: [number, number][];
  polls: number;
  ms: number;
}

/** Polls `count` every `intervalMs` until it reaches `until` or `timeoutMs` passes. */
async function watch(
  owner: SqlOwner,
  count: string,
  until: number,
  timeoutMs: number,
  intervalMs: number,
): Promise<Watch> {
  const t0 = now();
  const changes: [number, number][] = [];
  let last = -1;
  let polls = 0;
  while (last < until && now() - t0 < timeoutMs) {
    const n = Number((await sqlText(owner, count)).trim());
    polls++;
    if (n > last) {
      changes.push([now(), n]);
      last = n;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return { changes, polls, ms: now() - t0 };
}

interface StampedOut {
  records: number;
  seconds: number;
  first_sent_ms: number;
  errors: number;
  error: string | null;
  unflushed: number;
  latencies_ms: number[];
}

const stamped = (bench: Bench, opts: Record<string, unknown>) =>
  runJson<StampedOut>(
    PYTHON,
    [join(ROOT, 'bench/clients/stamped.py'), JSON.stringify({ size: SIZE, ...opts })],
    bench.plan.timeoutMs,
  ).then((r) => r.result);

export async function enginePeerGroup(bench: Bench): Promise<void> {
  const { args, results, log } = bench;
  const P = args.partitions;
  const runs: EnginePeerRun[] = [];
  results.enginePeer = { partitions: P, size: SIZE, runs };
  log(
    `engine-peer: kch (chdb) against Kafka (kch, memory) + the ClickHouse Kafka engine (chdb child), ${SIZE} B JSON`,
  );

  // kch: its own topic table, in SQL at the ack.
  const { b: kch } = await bench.startBroker('chdb', 'broker-engine-peer-kch', bench.newDataDir());
  try {
    const admin = await RawClient.connect('127.0.0.1', kch.port);
    const target: Target = {
      owner: kch,
      bootstrap: `127.0.0.1:${kch.port}`,
      async prepare(topic, partitions) {
        await createTopic(admin, topic, partitions);
        const table = `kafka.\`${topic}\``;
        return { table, sent: "JSONExtractFloat(value, 'sent')" };
      },
    };
    try {
      runs.push(await oneSetup(bench, 'kch', '', target));
    } finally {
      admin.close();
    }
  } catch (e) {
    results.errors.push(`engine-peer kch: ${(e as Error).stack ?? e}\n${kch.lastStderr}`);
  } finally {
    await kch.close();
  }

  // Kafka (kch on memory storage) + ClickHouse's Kafka engine in another process.
  for (const [setup, settings] of [
    ['engine-tuned', TUNED],
    ['engine-default', ''],
  ] as const) {
    const { b } = await bench.startBroker('memory', `broker-engine-peer-${setup}`);
    let ch: ClickHouseChild | null = null;
    const drop: string[] = [];
    try {
      ch = await ClickHouseChild.start(bench.newDataDir());
      const owner = ch;
      const admin = await RawClient.connect('127.0.0.1', b.port);
      const bootstrap = `127.0.0.1:${b.port}`;
      const target: Target = {
        owner,
        bootstrap,
        async prepare(topic, partitions) {
          await createTopic(admin, topic, partitions);
          const t = topic.replace(/-/g, '_');
          await sqlText(
            owner,
            `CREATE TABLE ${t}_queue (sent Float64, pad String) ENGINE = Kafka SETTINGS
              kafka_broker_list = '${bootstrap}', kafka_topic_list = '${topic}', kafka_group_name = '${t}',
              kafka_format = 'JSONEachRow'${settings ? `, ${settings}` : ''}`,
          );
          drop.push(`${t}_queue`);
          await sqlText(
            owner,
            `CREATE TABLE ${t} (partition UInt64, \`offset\` UInt64, sent Float64, pad String)
              ENGINE = MergeTree ORDER BY (partition, \`offset\`)`,
          );
          await sqlText(
            owner,
            `CREATE MATERIALIZED VIEW ${t}_mv TO ${t} AS
              SELECT _partition AS partition, _offset AS \`offset\`, sent, pad FROM ${t}_queue`,
          );
          drop.push(`${t}_mv`);
          return { table: t, sent: 'sent' };
        },
      };
      try {
        runs.push(await oneSetup(bench, setup, settings, target));
      } finally {
        admin.close();
      }
    } catch (e) {
      results.errors.push(`engine-peer ${setup}: ${(e as Error).stack ?? e}\n${b.lastStderr}`);
    } finally {
      // The Kafka tables first: their consumers would otherwise keep polling a closed broker.
      for (const t of drop.reverse())
        await ch?.call('sql', { sql: `DROP TABLE IF EXISTS ${t}` }).catch(() => {});
      await ch?.close();
      await b.close();
    }
  }
  for (const r of runs)
    log(
      `    ${r.setup}: visible p50 ${r.visibleMs?.p50} p99 ${r.visibleMs?.p99} ms at ${r.rate} rec/s; ` +
        `full speed ${si(r.landedPerSec)} rec/s landed (${si(r.producedPerSec)} produced)`,
    );
}

/** The steady phase, then the full-speed one, on fresh topics. */
async function oneSetup(
  bench: Bench,
  setup: EnginePeerSetup,
  settings: string,
  target: Target,
): Promise<EnginePeerRun> {
  const { args, log, results } = bench;
  const p = plan(args.quick);
  const seconds = p.seconds(setup);
  const produce = (topic: string, load: Record<string, number>) =>
    stamped(bench, { bootstrap: target.bootstrap, topic, ...load });
  const failed = (o: StampedOut, what: string) => {
    if (o.errors + o.unflushed)
      results.errors.push(
        `engine-peer ${setup} ${what}: ${o.errors + o.unflushed} failed (${o.error ?? ''})`,
      );
  };
  // One record first, seen in SQL: the consumer has joined its group and owns the partitions.
  const ready = async (topic: string, partitions: number) => {
    const q = await target.prepare(topic, partitions);
    const w = watch(target.owner, countOf(q.table), 1, 120_000, 20);
    failed(await produce(topic, { count: 1 }), 'first record');
    const n = (await w).changes.at(-1)?.[1] ?? 0;
    if (n < 1) throw new Error(`${topic}: the first record never reached SQL`);
    return q;
  };

  // Steady: one partition; offset 0 is the first record, the measured ones follow.
  const steady = `ep-${setup}-steady`;
  const sq = await ready(steady, 1);
  const total = Math.floor(p.rate * seconds);
  const w = watchOffsets(target.owner, sq.table, 1 + total, seconds * 1000 + 60_000);
  const o = await produce(steady, { rate: p.rate, duration: seconds, sample_every: 8 });
  failed(o, 'steady');
  const seen = await w;
  const visible: number[] = [];
  const sentRows = await sqlText(
    target.owner,
    `SELECT \`offset\`, ${sq.sent} FROM ${sq.table} WHERE partition = 0 AND \`offset\` >= 1`,
  );
  for (const line of sentRows.split('\n')) {
    if (line === '') continue;
    const [offset, sent] = line.split('\t').map(Number);
    const at = seen.seenAt.get(offset!);
    if (at !== undefined) visible.push(at - sent!);
  }
  log(
    `    ${setup} steady ${p.rate} rec/s ${seconds} s: visible p50 ${percentiles(visible)?.p50} p99 ${percentiles(visible)?.p99} ms (${seen.polls} polls)`,
  );

  // Full speed: the run's partitions.
  const full = `ep-${setup}-full`;
  const fq = await ready(full, args.partitions);
  const fw = watch(target.owner, countOf(fq.table), 1 + p.full, bench.plan.timeoutMs, 10);
  const fo = await produce(full, { count: p.full, sample_every: 64 });
  failed(fo, 'full speed');
  const fseen = await fw;
  const [lastAt, rows] = fseen.changes.at(-1) ?? [Number.NaN, 0];
  if (rows < 1 + p.full)
    results.errors.push(`engine-peer ${setup} full speed: ${rows - 1} of ${p.full} in SQL`);
  const run: EnginePeerRun = {
    setup,
    settings,
    rate: p.rate,
    seconds,
    records: total,
    visibleMs: percentiles(visible),
    ackMs: percentiles(o.latencies_ms),
    missing: total - visible.length,
    pollsPerSec: Math.round(seen.polls / (seen.ms / 1000)),
    fullRecords: p.full,
    landedPerSec: Math.round(p.full / ((lastAt - fo.first_sent_ms) / 1000)),
    producedPerSec: Math.round(fo.records / fo.seconds),
    loadavg1: round2(loadavg()[0]!),
  };
  log(
    `    ${setup} full speed: ${si(run.landedPerSec)} rec/s landed, ${si(run.producedPerSec)} rec/s produced`,
  );
  return run;
}
