/**
 * The failover gap of the `cluster` group (./cluster.ts): three brokers over one database under a
 * steady produce load, one of them stopped, and the time until every partition takes produces again.
 *
 * A round, on a fresh database: brokers 1, 2 and 3 lead 4 of 12 partitions each. A clean stop
 * (SIGTERM: the broker closes and hands its partitions over) of broker 2; broker 4 joins, so that
 * three lead again; then SIGKILL of broker 3 (its partitions move once its registration expired,
 * 10 s after its last renewal). During each, librdkafka produces at a steady rate (the load a real
 * client would put there, with every broker in its bootstrap list), and the harness probes every
 * partition itself: one record (acks=all) every PROBE_MS to the partition's leader as a Metadata
 * poll (every 100 ms, from a surviving broker) says, much as a client follows leaders. A probe that
 * fails (an error code, a refused or closed connection, no leader) marks the partition down; the
 * figure is the time from the signal until every partition acknowledged a probe sent after its last
 * failed one. Every partition counts, not only the stopped broker's: the assignment is meant to move
 * only those (packages/broker/src/cluster/assignment.ts), and the figure would show it if it did not.
 */
import { encodeRecordBatchSync } from '@kch/protocol';
import {
  bootstrapOf,
  CLUSTER_PARTITIONS,
  type Layout,
  layout,
  type Node,
  type Shared,
  startBrokers,
  untilSpread,
} from './lib/cluster-nodes.js';
import type { Bench } from './lib/context.js';
import { createTopic, RawClient } from './lib/raw-client.js';
import type { FailoverRun } from './lib/results.js';

/** Between probes of a partition: the resolution of the figure. */
const PROBE_MS = 50;
/** Probes acknowledged on every partition before the signal, and after the layout settled again. */
const STEADY_MS = 1_500;
/** A takeover after SIGKILL: a 10 s registration, looks every second, and a loaded machine. */
const RECOVERY_TIMEOUT_MS = 45_000;
/** The steady librdkafka load beside the probes (100 B records). */
const LOAD_RATE = 5_000;
const LOAD_SIZE = 100;

const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function failoverRound(bench: Bench, shared: Shared, round: number): Promise<FailoverRun[]> {
  const database = `bench_failover_r${round}`;
  bench.log(`  cluster failover: round ${round}, database ${database}`);
  const nodes = await startBrokers(bench, shared, database, [1, 2, 3]);
  const out: FailoverRun[] = [];
  try {
    const topic = 'failover';
    const admin = await RawClient.connect('127.0.0.1', nodes[0]!.b.port);
    try {
      await createTopic(admin, topic, CLUSTER_PARTITIONS);
      await untilSpread(admin, topic, [1, 2, 3]);
    } finally {
      admin.close();
    }
    out.push(await stopOne(bench, nodes, topic, 2, 'SIGTERM', round));
    nodes.push(...(await startBrokers(bench, shared, database, [4])));
    out.push(await stopOne(bench, nodes, topic, 3, 'SIGKILL', round));
  } finally {
    // Not the stopped ones: their IPC channel is gone.
    const running = nodes.filter((x) => x.b.child.exitCode === null && x.b.child.signalCode === null);
    await Promise.all(running.map((x) => x.b.close()));
  }
  return out;
}

/** Per partition, what the probes saw. */
interface Track {
  /** When the last failed probe was sent (since the signal), and the first success sent after it. */
  lastFailureSentAt: number | null;
  recoveredAt: number | null;
  lastAckAt: number;
  longestStall: number;
  interrupted: boolean;
}

