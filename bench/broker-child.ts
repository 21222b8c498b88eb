/**
 * The broker under test, in a process of its own (chdb binds one data directory per process, and the
 * harness must not share its CPU). Started by bench/run.ts with an IPC channel:
 *
 *   node --import tsx --conditions=source bench/broker-child.ts '<json options>'
 *
 * It sends `{ type: 'ready', port }` once it listens, then answers the harness's messages:
 * - `stats`: broker-side Produce request latencies and group-commit inserts since the last `stats`,
 *   plus process.resourceUsage() and memoryUsage();
 * - `sql`, `sql-count`: a statement through a second chdb session (same data directory, its own
 *   connection), as text; the row count of a topic table;
 * - `sql-watch`: polls `SELECT count()` on a topic table through a second chdb session (same data
 *   directory, its own connection) until it reaches a target; answers with the wall-clock time it saw it;
 * - `tail-start`: the first offset held in the tail cache, per partition of a topic;
 * - `profile-start` / `profile-stop`: a CPU profile of one phase (node:inspector), written to `file`;
 * - `close`: closes the broker and exits normally, so that `--cpu-prof` writes its profile.
 *
 * With `storage: 'clickhouse'` (the `cluster` group) the storage is a ClickHouse server's HTTP interface at
 * `url`, `database` in it, which several broker children share (as one cluster); SIGTERM
 * then closes the broker cleanly (it hands its partitions over), as a service manager's stop would.
 *
 * With `broker.listeners` in the options (the `security` group) it opens those listeners instead of one
 * PLAINTEXT port, stores the `scramUsers`' SCRAM credentials before it is ready, and says every
 * listener's port in `ready` (`listeners`, by name; `port` is the first one's).
 */
import { writeFileSync } from 'node:fs';
import { Session as InspectorSession } from 'node:inspector/promises';
import { createRequire, findSourceMap } from 'node:module';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { createBroker, silentLogger } from '@kch/broker';
import { clickhouseStorage, memoryStorage, type Storage } from '@kch/storage';
// Not exported by @kch/broker: the bench stores users as the broker's tests do (see BrokerStart).
import { scramCredential } from '../packages/broker/src/security/sasl/scram.js';
import type { BrokerStart, FlushAgg } from './lib/children.js';

interface Options extends Pick<BrokerStart, 'broker' | 'scramUsers' | 'url' | 'database'> {
  storage: BrokerStart['storage'];
  dir?: string;
  tailCacheBytes?: number;
  lingerMs?: number;
}

interface ChdbSession {
  queryAsync(sql: string, opts?: { format?: string }): Promise<{ bytes(): Uint8Array }>;
  close(): void;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as Options;
const database = opts.database ?? 'kafka';
const send = (m: unknown) => process.send?.(m);

const storage: Storage =
  opts.storage === 'clickhouse'
    ? clickhouseStorage({ url: opts.url!, database })
    : opts.storage === 'chdb'
      ? clickhouseStorage({
          chdb: opts.dir!,
          database,
          ...(opts.lingerMs !== undefined ? { lingerMs: opts.lingerMs } : {}),
          // Storage options to try without changing the harness, e.g. KCH_BENCH_CHDB_OPTIONS='{"insertsInFlight":1}'.
          ...(JSON.parse(process.env.KCH_BENCH_CHDB_OPTIONS ?? '{}') as Record<string, unknown>),
        })
      : memoryStorage();
const broker = await createBroker({
  storage,
  logger: silentLogger,
  ...(opts.tailCacheBytes ? { tailCacheBytes: opts.tailCacheBytes } : {}),
  ...opts.broker,
  // Broker options to try the same way, e.g. KCH_BENCH_BROKER_OPTIONS='{"queuedMaxRequestBytes":33554432}'.
  ...(JSON.parse(process.env.KCH_BENCH_BROKER_OPTIONS ?? '{}') as Record<string, unknown>),
});

// Broker-side latency of Produce requests (decode to response encoded), without the client's linger.
let produceMs: number[] = [];
broker.on('request', (e) => {
  if (e.apiKey === 0) produceMs.push(e.durationMs);
});
// Group-commit inserts, when the storage reports them (ClickHouseStorage.onFlush).
const newFlushAgg = (): FlushAgg => ({
  inserts: 0,
  rows: 0,
  bytes: 0,
  ms: 0,
  maxMs: 0,
  appends: 0,
  durations: [],
  queued: [],
});
let flushes = newFlushAgg();
const onFlush = (storage as { onFlush?: (l: (s: Record<string, number | string | boolean>) => void) => void })
  .onFlush;
if (typeof onFlush === 'function') {
  onFlush.call(storage, (s) => {
    if (s.kind !== 'records') return;
    flushes.inserts++;
    flushes.rows += Number(s.rows);
    flushes.bytes += Number(s.bytes);
    flushes.appends += Number(s.appends);
    flushes.ms += Number(s.durationMs);
    flushes.maxMs = Math.max(flushes.maxMs, Number(s.durationMs));
    flushes.durations.push(Number(s.durationMs));
    if (s.queuedMs !== undefined) flushes.queued.push(Number(s.queuedMs));
  });
}

// Peaks of the JavaScript heap and of Buffer memory (ArrayBuffers) since the last `stats`, sampled at
// 10 Hz: with /proc's RSS (anonymous + file-backed) they say where a memory peak lives.
const newMemPeak = () => ({ heapUsed: 0, arrayBuffers: 0, external: 0, rss: 0, clickhouse: 0, merges: 0 });
let memPeak = newMemPeak();
// How late the main thread's event loop ran timers (10 ms resolution), so a phase shows whether
// the JavaScript side was what held requests up.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const sampleMemory = () => {
  const m = process.memoryUsage();
  memPeak.heapUsed = Math.max(memPeak.heapUsed, m.heapUsed);
  memPeak.arrayBuffers = Math.max(memPeak.arrayBuffers, m.arrayBuffers);
  memPeak.external = Math.max(memPeak.external, m.external);
  memPeak.rss = Math.max(memPeak.rss, m.rss);
};
setInterval(sampleMemory, 100).unref();

