/**
 * What a bench group in a module of its own (bench/limits/group.ts, bench/security.ts) gets from the
 * harness, bench/run.ts: the run's options, plan and results, and the harness's way of starting a
 * broker, measuring a phase and running a client, so every group measures the same way.
 */
import type { Args } from '../args.js';
import type { BrokerProcess, BrokerStart, ClientOut } from './children.js';
import type { BrokerCost, Results } from './results.js';

/** How much each scenario does (--quick or not); run.ts's `plan` has more. */
export interface Plan {
  count(size: number): number;
  insertSizes: number[];
  binaryLimit: boolean;
  tailCacheBytes: number;
  timeoutMs: number;
}

export interface Bench {
  args: Args;
  plan: Plan;
  results: Results;
  log(line: string): void;
  /** The file of values of `size` bytes that every client and limit sends. */
  pool(size: number, binary?: boolean): string;
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
  ): Promise<{ value: T; broker: BrokerCost }>;
  /** bench/clients/rdkafka.py with these options. */
  rdkafka(opts: Record<string, unknown>): Promise<ClientOut>;
}