async function stopOne(
  bench: Bench,
  nodes: Node[],
  topic: string,
  victimId: number,
  signal: FailoverRun['signal'],
  round: number,
): Promise<FailoverRun> {
  const victim = nodes.find((x) => x.id === victimId)!;
  const survivors = nodes.filter(
    (x) => x !== victim && x.b.child.exitCode === null && x.b.child.signalCode === null,
  );
  const ids = survivors.map((x) => x.id);
  const live = [...ids, victimId];
  const watcher = await RawClient.connect('127.0.0.1', survivors[0]!.b.port, { requestTimeoutMs: 5_000 });
  // Three lead again before the signal (after a join, the partitions move within seconds).
  let current: Layout = await untilSpread(watcher, topic, live);
  const before = current.leaders;
  const ports = new Map(nodes.map((x) => [x.id, x.b.port]));
  const conns = new Map<number, Promise<RawClient>>();
  const conn = (port: number) => {
    let c = conns.get(port);
    if (!c) {
      c = RawClient.connect('127.0.0.1', port, { requestTimeoutMs: 5_000 });
      conns.set(port, c);
      c.catch(() => conns.delete(port));
    }
    return c;
  };
  const failures: Record<string, number> = {};
  let signalAt = Number.POSITIVE_INFINITY;
  let stopped = false;
  const tracks: Track[] = Array.from({ length: CLUSTER_PARTITIONS }, () => ({
    lastFailureSentAt: null,
    recoveredAt: null,
    lastAckAt: 0,
    longestStall: 0,
    interrupted: false,
  }));
  const watch = (async () => {
    while (!stopped) {
      try {
        current = await layout(watcher, topic);
      } catch {
        // the next poll
      }
      await sleep(100);
    }
  })();
  const probes = tracks.map(async (t, p) => {
    const value = Buffer.alloc(LOAD_SIZE, 'p');
    while (!stopped) {
      const sentAt = now();
      const port = ports.get(current.leaders[p] ?? -1);
      let why: string | null = null;
      if (port === undefined) why = 'no leader';
      else {
        try {
          const c = await conn(port);
          const r = await c.send('Produce', 9, {
            acks: -1,
            timeoutMs: 5_000,
            topicData: [
              {
                name: topic,
                partitionData: [
                  {
                    index: p,
                    records: encodeRecordBatchSync({ records: [{ value, timestamp: BigInt(Date.now()) }] }),
                  },
                ],
              },
            ],
          });
          const code = r.responses[0]!.partitionResponses[0]!.errorCode;
          if (code !== 0) why = `error ${code}`;
        } catch (e) {
          why = /closed|ECONNREFUSED|ECONNRESET|timed out/.exec((e as Error).message)?.[0] ?? 'connection';
          const c = conns.get(port);
          conns.delete(port);
          void c?.then((x) => x.close()).catch(() => undefined);
        }
      }
      const at = now();
      if (sentAt >= signalAt) {
        if (why !== null) {
          failures[why] = (failures[why] ?? 0) + 1;
          t.interrupted = true;
          t.lastFailureSentAt = sentAt;
          t.recoveredAt = null;
        } else if (t.lastFailureSentAt !== null && t.recoveredAt === null) t.recoveredAt = at;
      }
      if (why === null) {
        t.longestStall = Math.max(t.longestStall, at - Math.max(t.lastAckAt, signalAt));
        t.lastAckAt = at;
      }
      await sleep(PROBE_MS);
    }
  });
  const loadRun = bench.rdkafka({
    mode: 'produce',
    bootstrap: bootstrapOf(nodes.filter((x) => live.includes(x.id))),
    topic,
    size: LOAD_SIZE,
    pool: bench.pool(LOAD_SIZE),
    rate: LOAD_RATE,
    // Past the recovery: SIGKILL's takes 10-12 s.
    duration: signal === 'SIGKILL' ? 18 : 7,
    sample_every: 64,
  });
  try {
    // Steady: every partition acknowledged probes for a while, the load running.
    const deadline = now() + 30_000;
    while (!tracks.every((t) => t.lastAckAt > 0)) {
      if (now() > deadline) throw new Error('probes not acknowledged before the signal');
      await sleep(50);
    }
    await sleep(STEADY_MS);
    signalAt = now();
    victim.b.child.kill(signal);
    // Recovered: the layout settled on the survivors, every interrupted partition acknowledged again,
    // and nothing failed for STEADY_MS after that (a second move of a partition would show there).
    const until = signalAt + RECOVERY_TIMEOUT_MS;
    let quietSince = Number.POSITIVE_INFINITY;
    for (;;) {
      const settled =
        JSON.stringify(current.brokers) === JSON.stringify([...ids].sort()) &&
        current.leaders.every((l) => ids.includes(l)) &&
        tracks.every((t) => t.lastFailureSentAt === null || t.recoveredAt !== null);
      if (!settled) quietSince = Number.POSITIVE_INFINITY;
      else if (quietSince === Number.POSITIVE_INFINITY) quietSince = now();
      if (now() - quietSince >= STEADY_MS) break;
      if (now() > until)
        throw new Error(`${signal} of broker ${victimId}: not recovered within ${RECOVERY_TIMEOUT_MS} ms`);
      await sleep(50);
    }
  } finally {
    stopped = true;
    await Promise.all([...probes, watch]);
    watcher.close();
    for (const c of conns.values()) void c.then((x) => x.close()).catch(() => undefined);
  }
  await victim.b.exited;
  const load = await loadRun;
  const recoveredAt = Math.max(signalAt, ...tracks.map((t) => t.recoveredAt ?? signalAt));
  const run: FailoverRun = {
    signal,
    round,
    recoveredMs: Math.round(recoveredAt - signalAt),
    longestStallMs: Math.round(Math.max(...tracks.map((t) => t.longestStall))),
    partitionsInterrupted: tracks.filter((t) => t.interrupted).length,
    partitionsMoved: current.leaders.filter((l, p) => l !== before[p]).length,
    failures,
    load: { rate: LOAD_RATE, records: load.records, errors: (load.errors ?? 0) + (load.unflushed ?? 0) },
  };
  bench.log(
    `    ${signal} of broker ${victimId}: every partition takes produces again after ${run.recoveredMs} ms (longest stall ${run.longestStallMs} ms; ${run.partitionsInterrupted} partitions interrupted, ${run.partitionsMoved} moved; probe failures ${JSON.stringify(failures)}; load ${load.records} records, ${run.load.errors} failed)`,
  );
  if (run.load.errors)
    bench.results.errors.push(
      `cluster ${signal} round ${round}: ${run.load.errors} records of the load failed: ${load.error}`,
    );
  return run;
}
