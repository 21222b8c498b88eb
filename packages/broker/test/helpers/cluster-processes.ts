/**
 * Broker processes over one database of a shared ClickHouse whose Keeper is a real ZooKeeper
 * (../scripts/cluster-broker.ts), and what the tests that kill or pause them check with: the layout of
 * leaders, raw produces and reads, and every acknowledged record stored once at its offset.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RawClient } from '@kch/kafka-connection';
import { decodeBatch, ErrorCode, encodeRecordBatchSync, splitBatches } from '@kch/protocol';
import { afterAll, expect, type TestContext } from 'vitest';
import { useKeeperClickHouse } from '../../../storage/test/keeper-clickhouse.js';
import { TSX_LOADER } from '../../../storage/test/shared-clickhouse.js';
import { zookeeperRequirement } from '../../../storage/test/zookeeper.js';
import { skipEachUnless } from './skip.js';

const SCRIPT = fileURLToPath(new URL('../scripts/cluster-broker.ts', import.meta.url));
/** A broker process starts in a few seconds; many test files at once on a small machine, far slower. */
const START_TIMEOUT_MS = 60_000;
/**
 * How long a takeover may take: the dead broker's registration lasts 10 s from its last renewal, the
 * others look every second (packages/broker/src/cluster/), plus room for a loaded machine.
 */
export const TAKEOVER_MS = 25_000;
const POLL_MS = 100;

interface BrokerProcess {
  database: string;
  nodeId: number;
  port: number;
  child: ChildProcessWithoutNullStreams;
  /** Resolves with how the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What it logged (JSON lines). */
  log(): string;
}

const children = new Set<BrokerProcess>();

export function startBroker(url: string, database: string, nodeId: number): Promise<BrokerProcess> {
  // node itself, not npx, so that signals reach the broker's own process.
  const child = spawn(
    process.execPath,
    ['--import', TSX_LOADER, '--conditions=source', SCRIPT, url, database, String(nodeId)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`broker ${nodeId} did not listen within ${START_TIMEOUT_MS} ms: ${err}`));
    }, START_TIMEOUT_MS);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      const { port } = JSON.parse(out.split('\n', 1)[0]!) as { port: number };
      const b: BrokerProcess = { database, nodeId, port, child, exited, log: () => err };
      children.add(b);
      void exited.then(() => children.delete(b));
      resolve(b);
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`broker ${nodeId} exited (${signal ?? code}) before it listened: ${err}`));
    });
  });
}

/** Kills the broker processes of `database` (every one without), and waits for them to end. */
export async function killAll(database?: string): Promise<void> {
  const all = [...children].filter((b) => database === undefined || b.database === database);
  for (const b of all) b.child.kill('SIGKILL');
  await Promise.all(all.map((b) => b.exited));
}

/**
 * For a describe block of broker-process tests: skips its tests without ZooKeeper (failing under CI),
 * starts the shared ClickHouse with ZooKeeper as its Keeper (paths under `keeperPrefix`), and kills
 * every broker process left when the block ends, before that ClickHouse stops (after hooks run
 * last-registered first).
 */
export function useBrokerProcesses(keeperPrefix: string): ReturnType<typeof useKeeperClickHouse> {
  const zookeeper = zookeeperRequirement();
  skipEachUnless(zookeeper);
  const keeper = useKeeperClickHouse(zookeeper.available, keeperPrefix, 150_000);
  afterAll(async () => {
    await killAll();
  });
  return keeper;
}

/**
 * Ends the test's broker processes (those over `database`) when it ends, however it ends, and prints
 * their logs when it failed. The tests run side by side, each over a database of its own.
 */
export function ownProcesses(ctx: TestContext, database: string): void {
  ctx.onTestFailed(() => {
    for (const b of children) {
      if (b.database === database) process.stderr.write(`--- ${database} broker ${b.nodeId}:\n${b.log()}\n`);
    }
  });
  ctx.onTestFinished(() => killAll(database));
}

