/**
 * The `cluster` group: one broker against three over one shared ClickHouse (docs/architecture.md,
 * "Many brokers over one database"), and how long partitions stop taking produces when one of three
 * brokers goes (./cluster-failover.ts).
 *
 * ZooKeeper and the shared ClickHouse (a chdb process serving ClickHouse's HTTP interface, with that
 * ZooKeeper as its Keeper: packages/storage/test/) start once for the group; every setup of brokers
 * gets a database of its own, so no run finds another's tables, parts or merges. The brokers are
 * bench/broker-child.ts processes, node ids 1..n.
 *
 * Throughput: in each round, 1 broker then 3 (the order alternates from round to round, so neither
 * always runs on a machine warmed or loaded by the other), librdkafka produces at full speed for a
 * fixed time into a topic of 12 partitions (3 brokers lead 4 each) with every broker in its bootstrap
 * list, so it sends each partition's records to its leader as Metadata says; then a librdkafka consumer
 * reads them back from offset 0 (from the leaders' tail caches). CPU is read from /proc for the brokers,
 * the ClickHouse server process and the whole machine (which other work shares), so the report says
 * where the time went. Medians of the rounds.
 */
import { loadavg } from 'node:os';
import { startSharedClickHouse } from '../packages/storage/test/shared-clickhouse.js';
import { startZooKeeper, zookeeperRequirement } from '../packages/storage/test/zookeeper.js';
import { failoverRound } from './cluster-failover.js';
import type { ClientOut } from './lib/children.js';
import {
  bootstrapOf,
  CLUSTER_PARTITIONS,
  type Layout,
  type Node,
  type Shared,
  startBrokers,
  untilSpread,
} from './lib/cluster-nodes.js';
import type { Bench } from './lib/context.js';
import { machineBusySeconds } from './lib/machine.js';
import { cpuDelta, cpuSnapshot } from './lib/proc.js';
import { createTopic, RawClient } from './lib/raw-client.js';
import type { ClusterRun, ClusterSummary, Results } from './lib/results.js';
import { MiB, median, percentiles, round2, si } from './lib/stats.js';

/** How long each produce runs at full speed: seconds, not the rdkafka suite's counts (speeds differ ×3). */
const produceSeconds = (quick: boolean) => (quick ? 2 : 4);
const rounds = (quick: boolean) => (quick ? 1 : 3);

export type ClusterResults = NonNullable<Results['cluster']>;

export async function clusterGroup(bench: Bench): Promise<void> {
  const { args, results, log } = bench;
  const zookeeper = zookeeperRequirement(); // throws under CI when missing
  if (!zookeeper.available) {
    results.skipped.push(`cluster group: ${zookeeper.reason}`);
    return;
  }
  const cluster: ClusterResults = {
    partitions: CLUSTER_PARTITIONS,
    seconds: produceSeconds(args.quick),
    rounds: rounds(args.quick),
    runs: [],
    summary: [],
    failover: [],
  };
  results.cluster = cluster;
  log('cluster: ZooKeeper and a shared ClickHouse, 1 broker against 3 over it');
  const zk = await startZooKeeper();
  let server: Awaited<ReturnType<typeof startSharedClickHouse>> | undefined;
  try {
    server = await startSharedClickHouse({ zookeeper: zk.connectString, keeperPrefix: '/kch_bench' });
    const shared = { url: server.url, pid: server.pid };
    for (let round = 0; round < cluster.rounds; round++) {
      for (const n of round % 2 === 0 ? [1, 3] : [3, 1]) {
        cluster.runs.push(...(await throughputRound(bench, shared, n, round)));
      }
    }
    cluster.summary = summarize(cluster.runs);
    for (const s of cluster.summary) {
      log(
        `    ${s.kind} ${s.size} B, ${s.brokers} broker${s.brokers > 1 ? 's' : ''}: ${si(s.recordsPerSec)} rec/s, ${s.valueMiBPerSec} MiB/s` +
          `${s.vsOneBroker === null ? '' : ` (×${s.vsOneBroker} of 1 broker)`}; brokers ${s.brokerCpuMicrosPerRecord} µs/rec, ClickHouse ${s.clickhouseCpuMicrosPerRecord} µs/rec`,
      );
    }
    for (let round = 0; round < cluster.rounds; round++) {
      cluster.failover.push(...(await failoverRound(bench, shared, round)));
    }
  } catch (e) {
    results.errors.push(`cluster: ${(e as Error).stack ?? e}`);
    log(`    FAILED: ${(e as Error).message}`);
  } finally {
    await server?.stop();
    await zk.stop();
  }
}

