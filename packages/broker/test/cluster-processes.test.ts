/**
 * Many brokers lose nothing: three broker processes (./scripts/cluster-broker.ts) over one database of
 * a shared ClickHouse whose Keeper is a real ZooKeeper (docs/architecture.md, "Many brokers over one
 * database").
 * - A leader killed with SIGKILL under an idempotent kafkajs producer: its partitions move once its
 *   registration expired, with a new leader epoch; the producer's retries get through; every
 *   acknowledged record is there once, at its offset, offsets dense. Twice, down to one broker.
 * - A leader paused with SIGSTOP past its registration (a zombie): another broker takes its partitions;
 *   resumed, the zombie acknowledges none of the appends it was sent, closes, and the new leader never
 *   shows what it wrote.
 * - Brokers joining: partitions spread over them, and reads from the new leaders find every record.
 * - The group coordinator's broker killed with SIGKILL in the middle of a rebalance, under a librdkafka
 *   idempotent producer (acks=all) and a group of librdkafka and kafkajs members: the slot and the
 *   partitions move, the group forms again at the new coordinator with its committed offsets, the
 *   producer carries on, and the group reads every acknowledged record.
 * Skipped without ZooKeeper here, failing under CI.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RawClient } from '@kch/kafka-connection';
import { decodeBatch, ErrorCode, encodeRecordBatchSync, splitBatches } from '@kch/protocol';
import { Kafka, logLevel, PartitionAssigners } from 'kafkajs';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import { useKeeperClickHouse } from '../../storage/test/keeper-clickhouse.js';
import { TSX_LOADER } from '../../storage/test/shared-clickhouse.js';
import { zookeeperRequirement } from '../../storage/test/zookeeper.js';
import { skipEachUnless } from './helpers/skip.js';
import { confluentKafka, PYTHON } from './helpers/tools.js';

const SCRIPT = fileURLToPath(new URL('./scripts/cluster-broker.ts', import.meta.url));
const CLIENT_SCRIPT = fileURLToPath(new URL('./python/confluent_cluster.py', import.meta.url));
/** A broker process starts in a few seconds; many test files at once on a small machine, far slower. */
const START_TIMEOUT_MS = 60_000;
/**
 * How long a takeover may take: the dead broker's registration lasts 10 s from its last renewal, the
 * others look every second (packages/broker/src/cluster/), plus room for a loaded machine.
 */
const TAKEOVER_MS = 25_000;
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