/** Polls `read` until `check` passes; throws with the last value after `ms`. */
export async function eventually<T>(
  read: () => Promise<T>,
  check: (t: T) => boolean,
  what: string,
  ms = TAKEOVER_MS,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T | Error | undefined;
  for (;;) {
    try {
      last = await read();
      if (check(last)) return last;
    } catch (e) {
      last = e as Error;
    }
    if (Date.now() > deadline) {
      const shown = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`${what} did not happen within ${ms} ms; last: ${shown}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export async function withClient<T>(port: number, f: (c: RawClient) => Promise<T>): Promise<T> {
  const c = await RawClient.connect('127.0.0.1', port, { requestTimeoutMs: 10_000 });
  try {
    return await f(c);
  } finally {
    c.close();
  }
}

export interface Layout {
  brokers: number[];
  /** By partition. */
  leaders: { leaderId: number; leaderEpoch: number }[];
}

/** Metadata of `topic` as the broker at `port` answers it. */
export function layout(port: number, topic: string): Promise<Layout> {
  return withClient(port, async (c) => {
    const r = await c.send('Metadata', 12, {
      topics: [{ name: topic, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    const partitions = [...r.topics[0]!.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex);
    return {
      brokers: r.brokers.map((b) => b.nodeId).sort(),
      leaders: partitions.map((p) => ({ leaderId: p.leaderId, leaderEpoch: p.leaderEpoch })),
    };
  });
}

/** Waits until `port` sees every one of `partitions` led by one of `nodes`, and only `nodes` alive. */
export function settled(port: number, topic: string, partitions: number, nodes: number[], what: string) {
  return eventually(
    () => layout(port, topic),
    (l) =>
      JSON.stringify(l.brokers) === JSON.stringify([...nodes].sort()) &&
      l.leaders.length === partitions &&
      l.leaders.every((p) => nodes.includes(p.leaderId)),
    what,
  );
}

export async function createTopic(port: number, topic: string, partitions: number): Promise<void> {
  await withClient(port, async (c) => {
    const r = await c.send('CreateTopics', 7, {
      topics: [{ name: topic, numPartitions: partitions, replicationFactor: -1, configs: [] }],
      timeoutMs: 5000,
    });
    expect(r.topics[0]!.errorCode).toBe(ErrorCode.NONE);
  });
}

/** One Produce request (acks=all) of plain records; the partition's answer. */
export async function produce(c: RawClient, topic: string, partition: number, values: string[]) {
  const records = encodeRecordBatchSync({
    records: values.map((v) => ({ value: Buffer.from(v), timestamp: BigInt(Date.now()) })),
  });
  const r = await c.send('Produce', 9, {
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  });
  return r.responses[0]!.partitionResponses[0]!;
}

interface Stored {
  offset: number;
  value: string;
  leaderEpoch: number;
}

/** The whole partition as the broker at `port` (its leader) serves it, and its high watermark. */
function readPartition(port: number, topic: string, partition: number) {
  return withClient(port, async (c) => {
    const out: Stored[] = [];
    let next = 0n;
    for (;;) {
      const r = await c.send('Fetch', 12, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 24,
        isolationLevel: 0,
        topics: [{ topic, partitions: [{ partition, fetchOffset: next, partitionMaxBytes: 1 << 24 }] }],
      });
      const p = r.responses[0]!.partitions[0]!;
      if (p.errorCode !== ErrorCode.NONE) {
        throw new Error(`Fetch of ${topic}-${partition} from ${port} answered error ${p.errorCode}`);
      }
      for (const bytes of splitBatches(p.records ?? Buffer.alloc(0)).batches) {
        const batch = await decodeBatch(bytes);
        for (const rec of batch.records) {
          out.push({
            offset: Number(batch.header.baseOffset) + rec.offsetDelta,
            value: rec.value!.toString(),
            leaderEpoch: batch.header.partitionLeaderEpoch,
          });
        }
        next = batch.header.baseOffset + BigInt(batch.header.lastOffsetDelta) + 1n;
      }
      if (next >= p.highWatermark) return { records: out, highWatermark: Number(p.highWatermark) };
    }
  });
}

/** Acknowledged records: by partition, offset → value. */
export type Acked = Map<number, Map<number, string>>;

export function ack(acked: Acked, partition: number, offset: number, value: string): void {
  const m = acked.get(partition) ?? new Map<number, string>();
  acked.set(partition, m);
  // An offset handed out twice shows here already.
  expect(m.get(offset) ?? value, `offset ${offset} of partition ${partition} acknowledged twice`).toBe(value);
  m.set(offset, value);
}

/** Acknowledged `values`, one after the other from `baseOffset`. */
export function ackAll(
  acked: Acked,
  partition: number,
  baseOffset: bigint | string,
  values: readonly string[],
) {
  for (const [i, value] of values.entries()) ack(acked, partition, Number(baseOffset) + i, value);
}

/**
 * Reads every partition from its leader (as `port` sees it) and checks it against what was
 * acknowledged: each acknowledged record at its offset, nothing else (every send in these tests ends
 * acknowledged, or the test fails), each value once in the topic, offsets dense from 0 to the high
 * watermark. Returns the records.
 */
export async function checkTopic(
  port: number,
  ports: Map<number, number>,
  topic: string,
  partitions: number,
  acked: Acked,
): Promise<Stored[][]> {
  const { leaders } = await layout(port, topic);
  const seen = new Set<string>();
  const all: Stored[][] = [];
  for (let p = 0; p < partitions; p++) {
    const leaderPort = ports.get(leaders[p]!.leaderId);
    expect(leaderPort, `leader of ${topic}-${p}`).toBeDefined();
    const { records, highWatermark } = await readPartition(leaderPort!, topic, p);
    all.push(records);
    records.forEach((r, i) => {
      expect(r.offset, `${topic}-${p}: offsets dense`).toBe(i);
      expect(seen.has(r.value), `${r.value} stored twice`).toBe(false);
      seen.add(r.value);
    });
    expect(highWatermark).toBe(records.length);
    const byOffset = new Map(records.map((r) => [r.offset, r.value]));
    // Each acknowledged record at its offset; a failure shows what is stored around the first miss.
    const missed = [...(acked.get(p) ?? [])].filter(([offset, value]) => byOffset.get(offset) !== value);
    const from = Math.max(0, (missed[0]?.[0] ?? 0) - 4);
    const around = records.filter((r) => r.offset >= from && r.offset < from + 12);
    expect(missed, `${topic}-${p} stores around there ${JSON.stringify(around)}`).toEqual([]);
    const ackedHere = new Set(acked.get(p)?.values() ?? []);
    expect(records.filter((r) => !ackedHere.has(r.value))).toEqual([]);
  }
  return all;
}

/**
 * Rows of `database`'s topic tables whose value starts with `zombie-` as ClickHouse has them (what a
 * deposed leader inserted, hidden from Kafka by the fences), by their leader epoch.
 */
export async function lateRows(url: string, database: string): Promise<string> {
  const sql = async (q: string) => {
    const r = await fetch(url, { method: 'POST', body: q });
    if (!r.ok) throw new Error(`${q}: ${await r.text()}`);
    return (await r.text()).trim();
  };
  const tables = (
    await sql(
      `SELECT table FROM system.columns WHERE database = '${database}' AND name = 'batch_leader_epoch' FORMAT TSV`,
    )
  )
    .split('\n')
    .filter(Boolean);
  const out: string[] = [];
  for (const t of tables) {
    const rows = await sql(
      `SELECT partition, offset, batch_leader_epoch, toString(value) FROM \`${database}\`.\`${t}\` WHERE startsWith(toString(value), 'zombie-') ORDER BY partition, offset FORMAT TSV`,
    );
    if (rows) out.push(...rows.split('\n').map((r) => r.replaceAll('\t', ' ')));
  }
  return out.length === 0 ? 'none' : out.join('; ');
}