let sqlSession: ChdbSession | null = null;
async function sql(): Promise<ChdbSession> {
  if (sqlSession) return sqlSession;
  // chdb is a dependency of the storage package, not of the repository root.
  const require = createRequire(join(process.cwd(), 'packages/storage/package.json'));
  const mod = (await import(pathToFileURL(require.resolve('chdb')).href)) as {
    Session: new (path: string) => ChdbSession;
  };
  sqlSession = new mod.Session(opts.dir!);
  return sqlSession;
}

async function count(table: string): Promise<number> {
  const s = await sql();
  const r = await s.queryAsync(`SELECT count() FROM ${database}.\`${table}\``, { format: 'TabSeparated' });
  return Number(Buffer.from(r.bytes()).toString('latin1').trim());
}

const now = () => performance.timeOrigin + performance.now();

// ClickHouse's own account of its memory (system.metrics MemoryTracking: queries, inserts, merges,
// caches it tracks), sampled at 4 Hz through the second session.
if (opts.storage === 'chdb') {
  let busy = false;
  setInterval(() => {
    if (busy) return;
    busy = true;
    void sql()
      .then((s) =>
        s.queryAsync(
          "SELECT metric, value FROM system.metrics WHERE metric IN ('MemoryTracking', 'MergesMutationsMemoryTracking')",
          { format: 'TabSeparated' },
        ),
      )
      .then((r) => {
        for (const line of Buffer.from(r.bytes()).toString('latin1').trim().split('\n')) {
          const [metric, value] = line.split('\t');
          if (metric === 'MemoryTracking') memPeak.clickhouse = Math.max(memPeak.clickhouse, Number(value));
          else memPeak.merges = Math.max(memPeak.merges, Number(value));
        }
      })
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  }, 250).unref();
}

let inspector: InspectorSession | null = null;

interface CallFrame {
  url: string;
  lineNumber: number;
  columnNumber: number;
}

/**
 * tsx compiles each TypeScript file to one long line (with a source map): positions in a profile
 * point into that. Map every call frame back to its line in the .ts source.
 */
function mapToSources(profile: { nodes: { callFrame: CallFrame }[] }): void {
  const maps = new Map<string, ReturnType<typeof findSourceMap>>();
  for (const { callFrame: f } of profile.nodes) {
    if (!f.url.startsWith('file://') || !/\.[cm]?ts$/.test(f.url)) continue;
    if (!maps.has(f.url)) maps.set(f.url, findSourceMap(f.url));
    const entry = maps.get(f.url)?.findEntry(f.lineNumber, f.columnNumber) as
      | { originalLine?: number; originalColumn?: number }
      | undefined;
    if (entry?.originalLine !== undefined) {
      f.lineNumber = entry.originalLine;
      f.columnNumber = entry.originalColumn ?? 0;
    }
  }
}