function startBroker(url: string, database: string, nodeId: number): Promise<BrokerProcess> {
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
async function killAll(database?: string): Promise<void> {
  const all = [...children].filter((b) => database === undefined || b.database === database);
  for (const b of all) b.child.kill('SIGKILL');
  await Promise.all(all.map((b) => b.exited));
}

/**
 * Ends the test's broker processes (those over `database`) when it ends, however it ends, and prints
 * their logs when it failed. The tests run side by side, each over a database of its own.
 */
function ownProcesses(ctx: TestContext, database: string): void {
  ctx.onTestFailed(() => {
    for (const b of children) {
      if (b.database === database) process.stderr.write(`--- ${database} broker ${b.nodeId}:\n${b.log()}\n`);
    }
  });
  ctx.onTestFinished(() => killAll(database));
}

/** Polls `read` until `check` passes; throws with the last value after `ms`. */
async function eventually<T>(
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

async function withClient<T>(port: number, f: (c: RawClient) => Promise<T>): Promise<T> {
  const c = await RawClient.connect('127.0.0.1', port, { requestTimeoutMs: 10_000 });
  try {
    return await f(c);
  } finally {
    c.close();
  }
}

interface Layout {
  brokers: number[];
  /** By partition. */
  leaders: { leaderId: number; leaderEpoch: number }[];
}

/** Metadata of `topic` as the broker at `port` answers it. */
function layout(port: number, topic: string): Promise<Layout> {
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
function settled(port: number, topic: string, partitions: number, nodes: number[], what: string) {
  return eventually(
    () => layout(port, topic),
    (l) =>
      JSON.stringify(l.brokers) === JSON.stringify([...nodes].sort()) &&
      l.leaders.length === partitions &&
      l.leaders.every((p) => nodes.includes(p.leaderId)),
    what,
  );
}

async function createTopic(port: number, topic: string, partitions: number): Promise<void> {
  await withClient(port, async (c) => {
    const r = await c.send('CreateTopics', 7, {
      topics: [{ name: topic, numPartitions: partitions, replicationFactor: -1, configs: [] }],
      timeoutMs: 5000,
    });
    expect(r.topics[0]!.errorCode).toBe(ErrorCode.NONE);
  });
}

/** One Produce request (acks=all) of plain records; the partition's answer. */
async function produce(c: RawClient, topic: string, partition: number, values: string[]) {
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
type Acked = Map<number, Map<number, string>>;

function ack(acked: Acked, partition: number, offset: number, value: string): void {
  const m = acked.get(partition) ?? new Map<number, string>();
  acked.set(partition, m);
  // An offset handed out twice shows here already.
  expect(m.get(offset) ?? value, `offset ${offset} of partition ${partition} acknowledged twice`).toBe(value);
  m.set(offset, value);
}

/** Acknowledged `values`, one after the other from `baseOffset`. */
function ackAll(acked: Acked, partition: number, baseOffset: bigint | string, values: readonly string[]) {
  for (const [i, value] of values.entries()) ack(acked, partition, Number(baseOffset) + i, value);
}

/**
 * Reads every partition from its leader (as `port` sees it) and checks it against what was
 * acknowledged: each acknowledged record at its offset, nothing else (every send in these tests ends
 * acknowledged, or the test fails), each value once in the topic, offsets dense from 0 to the high
 * watermark. Returns the records.
 */
async function checkTopic(
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
async function lateRows(url: string, database: string): Promise<string> {
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

/** The broker FindCoordinator at `port` names for `group` (-1 with its error while it has none). */
function coordinatorOf(port: number, group: string): Promise<number> {
  return withClient(port, async (c) => {
    const r = await c.send('FindCoordinator', 3, { key: group, keyType: 0 });
    return r.errorCode === ErrorCode.NONE ? r.nodeId : -1;
  });
}

/** The group's state and its members' client ids as its coordinator at `port` describes it. */
function describeGroup(port: number, group: string) {
  return withClient(port, async (c) => {
    const r = await c.send('DescribeGroups', 4, { groups: [group], includeAuthorizedOperations: false });
    const g = r.groups[0]!;
    return { errorCode: g.errorCode, state: g.groupState, clients: g.members.map((m) => m.clientId).sort() };
  });
}

/** The group's committed offsets of each partition of `topic` (-1: none) at its coordinator at `port`. */
function committedOffsets(port: number, group: string, topic: string, partitions: number) {
  return withClient(port, async (c) => {
    const r = await c.send('OffsetFetch', 7, {
      groupId: group,
      topics: [{ name: topic, partitionIndexes: Array.from({ length: partitions }, (_, p) => p) }],
      requireStable: false,
    });
    if (r.errorCode !== ErrorCode.NONE) throw new Error(`OffsetFetch at ${port}: error ${r.errorCode}`);
    const out: number[] = Array(partitions).fill(-1);
    for (const p of r.topics[0]?.partitions ?? []) {
      if (p.errorCode !== ErrorCode.NONE) throw new Error(`OffsetFetch at ${port}: error ${p.errorCode}`);
      out[p.partitionIndex] = Number(p.committedOffset);
    }
    return out;
  });
}

interface ClientProcess {
  /** Closes its stdin (it then finishes what it does, prints `done`, and ends); resolves with its exit code. */
  stop(): Promise<number | null>;
  /** What it logged, and the lines it printed but records (`ack`, `got`). */
  output(): string;
}

/**
 * Runs python/confluent_cluster.py (a librdkafka client) with `args`, handing each line it prints to
 * `onLine` split in words; killed when the test ends.
 */
function startClient(ctx: TestContext, args: string[], onLine: (words: string[]) => void): ClientProcess {
  const child = spawn(PYTHON, [CLIENT_SCRIPT, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let partial = '';
  child.stderr.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stdout.on('data', (c: Buffer) => {
    const lines = (partial + c.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (!/^(ack|got) /.test(line)) output += `${line}\n`;
      onLine(line.split(' '));
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  ctx.onTestFailed(() => {
    process.stderr.write(`--- ${args.join(' ')}:\n${output}\n`);
  });
  ctx.onTestFinished(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  return {
    stop: () => {
      child.stdin.end();
      return exited;
    },
    output: () => output,
  };
}

const zookeeper = zookeeperRequirement();

describe('brokers in processes of their own over one database', () => {
  skipEachUnless(zookeeper);
  const keeper = useKeeperClickHouse(zookeeper.available, '/kch_processes', 150_000);
  // Registered after the server's: runs before it stops (after hooks run last-registered first).
  afterAll(async () => {
    await killAll();
  });

  it.concurrent('SIGKILL of a leader under an idempotent producer, twice: every acknowledged record once, offsets dense', async (ctx) => {
    ownProcesses(ctx, 'kill_leader');
    const topic = 'killed';
    const partitions = 6;
    const brokers = await Promise.all([1, 2, 3].map((n) => startBroker(keeper.server.url, 'kill_leader', n)));
    const ports = new Map(brokers.map((b) => [b.nodeId, b.port]));
    await createTopic(brokers[0]!.port, topic, partitions);
    const start = await settled(brokers[0]!.port, topic, partitions, [1, 2, 3], 'leaders on all three');

    const kafka = new Kafka({
      clientId: 'cluster-kill',
      brokers: brokers.map((b) => `127.0.0.1:${b.port}`),
      logLevel: logLevel.NOTHING,
      // Long enough to outlast a takeover (the dead broker's registration expires after 10 s).
      retry: { retries: 40, initialRetryTime: 100, maxRetryTime: 1000 },
      connectionTimeout: 1000,
    });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const acked: Acked = new Map();
    const sendErrors: string[] = [];
    let n = 0;
    let ackedCount = 0;
    /**
     * Sends numbered records until stopped, one send after the other for each partition, the
     * partitions side by side. One partition a send: kafkajs 2.2.4 loses the messages of a send over
     * several brokers when a partition moves to a broker that had already answered for others
     * (tulios/kafkajs#1303: its retry skips brokers with a response, resolves the send, and reuses
     * the sequence numbers for the next records, which the new leader then takes for duplicates).
     */
    const produceInBackground = () => {
      let stopped = false;
      const loops = Array.from({ length: partitions }, async (_, partition) => {
        while (!stopped) {
          const messages = [0, 1].map(() => ({ partition, value: `r${n++}` }));
          try {
            const [meta, ...more] = await producer.send({ topic, messages });
            expect(more).toEqual([]);
            expect(meta).toMatchObject({ partition, errorCode: 0 });
            ackAll(
              acked,
              partition,
              meta!.baseOffset!,
              messages.map((x) => x.value),
            );
            ackedCount += messages.length;
          } catch (e) {
            sendErrors.push((e as Error).message);
          }
        }
      });
      return async () => {
        stopped = true;
        await Promise.all(loops);
      };
    };
    const ackedAtLeast = (count: number) =>
      eventually(
        async () => ackedCount,
        (c) => c >= count,
        `${count} acknowledged records`,
      );

    let stop = produceInBackground();
    try {
      await ackedAtLeast(300);
      // A leader other than broker 1, through which the test looks.
      const first = start.leaders.find((l) => l.leaderId !== 1)!.leaderId;
      const killedAt = Date.now();
      const victim = brokers.find((b) => b.nodeId === first)!;
      victim.child.kill('SIGKILL');
      await victim.exited;
      const survivors = [1, 2, 3].filter((x) => x !== first);
      const after = await settled(brokers[0]!.port, topic, partitions, survivors, 'the first takeover');
      const firstMove = Date.now() - killedAt;
      start.leaders.forEach((l, p) => {
        if (l.leaderId === first) expect(after.leaders[p]!.leaderEpoch).toBeGreaterThan(l.leaderEpoch);
      });
      expect(after.brokers).toEqual(survivors);
      // The producer gets through to the new leaders.
      await ackedAtLeast(ackedCount + 200);
      await stop();
      expect(sendErrors).toEqual([]);
      await checkTopic(brokers[0]!.port, ports, topic, partitions, acked);

      // Once more, down to the last broker.
      stop = produceInBackground();
      await ackedAtLeast(ackedCount + 200);
      const second = survivors.find((x) => x !== 1)!;
      const before = await layout(brokers[0]!.port, topic);
      const secondAt = Date.now();
      brokers.find((b) => b.nodeId === second)!.child.kill('SIGKILL');
      const last = await settled(brokers[0]!.port, topic, partitions, [1], 'the second takeover');
      const secondMove = Date.now() - secondAt;
      before.leaders.forEach((l, p) => {
        if (l.leaderId === second) expect(last.leaders[p]!.leaderEpoch).toBeGreaterThan(l.leaderEpoch);
      });
      await ackedAtLeast(ackedCount + 200);
      await stop();
      expect(sendErrors).toEqual([]);
      await checkTopic(brokers[0]!.port, ports, topic, partitions, acked);
      console.log(
        `SIGKILL: takeovers in ${firstMove} and ${secondMove} ms; ${ackedCount} records acknowledged`,
      );
    } finally {
      await stop();
      await producer.disconnect();
    }
  }, 150_000);

  it.concurrent('SIGSTOP of a leader past its registration: the zombie acknowledges nothing, the new leader never shows its writes', async (ctx) => {
    ownProcesses(ctx, 'zombie');
    const topic = 'paused';
    const partitions = 3;
    const brokers = await Promise.all([1, 2, 3].map((n) => startBroker(keeper.server.url, 'zombie', n)));
    const ports = new Map(brokers.map((b) => [b.nodeId, b.port]));
    const look = brokers[0]!.port;
    await createTopic(look, topic, partitions);
    const start = await settled(look, topic, partitions, [1, 2, 3], 'leaders on all three');
    const acked: Acked = new Map();
    const produceVia = async (l: Layout, partition: number, label: string) =>
      withClient(ports.get(l.leaders[partition]!.leaderId)!, async (c) => {
        for (let i = 0; i < 5; i++) {
          const values = [`${label}-${partition}-${i}a`, `${label}-${partition}-${i}b`];
          // As a Kafka client does: NOT_LEADER_OR_FOLLOWER is retried (a leader whose partition is
          // still opening after a takeover, or opened again after a failed attempt, stores nothing).
          const retryUntil = Date.now() + 10_000;
          let r = await produce(c, topic, partition, values);
          while (r.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER && Date.now() < retryUntil) {
            await new Promise((resolve) => setTimeout(resolve, 200));
            r = await produce(c, topic, partition, values);
          }
          expect(r.errorCode, `${values[0]} via ${c.port}`).toBe(ErrorCode.NONE);
          ackAll(acked, partition, r.baseOffset, values);
        }
      });
    for (let p = 0; p < partitions; p++) await produceVia(start, p, 'before');

    // A leader other than broker 1, through which the test looks.
    const zombieId = start.leaders.find((l) => l.leaderId !== 1)!.leaderId;
    const zombie = brokers.find((b) => b.nodeId === zombieId)!;
    const itsPartitions = start.leaders.flatMap((l, p) => (l.leaderId === zombieId ? [p] : []));
    const toZombie = await RawClient.connect('127.0.0.1', zombie.port);
    try {
      zombie.child.kill('SIGSTOP');
      const stoppedAt = Date.now();
      // Appends it finds waiting when it wakes up, after its partitions moved on.
      const answers = itsPartitions.flatMap((p) =>
        [0, 1, 2].map((j) =>
          produce(toZombie, topic, p, [`zombie-${p}-${j}`]).then(
            (r) => r.errorCode,
            (e: Error) => e.message,
          ),
        ),
      );
      const survivors = [1, 2, 3].filter((x) => x !== zombieId);
      const moved = await settled(look, topic, partitions, survivors, 'the takeover from the paused broker');
      for (const p of itsPartitions) {
        expect(moved.leaders[p]!.leaderEpoch).toBeGreaterThan(start.leaders[p]!.leaderEpoch);
        await produceVia(moved, p, 'new');
      }
      // Paused for longer than its registration lasts, whatever the takeover took.
      await eventually(
        async () => Date.now() - stoppedAt,
        (t) => t >= 12_000,
        'a pause of 12 s',
      );
      zombie.child.kill('SIGCONT');
      const pausedFor = Date.now() - stoppedAt;
      const outcomes = await Promise.all(answers);
      // Every append it was sent is refused (NOT_LEADER_OR_FOLLOWER), or the connection closed with it.
      for (const o of outcomes) expect(o).not.toBe(ErrorCode.NONE);
      // Its renewal finds its registration fenced: it closes, and its process ends.
      const end = await Promise.race([
        zombie.exited,
        new Promise((r) => setTimeout(() => r('still running'), TAKEOVER_MS)),
      ]);
      expect(end).toMatchObject({ signal: null });
      expect(zombie.log()).toMatch(/"msg":"broker stops","reason":"this broker's registration expired/);
      for (const p of itsPartitions) await produceVia(moved, p, 'after');

      const stored = await checkTopic(look, ports, topic, partitions, acked);
      const epochs = stored.map((records) => [...new Set(records.map((r) => r.leaderEpoch))]);
      const late = await lateRows(keeper.server.url, 'zombie');
      console.log(
        `SIGSTOP: paused ${pausedFor} ms; the zombie answered ${JSON.stringify(outcomes)}; ` +
          `its rows in ClickHouse: ${late}; record epochs by partition ${JSON.stringify(epochs)}`,
      );
    } finally {
      toZombie.close();
    }
  }, 150_000);

  it.concurrent('brokers joining: partitions spread over them, and the new leaders serve every record', async (ctx) => {
    ownProcesses(ctx, 'join');
    const topic = 'joined';
    const partitions = 6;
    const first = await startBroker(keeper.server.url, 'join', 1);
    const ports = new Map([[1, first.port]]);
    await createTopic(first.port, topic, partitions);
    await settled(first.port, topic, partitions, [1], 'leaders on the only broker');
    const acked: Acked = new Map();
    await withClient(first.port, async (c) => {
      for (let p = 0; p < partitions; p++) {
        for (let i = 0; i < 5; i++) {
          const values = [`one-${p}-${i}a`, `one-${p}-${i}b`];
          const r = await produce(c, topic, p, values);
          expect(r.errorCode).toBe(ErrorCode.NONE);
          ackAll(acked, p, r.baseOffset, values);
        }
      }
    });
    const startedAt = Date.now();
    const joined = await Promise.all([2, 3].map((n) => startBroker(keeper.server.url, 'join', n)));
    for (const b of joined) ports.set(b.nodeId, b.port);
    const listening = Date.now() - startedAt;
    // Every broker sees two partitions on each.
    const spread = (l: Layout) =>
      JSON.stringify(l.brokers) === '[1,2,3]' &&
      [1, 2, 3].every((n) => l.leaders.filter((x) => x.leaderId === n).length === 2);
    const views = await Promise.all(
      [...ports.values()].map((port) =>
        eventually(() => layout(port, topic), spread, `the spread seen from ${port}`),
      ),
    );
    const spreadIn = Date.now() - startedAt;
    const l = views[0]!;
    for (const v of views) expect(v.leaders).toEqual(l.leaders);
    // A partition that moved has a later epoch (two brokers joining one after the other may move one twice).
    for (const x of l.leaders) if (x.leaderId !== 1) expect(x.leaderEpoch).toBeGreaterThan(0);
    // The new leaders take appends, after what the first broker stored.
    for (let p = 0; p < partitions; p++) {
      await withClient(ports.get(l.leaders[p]!.leaderId)!, async (c) => {
        const r = await produce(c, topic, p, [`three-${p}`]);
        expect(r.errorCode).toBe(ErrorCode.NONE);
        expect(Number(r.baseOffset)).toBe(10);
        ack(acked, p, 10, `three-${p}`);
      });
    }
    const stored = await checkTopic(first.port, ports, topic, partitions, acked);
    expect(stored.map((r) => r.length)).toEqual(Array(partitions).fill(11));
    console.log(`join: two brokers listening in ${listening} ms, partitions spread in ${spreadIn} ms`);
  }, 150_000);

  it.concurrent('SIGKILL of the group coordinator mid-rebalance under librdkafka and kafkajs clients: the producer and the group carry on', async (ctx) => {
    ctx.skip(!confluentKafka.available, confluentKafka.reason);
    ownProcesses(ctx, 'kill_coordinator');
    const topic = 'moving';
    const group = 'movers';
    const partitions = 6;
    const all = [1, 2, 3];
    const brokers = await Promise.all(all.map((n) => startBroker(keeper.server.url, 'kill_coordinator', n)));
    const ports = new Map(brokers.map((b) => [b.nodeId, b.port]));
    const bootstrap = brokers.map((b) => `127.0.0.1:${b.port}`);
    await createTopic(brokers[0]!.port, topic, partitions);
    await settled(brokers[0]!.port, topic, partitions, all, 'leaders on all three');

    // A librdkafka idempotent producer (acks=all) of numbered records, until told to stop.
    const acked: Acked = new Map();
    let ackedCount = 0;
    const lastAckAt: number[] = Array(partitions).fill(0);
    const problems: string[] = [];
    const producer = startClient(ctx, ['produce', bootstrap.join(','), topic], (w) => {
      if (w[0] === 'ack') {
        try {
          ack(acked, Number(w[1]), Number(w[2]), w[3]!);
        } catch (e) {
          problems.push((e as Error).message);
        }
        ackedCount++;
        lastAckAt[Number(w[1])] = Date.now();
      } else if (w[0] === 'err') problems.push(w.join(' '));
    });
    const ackedAtLeast = (count: number) =>
      eventually(
        async () => ackedCount,
        (c) => c >= count,
        `${count} acknowledged records`,
      );

    // The group: a librdkafka member, a kafkajs one, and later a second librdkafka one. What they read,
    // and the highest commit the coordinator acknowledged to any of them, by partition.
    const consumed = new Set<string>();
    const commitsAcked: number[] = Array(partitions).fill(-1);
    const commitAcked = (partition: number, offset: number) => {
      commitsAcked[partition] = Math.max(commitsAcked[partition]!, offset);
    };
    const onMemberLine = (w: string[]) => {
      if (w[0] === 'got') consumed.add(w[3]!);
      else if (w[0] === 'committed') commitAcked(Number(w[1]), Number(w[2]));
    };
    const rdkafkaMember = (clientId: string) =>
      startClient(ctx, ['consume', bootstrap.join(','), topic, group, clientId], onMemberLine);
    const first = rdkafkaMember('rdkafka-first');
    const kafka = new Kafka({
      clientId: 'kafkajs-member',
      brokers: bootstrap,
      logLevel: logLevel.NOTHING,
      // Long enough to outlast the coordinator's move (its registration expires after 10 s).
      retry: { retries: 40, initialRetryTime: 100, maxRetryTime: 1000 },
      connectionTimeout: 1000,
    });
    const member = kafka.consumer({
      groupId: group,
      // A group of librdkafka and kafkajs members needs an assignor both offer: kafkajs's round robin
      // under librdkafka's name for it (both encode the consumer protocol alike). Kafka too answers
      // INCONSISTENT_GROUP_PROTOCOL to members that share none.
      partitionAssigners: [(config) => ({ ...PartitionAssigners.roundRobin(config), name: 'roundrobin' })],
      sessionTimeout: 10_000,
      rebalanceTimeout: 20_000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: 200,
    });
    member.on(member.events.COMMIT_OFFSETS, ({ payload }) => {
      for (const t of payload.topics)
        for (const p of t.partitions) commitAcked(p.partition, Number(p.offset));
    });
    /**
     * While set, the kafkajs member stops in its next message: kafkajs heartbeats and rejoins only
     * between batches, so a rebalance waits for it, and the test kills the coordinator in the middle.
     */
    let hold: { entered: () => void; release: Promise<void> } | undefined;
    let release = () => {};
    await member.connect();
    await member.subscribe({ topic, fromBeginning: true });
    await member.run({
      eachMessage: async ({ message }) => {
        consumed.add(message.value!.toString());
        if (hold) {
          hold.entered();
          await hold.release;
        }
      },
    });
    const stopMember = async () => {
      release();
      await member.disconnect();
    };
    try {
      await ackedAtLeast(200);
      const look = brokers[0]!.port;
      const coordinator = await eventually(
        () => coordinatorOf(look, group),
        (n) => n > 0,
        'a coordinator for the group',
      );
      const coordinatorPort = ports.get(coordinator)!;
      const both = ['kafkajs-member', 'rdkafka-first'];
      await eventually(
        () => describeGroup(coordinatorPort, group),
        (g) => g.state === 'Stable' && JSON.stringify(g.clients) === JSON.stringify(both),
        'the group stable with its two members',
        40_000,
      );
      // Both members read and committed.
      await eventually(
        async () => ({ consumed: consumed.size, committed: commitsAcked.filter((o) => o > 0).length }),
        (x) => x.consumed >= 100 && x.committed === partitions,
        'reads and commits of every partition',
      );

      // A third member joins while the kafkajs member is busy: the rebalance waits for it.
      const entered = new Promise<void>((resolve) => {
        hold = { entered: resolve, release: new Promise<void>((r) => (release = r)) };
      });
      await entered;
      const before = await committedOffsets(coordinatorPort, group, topic, partitions);
      const late = rdkafkaMember('rdkafka-late');
      await eventually(
        () => describeGroup(coordinatorPort, group),
        (g) => g.state === 'PreparingRebalance',
        'the rebalance for the third member',
      );
      const victim = brokers.find((b) => b.nodeId === coordinator)!;
      victim.child.kill('SIGKILL');
      const killedAt = Date.now();
      const ackedAtKill = ackedCount;
      const commitsAtKill = [...commitsAcked];
      hold = undefined;
      release();
      await victim.exited;

      // The slot moves to a surviving broker, which both survivors name; the group forms there again
      // with its three members.
      const survivors = all.filter((n) => n !== coordinator);
      const survivorPorts = survivors.map((n) => ports.get(n)!);
      const [next] = await eventually(
        () => Promise.all(survivorPorts.map((port) => coordinatorOf(port, group))),
        (ns) => survivors.includes(ns[0]!) && ns.every((n) => n === ns[0]),
        'a surviving coordinator',
      );
      const moved = Date.now() - killedAt;
      const nextPort = ports.get(next!)!;
      const three = ['kafkajs-member', 'rdkafka-first', 'rdkafka-late'];
      await eventually(
        () => describeGroup(nextPort, group),
        (g) => g.state === 'Stable' && JSON.stringify(g.clients) === JSON.stringify(three),
        'the group stable again with its three members',
        40_000,
      );
      const reformed = Date.now() - killedAt;
      // No commit is lost: what the old coordinator held, and acknowledged until it died.
      const after = await committedOffsets(nextPort, group, topic, partitions);
      for (let p = 0; p < partitions; p++) {
        expect(after[p], `commit of partition ${p}`).toBeGreaterThanOrEqual(
          Math.max(before[p]!, commitsAtKill[p]!),
        );
      }

      // The dead broker's partitions moved too; the producer gets through to every partition after that.
      await settled(survivorPorts[0]!, topic, partitions, survivors, 'the takeover of the partitions');
      const takenOverAt = Date.now();
      await eventually(
        async () => lastAckAt,
        (at) => at.every((t) => t > takenOverAt),
        'acknowledgements of every partition after the takeover',
      );
      await ackedAtLeast(ackedCount + 200);
      expect(await producer.stop(), producer.output()).toBe(0);
      expect(problems).toEqual([]);
      const stored = await checkTopic(survivorPorts[0]!, ports, topic, partitions, acked);

      // The group reads everything, and commits up to the end of every partition.
      const ends = stored.map((records) => records.length);
      await eventually(
        async () => [...acked.values()].flatMap((m) => [...m.values()]).filter((v) => !consumed.has(v)),
        (missing) => missing.length === 0,
        'every acknowledged record read by the group',
        40_000,
      );
      await eventually(
        () => committedOffsets(nextPort, group, topic, partitions),
        (offsets) => JSON.stringify(offsets) === JSON.stringify(ends),
        `commits up to the ends ${JSON.stringify(ends)}`,
      );
      await stopMember();
      expect(await Promise.all([first.stop(), late.stop()])).toEqual([0, 0]);
      console.log(
        `coordinator SIGKILL: the slot moved in ${moved} ms, the group formed again in ${reformed} ms; ` +
          `${ackedAtKill} records acknowledged before the kill, ${ackedCount} in all; commits before ` +
          `${JSON.stringify(before)}, at the kill ${JSON.stringify(commitsAtKill)}, after the move ${JSON.stringify(after)}`,
      );
    } finally {
      await stopMember().catch(() => undefined);
    }
  }, 150_000);
});