/** End offsets of `topic`, each asked of its leader (another broker answers NOT_LEADER_OR_FOLLOWER). */
async function endOffsets(nodes: Node[], l: Layout, topic: string): Promise<number[]> {
  const ends = new Array<number>(l.leaders.length).fill(0);
  for (const { id, b } of nodes) {
    const mine = l.leaders.flatMap((leader, p) => (leader === id ? [p] : []));
    if (mine.length === 0) continue;
    const c = await RawClient.connect('127.0.0.1', b.port);
    try {
      const r = await c.send('ListOffsets', 7, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [
          {
            name: topic,
            partitions: mine.map((p) => ({ partitionIndex: p, currentLeaderEpoch: -1, timestamp: -1n })),
          },
        ],
      });
      for (const p of r.topics[0]!.partitions) {
        if (p.errorCode !== 0)
          throw new Error(`ListOffsets ${topic}-${p.partitionIndex}: error ${p.errorCode}`);
        ends[p.partitionIndex] = Number(p.offset);
      }
    } finally {
      c.close();
    }
  }
  return ends;
}

/** Runs a client while measuring the brokers, the ClickHouse server and the machine. */
async function measured(
  nodes: Node[],
  shared: Shared,
  run: () => Promise<ClientOut>,
): Promise<{ o: ClientOut; wall: number; brokers: number; clickhouse: number; machine: number }> {
  const cpu = (pid: number) => cpuSnapshot(pid);
  const b0 = nodes.map((x) => cpu(x.b.pid));
  const s0 = cpu(shared.pid);
  const m0 = machineBusySeconds();
  const t0 = performance.now();
  const o = await run();
  const wall = (performance.now() - t0) / 1000;
  const m1 = machineBusySeconds();
  const s1 = cpu(shared.pid);
  const b1 = nodes.map((x) => cpu(x.b.pid));
  const brokers = b0.reduce((a, s, i) => a + (cpuDelta(s, b1[i]!)?.cpuSeconds ?? 0), 0);
  return { o, wall, brokers, clickhouse: cpuDelta(s0, s1)?.cpuSeconds ?? 0, machine: m1 - m0 };
}

async function throughputRound(
  bench: Bench,
  shared: Shared,
  n: number,
  round: number,
): Promise<ClusterRun[]> {
  const { args, log, results } = bench;
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const database = `bench_${n}b_r${round}`;
  log(`  cluster: ${n} broker${n > 1 ? 's' : ''}, round ${round}, database ${database}`);
  const nodes = await startBrokers(bench, shared, database, ids);
  const admin = await RawClient.connect('127.0.0.1', nodes[0]!.b.port);
  const out: ClusterRun[] = [];
  try {
    for (const size of args.sizes) {
      const topic = `load-${size}`;
      await createTopic(admin, topic, CLUSTER_PARTITIONS);
      const l = await untilSpread(admin, topic, ids);
      const client = { bootstrap: bootstrapOf(nodes), topic, size, pool: bench.pool(size) };
      for (const x of nodes) await x.b.stats(); // resets each child's accumulators
      const produced = await measured(nodes, shared, () =>
        bench.rdkafka({
          ...client,
          mode: 'produce',
          count: 0,
          duration: produceSeconds(args.quick),
          sample_every: 64,
        }),
      );
      const rowsByBroker: Record<string, number> = {};
      for (const x of nodes) rowsByBroker[x.id] = (await x.b.stats()).flushes.rows;
      const stored = (await endOffsets(nodes, l, topic)).reduce((a, x) => a + x, 0);
      const failed = (produced.o.errors ?? 0) + (produced.o.unflushed ?? 0);
      if (failed || stored !== produced.o.records)
        results.errors.push(
          `cluster ${n} brokers ${size} B round ${round}: ${produced.o.records} produced (${failed} failed: ${produced.o.error ?? ''}), ${stored} stored`,
        );
      out.push(clusterRun('produce', n, size, round, produced, rowsByBroker));
      const consumed = await measured(nodes, shared, () =>
        bench.rdkafka({
          ...client,
          mode: 'consume',
          offsets: new Array(CLUSTER_PARTITIONS).fill(0),
          count: stored,
        }),
      );
      if (consumed.o.records < stored)
        results.errors.push(
          `cluster ${n} brokers ${size} B round ${round}: consumed ${consumed.o.records} of ${stored}`,
        );
      out.push(clusterRun('consume', n, size, round, consumed, {}));
      for (const r of out.slice(-2))
        log(
          `    ${r.kind} ${size} B: ${si(r.recordsPerSec)} rec/s, ${r.valueMiBPerSec} MiB/s; cores: brokers ${r.cores.brokers}, ClickHouse ${r.cores.clickhouse}, client ${r.cores.client}, machine ${r.cores.machine}`,
        );
    }
  } finally {
    admin.close();
    await Promise.all(nodes.map((x) => x.b.close()));
  }
  return out;
}

