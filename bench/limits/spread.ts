/**
 * The direct-insert limit, measured more than once (issue 19 point 4). One measurement moved with the
 * load of a shared machine (156k and 264k records/s of 1 KiB an hour apart, the broker's own figure
 * steady), so a broker phase's "% of limit" said more about when the limit ran than about the broker.
 * Now the limit is measured again right before and right after each full-speed chdb produce phase it
 * is compared with; the ratio uses the median of every sample of those values in the run, and beside
 * it the report gives the ratio of CPU per record (broker ÷ direct insert), which load hardly moves.
 */
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { type BrokerProcess, nodeArgs, runJson } from '../lib/children.js';
import type { Bench } from '../lib/context.js';
import { machineBusySeconds } from '../lib/machine.js';
import { type Payload, payloadKey, valuesName } from '../lib/payloads.js';
import type { LimitSample, LimitSpread, Results, Spread } from '../lib/results.js';
import { median, round2, si } from '../lib/stats.js';

const round3 = (x: number) => Math.round(x * 1000) / 1000;

function spreadOf(results: Results, key: string): LimitSpread {
  results.limitSpread ??= {};
  results.limitSpread[key] ??= { samples: [], brackets: [], recordsPerSec: null, cpuMicrosPerRecord: null };
  return results.limitSpread[key];
}

/** Keeps one limit figure of direct-insert.ts (an entry of its `limits`) as a sample of `key`. */
export function addLimitSample(
  results: Results,
  key: string,
  when: LimitSample['when'],
  phase: string | null,
  fig: Record<string, number>,
): LimitSample {
  const sample: LimitSample = {
    when,
    phase,
    at: new Date().toISOString(),
    insertTargetBytes: fig.insertTargetBytes!,
    records: Math.round(fig.recordsPerSec! * fig.seconds!),
    seconds: round3(fig.seconds!),
    recordsPerSec: Math.round(fig.recordsPerSec!),
    valueMiBPerSec: Math.round(fig.valueMiBPerSec! * 10) / 10,
    cpuSeconds: round3(fig.cpuSeconds!),
    cpuMicrosPerRecord: round2((fig.cpuSeconds! / (fig.recordsPerSec! * fig.seconds!)) * 1e6),
    otherCores: fig.otherCores === undefined ? null : round2(fig.otherCores),
    loadavg1: round2(loadavg()[0]!),
  };
  spreadOf(results, key).samples.push(sample);
  return sample;
}

/** direct-insert.ts for its limit alone, at the insert size the sweep found best, on a new directory. */
async function measureLimit(
  bench: Bench,
  size: number,
  payload: Payload,
  when: 'before' | 'after',
  phase: string,
  insertTargetBytes: number,
): Promise<LimitSample | null> {
  const key = payloadKey(size, payload);
  const dir = bench.newDataDir();
  try {
    const r = await runJson<{ limit: Record<string, number> }>(
      process.execPath,
      nodeArgs('bench/limits/direct-insert.ts', {
        dir,
        size,
        pool: bench.pool(size, payload),
        count: bench.plan.count(size),
        partitions: bench.args.partitions,
        insertSizes: [insertTargetBytes],
        limitOnly: true,
      }),
      bench.plan.timeoutMs,
    );
    const s = addLimitSample(bench.results, key, when, phase, r.result.limit);
    bench.log(
      `    direct-insert limit ${when}, ${valuesName(size, payload)}: ${si(s.recordsPerSec)} rec/s, ${s.cpuMicrosPerRecord} µs CPU per record, other work ${s.otherCores} cores`,
    );
    return s;
  } catch (e) {
    bench.results.errors.push(`direct insert ${key} ${when} ${phase}: ${(e as Error).message}`);
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs a full-speed produce phase between two measurements of the direct-insert limit of its values,
 * when there is a limit to compare with (chdb, and the limits group ran for these values). --quick
 * measures after the rdkafka phase alone: the limits group's sweep, just before it, is its "before".
 */
export async function bracketLimit<T>(
  bench: Bench,
  b: BrokerProcess,
  v: { storage: 'memory' | 'chdb'; size: number; payload: Payload },
  client: 'rdkafka' | 'kafkajs',
  phase: string,
  run: () => Promise<T>,
): Promise<T> {
  const key = payloadKey(v.size, v.payload);
  const sweep = bench.results.limits.direct[key]?.limit as { insertTargetBytes: number } | undefined;
  const quick = bench.args.quick;
  if (v.storage !== 'chdb' || !sweep || (quick && client !== 'rdkafka')) return run();
  const target = sweep.insertTargetBytes;
  const before = quick ? null : await measureLimit(bench, v.size, v.payload, 'before', phase, target);
  const m0 = machineBusySeconds();
  const t0 = performance.now();
  const value = await run();
  const machineCores = round2((machineBusySeconds() - m0) / ((performance.now() - t0) / 1000));
  // The merges the burst left are the broker's own work, not load the phase saw: the limit after waits for them.
  await b.call('merges-settle', { timeoutMs: 60_000 }).catch(() => undefined);
  const after = await measureLimit(bench, v.size, v.payload, 'after', phase, target);
  spreadOf(bench.results, key).brackets.push({
    client,
    phase,
    before: before?.recordsPerSec ?? null,
    after: after?.recordsPerSec ?? null,
    machineCores,
  });
  return value;
}

function spread(xs: number[]): Spread | null {
  const mid = median(xs);
  if (mid === null) return null;
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  return { n: xs.length, min, median: mid, max, maxOverMin: min > 0 ? round2(max / min) : 0 };
}

/**
 * At the end of a run: each limit's spread, and every chdb produce result's ratios against the
 * medians (the throughput ratio of every phase; the CPU per record ratio of full-speed ones).
 */
export function applyLimitSpread(results: Results): void {
  for (const s of Object.values(results.limitSpread ?? {})) {
    s.recordsPerSec = spread(s.samples.map((x) => x.recordsPerSec));
    s.cpuMicrosPerRecord = spread(s.samples.map((x) => x.cpuMicrosPerRecord));
  }
  const sustained = results.sustained?.runs.map((r) => r.result) ?? [];
  for (const p of [...results.produce, ...sustained]) {
    const s = results.limitSpread?.[payloadKey(p.size, p.payload)];
    if (p.storage !== 'chdb' || !s?.recordsPerSec) continue;
    p.ratioToDirectInsert = round3(p.recordsPerSec / s.recordsPerSec.median);
    const cpu = p.broker.cpuMicrosPerRecord;
    if (p.mode === 'max' && s.cpuMicrosPerRecord)
      p.cpuPerRecordVsDirect = cpu ? round2(cpu / s.cpuMicrosPerRecord.median) : null;
  }
}
