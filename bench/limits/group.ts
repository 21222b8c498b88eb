/**
 * The `limits` group: what this machine does with no Kafka in between, per value size and payload. A raw TCP
 * loopback transfer of the same record batches (bench/limits/tcp.ts, sink and source in two
 * processes), and direct inserts into embedded ClickHouse in the storage's own format, the storage
 * layer without a broker and its read path (bench/limits/direct-insert.ts). Each broker figure of the
 * run is also given as a ratio to these.
 */
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { type ClientOut, nodeArgs, runJson } from '../lib/children.js';
import type { Bench } from '../lib/context.js';
import { type Payload, payloadKey, valuesName } from '../lib/payloads.js';
import { MiB, si } from '../lib/stats.js';
import { addLimitSample } from './spread.js';

/** The limits of one value size, per payload (--payloads): TCP loopback, then direct insert. */
export async function limits(bench: Bench, size: number): Promise<void> {
  for (const payload of bench.args.payloads) {
    bench.log(`limits, ${valuesName(size, payload)} values`);
    await tcpLimit(bench, size, payload);
    await directInsert(bench, size, payload);
  }
}

async function tcpLimit(bench: Bench, size: number, payload: Payload): Promise<void> {
  const { args, plan, results, log, pool } = bench;
  const key = payloadKey(size, payload);
  // TCP loopback: sink and source in two processes.
  try {
    const sinkOut = new Promise<{ port: number; done: Promise<Record<string, number>> }>(
      (resolve, reject) => {
        let portSeen = false;
        const done = runJson<Record<string, number>>(
          process.execPath,
          nodeArgs('bench/limits/tcp.ts', { mode: 'sink' }),
          plan.timeoutMs,
          (child) => {
            let buf = '';
            child.stdout!.on('data', (c: Buffer) => {
              buf += c.toString();
              const m = /\{"port":(\d+)\}/.exec(buf);
              if (m && !portSeen) {
                portSeen = true;
                resolve({ port: Number(m[1]), done: done.then((r) => r.result) });
              }
            });
          },
        );
        done.catch(reject);
      },
    );
    const sink = await sinkOut;
    const src = await runJson<ClientOut>(
      process.execPath,
      nodeArgs('bench/limits/tcp.ts', {
        mode: 'source',
        port: sink.port,
        pool: pool(size, payload),
        size,
        count: plan.count(size),
        partitions: args.partitions,
      }),
      plan.timeoutMs,
    );
    const sinkResult = await sink.done;
    const o = src.result;
    results.limits.tcp[key] = {
      records: o.records,
      bytes: o.bytes,
      seconds: o.seconds,
      recordsPerSec: Math.round(o.records / o.seconds),
      valueMiBPerSec: Math.round(((o.records * size) / MiB / o.seconds) * 10) / 10,
      wireMiBPerSec: Math.round((o.bytes / MiB / o.seconds) * 10) / 10,
      sourceCpuSeconds: o.cpu_seconds,
      sinkCpuSeconds: sinkResult.cpu_seconds,
      loadavg1: Math.round(loadavg()[0]! * 100) / 100,
    };
    log(
      `    TCP loopback: ${si(o.records / o.seconds)} rec/s, ${(o.bytes / MiB / o.seconds).toFixed(0)} MiB/s of batches`,
    );
  } catch (e) {
    results.errors.push(`tcp limit ${key}: ${(e as Error).message}`);
  }
}

/**
 * Direct insert into embedded ClickHouse, storage.append, read path; the latency of one insert by its
 * size only with printable values (it hardly depends on them).
 */
async function directInsert(bench: Bench, size: number, payload: Payload): Promise<void> {
  const { args, plan, results, log, pool } = bench;
  const key = payloadKey(size, payload);
  const dir = bench.newDataDir();
  try {
    const r = await runJson<Record<string, any>>(
      process.execPath,
      nodeArgs('bench/limits/direct-insert.ts', {
        dir,
        size,
        pool: pool(size, payload),
        count: plan.count(size),
        partitions: args.partitions,
        insertSizes: plan.insertSizes,
        storageAppend: true,
        read: true,
        ...(payload === 'printable'
          ? { latencyCurve: { rows: [1, 100, 1000, 10_000, 50_000], reps: args.quick ? 5 : 15 } }
          : {}),
      }),
      plan.timeoutMs,
    );
    results.limits.direct[key] = { ...r.result, loadavg1: Math.round(loadavg()[0]! * 100) / 100 };
    if (r.result.clickhouseVersion) results.meta.clickhouse = r.result.clickhouseVersion;
    const l = r.result.limit;
    addLimitSample(results, key, 'sweep', null, l); // the first of the run's samples (spread.ts)
    log(
      `    direct insert: ${si(l.recordsPerSec)} rec/s, ${l.valueMiBPerSec.toFixed(1)} MiB/s (inserts of ${(l.insertTargetBytes / MiB).toFixed(0)} MiB)` +
        (r.result.storageAppend ? `; storage.append ${si(r.result.storageAppend.recordsPerSec)} rec/s` : '') +
        (r.result.read ? `; read ${si(r.result.read.recordsPerSec)} rec/s` : ''),
    );
  } catch (e) {
    results.errors.push(`direct insert ${key}: ${(e as Error).message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
