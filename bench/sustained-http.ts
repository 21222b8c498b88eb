/**
 * The `sustained-http` group: the two sustained runs (steady, then full speed, 1 KiB librdkafka
 * records) with the broker on a ClickHouse in another process (`clickhouseStorage({ url })` against
 * the HTTP stand-in over chdb, ./lib/clickhouse-http.ts), so that the broker's RSS is Node's alone
 * and the target "broker RSS ≤ tail cache budget + 200 MiB over the run" can be checked. The broker's
 * RSS is sampled from /proc every second (max and median over the run) and its peak read from VmHWM;
 * the ClickHouse process's peak is given beside it, not counted. The broker runs the packages' built
 * code, as `kch broker` does (`pnpm build` first), so that tsx's compiled sources are not counted.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BrokerProcess, ROOT } from './lib/children.js';
import { startClickHouseHttp } from './lib/clickhouse-http.js';
import type { Bench } from './lib/context.js';
import { memoryStatus } from './lib/proc.js';
import { createTopic, endOffsets, RawClient } from './lib/raw-client.js';
import type { SustainedHttpRun } from './lib/results.js';
import { MiB, percentiles, si } from './lib/stats.js';
import { sum } from './suites.js';

export async function sustainedHttpGroup(
  bench: Bench,
  seconds: number,
  steadyRate: number,
  partitions: number,
): Promise<{ seconds: number; rssLimitMiB: number; runs: SustainedHttpRun[] }> {
  const { log, plan, results } = bench;
  for (const pkg of ['broker', 'storage', 'protocol'])
    if (!existsSync(join(ROOT, 'packages', pkg, 'dist', 'index.js')))
      throw new Error(
        `sustained-http runs the built broker and packages/${pkg}/dist is missing: run \`npx -y pnpm@10.34.8 build\` first`,
      );
  const size = 1024;
  const rssLimitMiB = plan.tailCacheBytes / MiB + 200;
  const runs: SustainedHttpRun[] = [];
  for (const rate of [steadyRate, 0]) {
    const label = rate ? `steady at ${si(rate)} rec/s` : 'full speed';
    const name = rate ? 'steady' : 'full';
    log(
      `sustained-http: ${seconds} s of librdkafka ${label}, ClickHouse over HTTP in its own process, ${size} B`,
    );
    const ch = await startClickHouseHttp();
    const b = await BrokerProcess.start({
      storage: 'clickhouse',
      url: ch.url,
      database: 'kafka',
      tailCacheBytes: plan.tailCacheBytes,
      built: true,
    });
    const admin = await RawClient.connect('127.0.0.1', b.port);
    try {
      await createTopic(admin, 'sustained', partitions);
      const idleRssMiB = memoryStatus(b.pid)?.rssMiB ?? null;
      const r = await bench.phase(
        b,
        `sustained-http-${name}-1024B`,
        () =>
          bench.rdkafka({
            mode: 'produce',
            bootstrap: `127.0.0.1:${b.port}`,
            topic: 'sustained',
            size,
            pool: bench.pool(size),
            count: 0,
            rate,
            duration: seconds,
            sample_every: rate ? 8 : 64,
          }),
        { timeline: true },
      );
      const o = r.value;
      const samples = (r.broker.rssTimeline ?? []).map((s) => s.rssMiB);
      const rss = percentiles(samples);
      const rssMaxMiB = samples.length ? Math.max(...samples) : null;
      const peakRssMiB = r.broker.peakRssMiB;
      const run: SustainedHttpRun = {
        label,
        rate: rate || null,
        records: o.records,
        storedRecords: sum(await endOffsets(admin, 'sustained', partitions)),
        recordsPerSec: Math.round(o.records / o.seconds),
        errors: (o.errors ?? 0) + (o.unflushed ?? 0),
        ackMs: percentiles(o.latencies_ms ?? []),
        idleRssMiB,
        rssMaxMiB,
        rssP50MiB: rss?.p50 ?? null,
        peakRssMiB,
        clickhousePeakRssMiB: memoryStatus(ch.pid)?.hwmMiB ?? null,
        withinTarget: peakRssMiB === null ? null : Math.max(peakRssMiB, rssMaxMiB ?? 0) <= rssLimitMiB,
      };
      log(
        `    ${label}: ${si(run.recordsPerSec)} rec/s, ack p50 ${run.ackMs?.p50} p99 ${run.ackMs?.p99} ms; broker RSS idle ${idleRssMiB}, p50 ${run.rssP50MiB}, max ${rssMaxMiB} (VmHWM ${peakRssMiB}) MiB against ${rssLimitMiB} MiB: ${run.withinTarget ? 'within' : 'OVER'}; ClickHouse process peak ${run.clickhousePeakRssMiB} MiB${run.errors ? `; ${run.errors} ERRORS ${o.error ?? ''}` : ''}`,
      );
      if (run.errors)
        results.errors.push(`sustained-http ${label}: ${run.errors} records failed: ${o.error}`);
      runs.push(run);
    } catch (e) {
      results.errors.push(`sustained-http ${label}: ${(e as Error).stack ?? e}\n${b.lastStderr}`);
    } finally {
      admin.close();
      await b.close();
      await ch.stop();
    }
  }
  return { seconds, rssLimitMiB, runs };
}
