/**
 * What a bench group in a module of its own (bench/limits/group.ts, bench/suites.ts, bench/security.ts) gets from the
 * harness, bench/run.ts: the run's options, plan and results, and the harness's way of starting a
 * broker, measuring a phase and running a client, so every group measures the same way.
 */
import type { Args } from '../args.js';
import type { BrokerProcess, BrokerStart, ClientOut } from './children.js';
import type { Payload } from './payloads.js';
import type { BrokerCost, Results } from './results.js';

/** How much each scenario does (--quick or not); run.ts's `plan` has more. */
export interface Plan {
  count(size: number): number;
  kafkajsCount(size: number): number;
  halfSeconds: number;
  e2eRate: number;
  e2eSeconds: number;
  sqlProbes: number;
  insertSizes: number[];
  tailCacheBytes: number;
  timeoutMs: number;
}

export interface Bench {
  args: Args;
  plan: Plan;
  results: Results;
  log(line: string): void;
  /** The file of values of `size` bytes (printable unless `payload` says) that every client and limit sends. */
  pool(size: number, payload?: Payload): string;
  /** A data directory removed at the end of the run (unless --keep). */
  newDataDir(): string;
  startBroker(
    storage: 'memory' | 'chdb',
    name: string,
    dir?: string,
    more?: Pick<BrokerStart, 'tailCacheBytes' | 'broker' | 'scramUsers'>,
  ): Promise<{ b: BrokerProcess; idleRssMiB: number | null }>;
  /** Runs `fn` while measuring the broker process (CPU from /proc, peak RSS, its own stats). */
  phase<T extends { records?: number }>(
    b: BrokerProcess,
    name: string,
    fn: () => Promise<T>,
    opts?: { timeline?: boolean; records?: (v: T) => number },
  ): Promise<{ value: T; broker: BrokerCost }>;
  /** bench/clients/rdkafka.py with these options. */
  rdkafka(opts: Record<string, unknown>): Promise<ClientOut>;
  /** bench/clients/kafkajs.ts with these options. */
  kafkajs(opts: Record<string, unknown>): Promise<ClientOut>;
  /** bench/clients/fetcher.ts (a Fetch loop that counts records) with these options. */
  fetcher(opts: Record<string, unknown>): Promise<ClientOut>;
}