process.on('message', (raw) => {
  const m = raw as { type: string; id?: number; [k: string]: unknown };
  const reply = (body: Record<string, unknown>) => send({ ...body, type: `${m.type}-reply`, id: m.id });
  void (async () => {
    try {
      switch (m.type) {
        case 'stats': {
          sampleMemory();
          const body = {
            produceMs,
            flushes: { ...flushes },
            resourceUsage: process.resourceUsage(),
            memoryUsage: process.memoryUsage(),
            memoryPeak: memPeak,
            tailCacheBytes: broker.context.topics.cache.size,
            eventLoopDelayMs: {
              p99: loopDelay.percentile(99) / 1e6,
              max: loopDelay.max / 1e6,
            },
          };
          loopDelay.reset();
          produceMs = [];
          flushes = newFlushAgg();
          memPeak = newMemPeak();
          reply(body);
          break;
        }
        case 'merges-settle': {
          // Latency at a given rate is measured with no merges left over from an earlier phase (a
          // burst leaves ClickHouse merging its parts for seconds, on the same two cores).
          const started = now();
          const deadline = started + Number(m.timeoutMs ?? 60_000);
          let quiet = 0;
          while (opts.storage === 'chdb' && quiet < 3 && now() < deadline) {
            const r = await (await sql()).queryAsync('SELECT count() FROM system.merges', {
              format: 'TabSeparated',
            });
            quiet = Buffer.from(r.bytes()).toString('utf8').trim() === '0' ? quiet + 1 : 0;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
          reply({ waitedMs: now() - started, settled: quiet >= 3 || opts.storage !== 'chdb' });
          break;
        }
        case 'sql-count': {
          reply({ count: await count(String(m.table)) });
          break;
        }
        case 'sql': {
          const r = await (await sql()).queryAsync(String(m.sql), { format: 'TabSeparated' });
          reply({ text: Buffer.from(r.bytes()).toString('utf8') });
          break;
        }
        case 'sql-watch': {
          // Poll until the table holds `target` rows; say when it was first seen.
          const target = Number(m.target);
          const deadline = now() + Number(m.timeoutMs ?? 10_000);
          let polls = 0;
          await count(String(m.table)); // the session is open before the harness produces
          reply({ watching: true, phase: 'armed' });
          for (;;) {
            const c = await count(String(m.table));
            polls++;
            if (c >= target) {
              reply({ seenAt: now(), polls, count: c, phase: 'seen' });
              break;
            }
            if (now() > deadline) {
              reply({ seenAt: null, polls, count: c, phase: 'seen' });
              break;
            }
          }
          break;
        }
        case 'tail-start': {
          const topic = broker.context.topics.get(String(m.topic));
          reply({ offsets: topic ? topic.logs.map((l) => l.tail[0]?.baseOffset ?? l.highWatermark) : [] });
          break;
        }
        case 'profile-start': {
          if (!inspector) {
            inspector = new InspectorSession();
            inspector.connect();
            await inspector.post('Profiler.enable');
            await inspector.post('Profiler.setSamplingInterval', { interval: 500 });
          }
          await inspector.post('Profiler.start');
          reply({ started: true });
          break;
        }
        case 'profile-stop': {
          const { profile } = await inspector!.post('Profiler.stop');
          mapToSources(profile as unknown as { nodes: { callFrame: CallFrame }[] });
          writeFileSync(String(m.file), JSON.stringify(profile));
          reply({ written: String(m.file) });
          break;
        }
        case 'close': {
          sqlSession?.close();
          await broker.close();
          reply({ closed: true });
          // A normal exit: --cpu-prof writes the profile now.
          setTimeout(() => process.exit(0), 50);
          break;
        }
        default:
          reply({ error: `unknown message ${m.type}` });
      }
    } catch (e) {
      reply({ error: (e as Error).stack ?? String(e) });
    }
  })();
});

// The harness went away (Ctrl-C, crash): do not linger as an orphan.
process.on('disconnect', () => process.exit(0));
// A clean stop, as the `cluster` group's failover measures it: close() releases this broker's
// partitions before the process ends (node's default on SIGTERM would end it as abruptly as SIGKILL).
process.once('SIGTERM', () => {
  void broker
    .close()
    .catch(() => undefined)
    .then(() => process.exit(0));
});

for (const u of opts.scramUsers ?? []) {
  await broker.context.security.store.putScramCredential(
    await scramCredential(u.user, u.mechanism, u.password, 4096),
  );
}
// Configured listeners bind where they say (listen() refuses a host and port beside them).
const { port } = await (broker.context.config.listeners.length > 0
  ? broker.listen()
  : broker.listen({ host: '127.0.0.1', port: 0 }));
const listeners = Object.fromEntries([...broker.boundListeners].map(([name, l]) => [name, l.port]));
send({ type: 'ready', port, pid: process.pid, listeners });
