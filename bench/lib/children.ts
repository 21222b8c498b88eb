/**
 * Child processes of the harness: the broker under test (with an IPC channel), clients and limit
 * probes that print one JSON line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientCost } from './results.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PYTHON = '/usr/bin/python3';

/**
 * node with tsx and the `source` condition, so children run the TypeScript sources; `built`: without
 * the condition, so the @kch packages resolve to their built code (dist), as `kch broker` runs them.
 */
export function nodeArgs(script: string, json: unknown, extra: string[] = [], built = false): string[] {
  const conditions = built ? [] : ['--conditions=source'];
  return ['--import', 'tsx', ...conditions, ...extra, join(ROOT, script), JSON.stringify(json)];
}

export interface JsonRun<T> {
  result: T;
  pid: number;
}

/** Runs a command to completion; resolves with the last JSON line it printed. */
export function runJson<T = Record<string, unknown>>(
  cmd: string,
  args: string[],
  timeoutMs: number,
  onSpawn?: (child: ChildProcess) => void,
): Promise<JsonRun<T>> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn?.(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out
        .trim()
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{'));
      if (code !== 0 || !line) {
        reject(
          new Error(
            `${cmd} ${args.slice(-2).join(' ').slice(0, 300)} ended with ${signal ?? code}: ${err.slice(-2000)}${out.slice(-500)}`,
          ),
        );
        return;
      }
      try {
        resolve({ result: JSON.parse(line) as T, pid: child.pid ?? 0 });
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** The JSON line a client (bench/clients/*) or a limit probe prints. */
export interface ClientOut {
  records: number;
  bytes: number;
  seconds: number;
  errors?: number;
  error?: string | null;
  unflushed?: number;
  latencies_ms?: number[];
  cpu_seconds?: number;
  /** rdkafka.py: CPU seconds from the start of the clock to the end (no start-up, no connecting). */
  timed_cpu_seconds?: number;
  max_rss_mib?: number;
  librdkafka?: string;
  expected?: number;
  /** rdkafka.py's watermarks mode: each partition's low and high watermark. */
  low?: number[];
  high?: number[];
}

export function clientCost(o: ClientOut): ClientCost {
  return {
    cpuSeconds: o.cpu_seconds ?? null,
    cores:
      o.cpu_seconds !== undefined && o.seconds > 0
        ? Math.round((o.cpu_seconds / o.seconds) * 100) / 100
        : null,
    maxRssMiB: o.max_rss_mib ?? null,
  };
}

/** Group-commit inserts of a phase, as the broker child sums them (ClickHouseStorage.onFlush). */
export interface FlushAgg {
  inserts: number;
  rows: number;
  bytes: number;
  ms: number;
  maxMs: number;
  appends: number;
  durations: number[];
  /** How long each insert's oldest rows waited before it started (FlushStats.queuedMs). */
  queued: number[];
}

export interface BrokerStats {
  produceMs: number[];
  flushes: FlushAgg;
  resourceUsage: NodeJS.ResourceUsage;
  memoryUsage: NodeJS.MemoryUsage;
  memoryPeak: {
    heapUsed: number;
    arrayBuffers: number;
    external: number;
    rss: number;
    /** ClickHouse MemoryTracking and the part of it merges use (chdb only). */
    clickhouse: number;
    merges: number;
  };
  tailCacheBytes: number;
  /** The main thread's event loop delay (timers run late by this much; 10 ms resolution included). */
  eventLoopDelayMs: { p99: number; max: number };
}

export interface BrokerStart {
  /** `clickhouse`: a ClickHouse server's HTTP interface at `url` (the `cluster` group's shared one). */
  storage: 'memory' | 'chdb' | 'clickhouse';
  dir?: string;
  url?: string;
  /** The storage's database (default `kafka`): the `cluster` group gives every setup a fresh one. */
  database?: string;
  tailCacheBytes?: number;
  /** Runs the child under `node --cpu-prof`, the profile written to `dir/name.cpuprofile` on exit. */
  cpuProf?: { dir: string; name: string };
  /**
   * Runs the packages' built code (`pnpm build` first), not the sources compiled by tsx: a broker's
   * memory as `kch broker` has it (tsx's compiled sources take ~70 MiB of RSS of their own).
   */
  built?: boolean;
  /** More createBroker options (JSON): `listeners` and `sasl` for the security group. */
  broker?: Record<string, unknown>;
  /** SCRAM users the child stores before it is ready. */
  scramUsers?: { user: string; password: string; mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512' }[];
}

/** The broker under test, in its own process (bench/broker-child.ts). */
export class BrokerProcess {
  private nextId = 0;
  private readonly waiters = new Map<string, (m: Record<string, unknown>) => void>();
  private stderr = '';
  readonly exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    /** Port of each listener, by name (one PLAINTEXT listener unless `broker.listeners` said more). */
    readonly listeners: Record<string, number>,
  ) {
    child.on('message', (raw) => {
      const m = raw as Record<string, unknown>;
      const k = `${m.id}:${m.phase ?? ''}`;
      const w = this.waiters.get(k) ?? this.waiters.get(`${m.id}:`);
      if (w) {
        this.waiters.delete(this.waiters.has(k) ? k : `${m.id}:`);
        w(m);
      }
    });
    child.stderr?.on('data', (c: Buffer) => {
      this.stderr = (this.stderr + c.toString()).slice(-4000);
    });
    this.exited = new Promise((r) => child.on('exit', (code) => r(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  static start(opts: BrokerStart): Promise<BrokerProcess> {
    const prof = opts.cpuProf
      ? [
          '--cpu-prof',
          '--cpu-prof-dir',
          opts.cpuProf.dir,
          '--cpu-prof-name',
          `${opts.cpuProf.name}.cpuprofile`,
        ]
      : [];
    const child = spawn(
      process.execPath,
      nodeArgs(
        'bench/broker-child.ts',
        {
          storage: opts.storage,
          dir: opts.dir,
          url: opts.url,
          database: opts.database,
          tailCacheBytes: opts.tailCacheBytes,
          broker: opts.broker,
          scramUsers: opts.scramUsers,
        },
        prof,
        opts.built,
      ),
      { cwd: ROOT, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] },
    );
    return new Promise((resolve, reject) => {
      let err = '';
      child.stderr!.on('data', (c: Buffer) => {
        err += c.toString();
      });
      child.once('message', (m) => {
        const msg = m as { type: string; port: number; listeners: Record<string, number> };
        if (msg.type === 'ready') resolve(new BrokerProcess(child, msg.port, msg.listeners));
        else reject(new Error(`unexpected first message ${JSON.stringify(m)}`));
      });
      child.once('exit', (code) => reject(new Error(`broker child exited with ${code}: ${err}`)));
    });
  }

  /** Sends a request; resolves with the reply (of `phase`, when the child answers in phases). */
  request<T = Record<string, unknown>>(
    type: string,
    body: Record<string, unknown> = {},
    phases: string[] = [''],
  ): Promise<T>[] {
    const id = ++this.nextId;
    const replies = phases.map(
      (phase) =>
        new Promise<T>((resolve, reject) => {
          this.waiters.set(`${id}:${phase}`, (m) => {
            if (m.error) reject(new Error(`broker child: ${String(m.error)}`));
            else resolve(m as T);
          });
        }),
    );
    this.child.send({ ...body, type, id });
    return replies;
  }

  async call<T = Record<string, unknown>>(type: string, body: Record<string, unknown> = {}): Promise<T> {
    return (await this.request<T>(type, body)[0])!;
  }

  stats(): Promise<BrokerStats> {
    return this.call<BrokerStats>('stats');
  }

  /** Closes the broker and waits for the process to exit (which writes a --cpu-prof profile). */
  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 60_000);
    try {
      await this.call('close');
    } catch {
      // the exit below tells
    }
    await this.exited;
    clearTimeout(timer);
  }

  get lastStderr(): string {
    return this.stderr;
  }
}