function clusterRun(
  kind: ClusterRun['kind'],
  brokers: number,
  size: number,
  round: number,
  m: Awaited<ReturnType<typeof measured>>,
  rowsByBroker: Record<string, number>,
): ClusterRun {
  const { o, wall } = m;
  const perRecord = (s: number) => (o.records > 0 ? round2((s / o.records) * 1e6) : null);
  return {
    brokers,
    kind,
    size,
    round,
    records: o.records,
    seconds: Math.round(o.seconds * 1000) / 1000,
    recordsPerSec: Math.round(o.records / o.seconds),
    valueMiBPerSec: Math.round(((o.records * size) / MiB / o.seconds) * 10) / 10,
    errors: (o.errors ?? 0) + (o.unflushed ?? 0),
    ackMs: percentiles(o.latencies_ms ?? []),
    cores: {
      brokers: round2(m.brokers / wall),
      clickhouse: round2(m.clickhouse / wall),
      client: round2((o.cpu_seconds ?? 0) / wall),
      machine: round2(m.machine / wall),
    },
    brokerCpuMicrosPerRecord: perRecord(m.brokers),
    clickhouseCpuMicrosPerRecord: perRecord(m.clickhouse),
    rowsByBroker,
    loadavg1: round2(loadavg()[0]!),
  };
}

/** Medians over the rounds of each kind, size and broker count; records/s ÷ 1 broker's. */
function summarize(runs: readonly ClusterRun[]): ClusterSummary[] {
  const out: ClusterSummary[] = [];
  for (const kind of ['produce', 'consume'] as const) {
    for (const size of [...new Set(runs.map((r) => r.size))]) {
      let one: ClusterSummary | undefined;
      for (const brokers of [1, 3]) {
        const rs = runs.filter((r) => r.kind === kind && r.size === size && r.brokers === brokers);
        if (rs.length === 0) continue;
        const m = (f: (r: ClusterRun) => number | null) => {
          const v = median(rs.map(f).filter((x): x is number => x !== null));
          return v === null ? null : round2(v);
        };
        const s: ClusterSummary = {
          kind,
          size,
          brokers,
          runs: rs.length,
          recordsPerSec: Math.round(m((r) => r.recordsPerSec)!),
          valueMiBPerSec: m((r) => r.valueMiBPerSec)!,
          brokerCpuMicrosPerRecord: m((r) => r.brokerCpuMicrosPerRecord),
          clickhouseCpuMicrosPerRecord: m((r) => r.clickhouseCpuMicrosPerRecord),
          cores: {
            brokers: m((r) => r.cores.brokers)!,
            clickhouse: m((r) => r.cores.clickhouse)!,
            client: m((r) => r.cores.client)!,
            machine: m((r) => r.cores.machine)!,
          },
          vsOneBroker: null,
        };
        if (brokers === 1) one = s;
        else if (one) s.vsOneBroker = round2(s.recordsPerSec / one.recordsPerSec);
        out.push(s);
      }
    }
  }
  return out;
}
