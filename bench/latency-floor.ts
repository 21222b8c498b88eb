/**
 * The `latency` group's floor scenario: acks=all latency at fixed moderate rates, through the broker
 * on embedded ClickHouse and, beside it, a bare insert of the same rows at the same rate with no
 * broker (bench/limits/floor-insert.ts), so the broker's p99 reads against what the storage needs.
 *
 * Per record size and payload (--sizes, --payloads), one chdb broker; per rate (1k, 10k and 50k
 * records/s; --quick: 10k, the first size only), the bare insert first (its own process and data
 * directory), then librdkafka at that rate into a topic of its own once the broker's merges settled.
 * The producer is librdkafka as in the "half" phases: it paces produce() calls itself and its
 * delivery reports carry each message's own ack latency (msg.latency()).
 */
import { rmSync } from 'node:fs';
import { nodeArgs, runJson } from './lib/children.js';
import type { Bench } from './lib/context.js';
import { valuesName } from './lib/payloads.js';
import { createTopic, endOffsets, RawClient } from './lib/raw-client.js';
import type { FloorInsert, LatencyFloorRun } from './lib/results.js';
import { percentiles } from './lib/stats.js';
import { sum } from './suites.js';

/** The bench producer's linger.ms (bench/clients/rdkafka.py's default): a bare insert's interval. */
const CLIENT_LINGER_MS = 5;

export async function latencyFloorGroup(bench: Bench): Promise<void> {
  const { args, results, log, startBroker, phase, rdkafka, pool, newDataDir } = bench;
  const rates = args.quick ? [10_000] : [1_000, 10_000, 50_000];
  const sizes = args.quick ? args.sizes.slice(0, 1) : args.sizes;
  const seconds = bench.plan.halfSeconds; // as long as the "half" phases: 10 s, 2 s with --quick
  const P = args.partitions;
  if (!args.storages.includes('chdb')) {
    log('latency against its floor: skipped (chdb only, and --storages leaves it out)');
    return;
  }
  const runs: LatencyFloorRun[] = [];
  results.latencyFloor = runs;
  for (const size of sizes) {
    for (const payload of args.payloads) {
      const name = valuesName(size, payload);
      const tag = `chdb-${size}B${payload === 'printable' ? '' : `-${payload}`}`;
      log(`latency against its floor: chdb, ${name} values, ${rates.join(', ')} rec/s for ${seconds} s each`);
      const valuePool = pool(size, payload);
      const dir = newDataDir();
      const { b } = await startBroker('chdb', `broker-floor-${tag}`, dir);
      const admin = await RawClient.connect('127.0.0.1', b.port);
      try {
        for (const rate of rates) {
          const bare = await bareInsert(bench, { size, pool: valuePool, rate, seconds, partitions: P });
          const topic = `floor-${rate}`;
          await createTopic(admin, topic, P);
          await b.call('merges-settle', { timeoutMs: 60_000 });
          const r = await phase(b, `latency-floor-rdkafka-${tag}-${rate}`, () =>
            rdkafka({
              mode: 'produce',
              bootstrap: `127.0.0.1:${b.port}`,
              topic,
              size,
              pool: valuePool,
              rate,
              duration: seconds,
              linger_ms: CLIENT_LINGER_MS,
              // Thousands of samples at every rate, every record at the lowest.
              sample_every: Math.max(1, Math.round(rate / 5000)),
            }),
          );
          const o = r.value;
          const stored = sum(await endOffsets(admin, topic, P));
          const errors = (o.errors ?? 0) + (o.unflushed ?? 0) + Math.abs(o.records - stored);
          const ackMs = percentiles(o.latencies_ms ?? []);
          const run: LatencyFloorRun = {
            size,
            ...(payload === 'printable' ? {} : { payload }),
            rate,
            seconds,
            clientLingerMs: CLIENT_LINGER_MS,
            records: o.records,
            errors,
            ackMs,
            broker: r.broker,
            bare,
            ratioP99:
              ackMs && bare?.latencyMs?.p99 ? Math.round((ackMs.p99 / bare.latencyMs.p99) * 100) / 100 : null,
          };
          runs.push(run);
          logRun(bench, run);
          if (errors)
            results.errors.push(`latency floor ${name} at ${rate}/s: ${errors} records failed: ${o.error}`);
        }
      } catch (e) {
        results.errors.push(`latency floor ${name}: ${(e as Error).stack ?? e}\n${b.lastStderr}`);
        log(`    FAILED: ${(e as Error).message}`);
      } finally {
        admin.close();
        await b.close();
        if (!args.keep) rmSync(dir, { recursive: true, force: true });
      }
    }
  }
}

/** bench/limits/floor-insert.ts on a data directory of its own (removed after, unless --keep). */
async function bareInsert(
  bench: Bench,
  o: { size: number; pool: string; rate: number; seconds: number; partitions: number },
): Promise<FloorInsert | null> {
  const dir = bench.newDataDir();
  try {
    const r = await runJson<FloorInsert>(
      process.execPath,
      nodeArgs('bench/limits/floor-insert.ts', { ...o, dir, tickMs: CLIENT_LINGER_MS }),
      bench.plan.timeoutMs,
    );
    return r.result;
  } catch (e) {
    bench.results.errors.push(`bare insert at ${o.rate}/s of ${o.size} B: ${(e as Error).message}`);
    return null;
  } finally {
    if (!bench.args.keep) rmSync(dir, { recursive: true, force: true });
  }
}

function logRun(bench: Bench, r: LatencyFloorRun): void {
  const { broker: c, bare: b, ackMs: a } = r;
  const ins = c.inserts;
  bench.log(
    `    ${valuesName(r.size, r.payload)} at ${r.rate} rec/s: ack p50 ${a?.p50} p99 ${a?.p99} p999 ${a?.p999} ms; ` +
      `bare insert p50 ${b?.latencyMs?.p50} p99 ${b?.latencyMs?.p99} ms; ack p99 ÷ bare p99 ${r.ratioP99 ?? '–'}` +
      `\n      broker: Produce p99 ${c.produceRequestMs?.p99} ms, ${ins?.count} inserts × ${ins?.avgRows} rows, insert p50 ${ins?.ms?.p50} p99 ${ins?.ms?.p99}, queued p99 ${ins?.queuedMs?.p99}, event loop p99 ${c.eventLoopDelayMs.p99} ms, load ${c.loadavg1}` +
      `\n      bare:   ${b?.inserts} inserts × ${Math.round(b?.rowsPerInsert ?? 0)} rows, insert p50 ${b?.insertMs?.p50} p99 ${b?.insertMs?.p99}, queued p99 ${b?.queuedMs?.p99}, timer late p99 ${b?.timerLateMs?.p99} ms`,
  );
}
