/**
 * The `rdkafka` and `kafkajs` groups (and `latency`, which runs inside the rdkafka suite): per storage,
 * value size and payload (--payloads), produce at full speed and at half of it, tail consume, cold
 * replay from ClickHouse after a restart (chdb), end-to-end latency and SQL visibility. The harness
 * (bench/run.ts) hands them its way of starting a broker and measuring a phase (bench/lib/context.ts).
 */
import { rmSync } from 'node:fs';
import { encodeRecordBatchSync } from '@kch/protocol';
import { type BrokerProcess, type ClientOut, clientCost } from './lib/children.js';
import type { Bench } from './lib/context.js';
import { type Payload, payloadKey, valuesName } from './lib/payloads.js';
import { createTopic, endOffsets, RawClient } from './lib/raw-client.js';
import type { BrokerCost, ConsumeResult, ProduceResult } from './lib/results.js';
import { MiB, percentiles, si } from './lib/stats.js';
import { bracketLimit } from './limits/spread.js';

/** Which values a result is of: its size and payload (printable results carry no payload field). */
export interface Values {
  storage: 'memory' | 'chdb';
  size: number;
  payload: Payload;
}

/** The payload as results.json holds it: only when not printable, so older files read the same. */
const payloadField = (payload: Payload) => (payload === 'printable' ? {} : { payload });

/** A produce phase's result, logged, with its ratios to this run's limits of the same values. */
export function produceResult(
  bench: Bench,
  client: 'rdkafka' | 'kafkajs',
  { storage, size, payload }: Values,
  mode: 'max' | 'half',
  targetRate: number | null,
  o: ClientOut,
  broker: BrokerCost,
  stored: number | null,
): ProduceResult {
  const { results, log } = bench;
  const key = payloadKey(size, payload);
  const rps = o.records / o.seconds;
  const direct = results.limits.direct[key]?.limit?.recordsPerSec ?? null;
  const tcp = results.limits.tcp[key]?.recordsPerSec ?? null;
  const r: ProduceResult = {
    client,
    storage,
    size,
    ...payloadField(payload),
    mode,
    targetRate,
    records: o.records,
    seconds: Math.round(o.seconds * 1000) / 1000,
    recordsPerSec: Math.round(rps),
    valueMiBPerSec: Math.round(((o.records * size) / MiB / o.seconds) * 10) / 10,
    storedRecords: stored,
    errors: (o.errors ?? 0) + (o.unflushed ?? 0),
    ackMs: percentiles(o.latencies_ms ?? []),
    ratioToDirectInsert: storage === 'chdb' && direct ? Math.round((rps / direct) * 1000) / 1000 : null,
    ratioToTcp: tcp ? Math.round((rps / tcp) * 1000) / 1000 : null,
    broker,
    clientCost: clientCost(o),
  };
  const what = `${client} -> ${storage} ${valuesName(size, payload)} ${mode}`;
  const lat = r.ackMs ? `ack p50 ${r.ackMs.p50} p99 ${r.ackMs.p99} p999 ${r.ackMs.p999} ms` : '';
  const ins = broker.inserts;
  const req = broker.produceRequestMs;
  const insertLine = ins
    ? `\n      broker Produce ms p50 ${req?.p50} p99 ${req?.p99}; ${ins.count} inserts × ${si(ins.avgRows)} rows, ms p50 ${ins.ms?.p50} p99 ${ins.ms?.p99}, queued before insert p50 ${ins.queuedMs?.p50} p99 ${ins.queuedMs?.p99}; event loop delay p99 ${broker.eventLoopDelayMs.p99} max ${broker.eventLoopDelayMs.max} ms`
    : '';
  log(
    `    ${what}: ${si(r.recordsPerSec)} rec/s, ${r.valueMiBPerSec} MiB/s, ${lat}; broker ${broker.cores} cores, peak RSS ${broker.peakRssMiB} MiB${r.errors ? `, ${r.errors} ERRORS ${o.error ?? ''}` : ''}${insertLine}`,
  );
  if (r.errors) results.errors.push(`${what}: ${r.errors} records failed: ${o.error}`);
  return r;
}

function consumeResult(
  bench: Bench,
  kind: 'tail' | 'cold',
  client: 'fetch' | 'rdkafka',
  { storage, size, payload }: Values,
  expected: number,
  o: ClientOut,
  broker: BrokerCost,
): ConsumeResult {
  const { results, log } = bench;
  const key = payloadKey(size, payload);
  const rps = o.records / o.seconds;
  const limit =
    kind === 'tail'
      ? (results.limits.tcp[key]?.recordsPerSec ?? null)
      : (results.limits.direct[key]?.read?.recordsPerSec ?? null);
  const r: ConsumeResult = {
    kind,
    client,
    storage,
    size,
    ...payloadField(payload),
    records: o.records,
    expected,
    seconds: Math.round(o.seconds * 1000) / 1000,
    recordsPerSec: Math.round(rps),
    valueMiBPerSec: Math.round(((o.records * size) / MiB / o.seconds) * 10) / 10,
    ratioToLimit: limit ? Math.round((rps / limit) * 1000) / 1000 : null,
    broker,
    clientCost: clientCost(o),
  };
  const what = `${kind} consume ${client} <- ${storage} ${valuesName(size, payload)}`;
  log(`    ${what}: ${si(r.recordsPerSec)} rec/s (${o.records}/${expected}), broker ${broker.cores} cores`);
  if (o.records < expected) results.errors.push(`${what}: ${o.records} of ${expected}`);
  return r;
}

export const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

// ------------------------------------------------------------------------------------ scenarios

/** Phase and broker names of some values: `chdb-1024B`, `chdb-1024B-binary` (printable's as before). */
const tagOf = ({ storage, size, payload }: Values) =>
  `${storage}-${size}B${payload === 'printable' ? '' : `-${payload}`}`;

/** A client suite's start: its values' pool, a data directory (chdb), a new broker and a raw client to it. */
async function startSuite(bench: Bench, client: 'librdkafka' | 'kafkajs', values: Values) {
  const { storage, size, payload } = values;
  bench.log(`${client}, ${storage} storage, ${valuesName(size, payload)} values`);
  const tag = tagOf(values);
  const dir = storage === 'chdb' ? bench.newDataDir() : undefined;
  const { b } = await bench.startBroker(
    storage,
    `broker-${client === 'kafkajs' ? 'kafkajs' : 'rdkafka'}-${tag}`,
    dir,
  );
  const admin = await RawClient.connect('127.0.0.1', b.port);
  return { tag, valuePool: bench.pool(size, payload), dir, b, admin };
}

/**
 * librdkafka against a new broker: produce at full speed, tail consume, produce at half speed, with
 * the first payload of the run also end-to-end latency and SQL visibility; then cold replay (chdb).
 */
export async function rdkafkaSuite(bench: Bench, values: Values): Promise<void> {
  const { args, plan, results, log, startBroker, phase, rdkafka, fetcher } = bench;
  const { storage, size, payload } = values;
  const P = args.partitions;
  const { tag, valuePool, dir, b, admin } = await startSuite(bench, 'librdkafka', values);
  const bootstrap = (port: number) => `127.0.0.1:${port}`;
  let produced = 0;
  try {
    await createTopic(admin, 'max', P);
    const count = plan.count(size);
    const maxPhase = `produce-max-rdkafka-${tag}`;
    const max = await bracketLimit(bench, b, values, 'rdkafka', maxPhase, () =>
      phase(b, maxPhase, () =>
        rdkafka({
          mode: 'produce',
          bootstrap: bootstrap(b.port),
          topic: 'max',
          size,
          pool: valuePool,
          count,
          sample_every: 64,
        }),
      ),
    );
    const hws = await endOffsets(admin, 'max', P);
    produced = sum(hws);
    const maxResult = produceResult(bench, 'rdkafka', values, 'max', null, max.value, max.broker, produced);
    results.produce.push(maxResult);
    if (storage === 'chdb') {
      const { count: rows } = await b.call<{ count: number }>('sql-count', { table: 'max' });
      if (rows !== produced)
        results.errors.push(`chdb ${tag}: table holds ${rows} rows, high watermarks say ${produced}`);
    }

    // Tail consume: from where the tail cache starts (everything, unless the budget evicted some).
    const { offsets } = await b.call<{ offsets: number[] }>('tail-start', { topic: 'max' });
    if (args.produceOnly) {
      produced = 0; // no cold replay either
    } else {
      const inTail = sum(hws.map((h, p) => h - offsets[p]!));
      const tf = await phase(b, `tail-fetch-${tag}`, () =>
        fetcher({ host: '127.0.0.1', port: b.port, topic: 'max', offsets, count: inTail }),
      );
      results.consume.push(consumeResult(bench, 'tail', 'fetch', values, inTail, tf.value, tf.broker));
      const tr = await phase(b, `tail-rdkafka-${tag}`, () =>
        rdkafka({
          mode: 'consume',
          bootstrap: bootstrap(b.port),
          topic: 'max',
          size,
          pool: valuePool,
          offsets,
          count: inTail,
        }),
      );
      results.consume.push(consumeResult(bench, 'tail', 'rdkafka', values, inTail, tr.value, tr.broker));
    }

    // Ack latency at half of the measured maximum.
    await createTopic(admin, 'half', P);
    const fixed = args.rates[args.sizes.indexOf(size)];
    const rate = fixed ?? Math.max(100, Math.round(maxResult.recordsPerSec / 2));
    const half = await phase(b, `produce-half-rdkafka-${tag}`, () =>
      rdkafka({
        mode: 'produce',
        bootstrap: bootstrap(b.port),
        topic: 'half',
        size,
        pool: valuePool,
        rate,
        duration: plan.halfSeconds,
        sample_every: 8,
      }),
    );
    const halfStored = sum(await endOffsets(admin, 'half', P));
    results.produce.push(
      produceResult(bench, 'rdkafka', values, 'half', rate, half.value, half.broker, halfStored),
    );

    if (args.only.has('latency') && payload === args.payloads[0]) {
      // Produce to consume, in one librdkafka process, at a moderate fixed rate (the client writes
      // its send time into the first 8 bytes of each value, so one payload is enough).
      await createTopic(admin, 'e2e', P);
      const e2e = await phase(b, `e2e-rdkafka-${tag}`, () =>
        rdkafka({
          mode: 'e2e',
          bootstrap: bootstrap(b.port),
          topic: 'e2e',
          size,
          pool: valuePool,
          rate: plan.e2eRate,
          duration: plan.e2eSeconds,
          partitions: P,
          start_offsets: new Array(P).fill(0),
        }),
      );
      const lat = percentiles(e2e.value.latencies_ms ?? []);
      results.e2e.push({
        storage,
        size,
        rate: plan.e2eRate,
        records: e2e.value.records,
        expected: e2e.value.expected ?? 0,
        latencyMs: lat,
        broker: e2e.broker,
      });
      log(`    end to end at ${plan.e2eRate} rec/s: p50 ${lat?.p50} p99 ${lat?.p99} p999 ${lat?.p999} ms`);
      if (storage === 'chdb' && size === args.sizes[0]) await sqlVisibility(bench, b, admin);
    }
  } catch (e) {
    results.errors.push(`rdkafka ${tag}: ${(e as Error).stack ?? e}\n${b.lastStderr}`);
    log(`    FAILED: ${(e as Error).message}`);
  } finally {
    admin.close();
    await b.close();
  }

  if (storage === 'chdb' && produced > 0) {
    // Cold replay: a new broker process on the same data directory, so the tail cache is empty (and
    // ClickHouse's caches in the process too); one per reader, so neither warms the other's.
    const zeros = new Array(P).fill(0);
    for (const reader of ['fetch', 'rdkafka'] as const) {
      const { b: cold } = await startBroker(storage, `broker-cold-${reader}-${tag}`, dir);
      try {
        const r = await phase(cold, `cold-${reader}-${tag}`, () =>
          reader === 'fetch'
            ? fetcher({ host: '127.0.0.1', port: cold.port, topic: 'max', offsets: zeros, count: produced })
            : rdkafka({
                mode: 'consume',
                bootstrap: bootstrap(cold.port),
                topic: 'max',
                size,
                pool: valuePool,
                offsets: zeros,
                count: produced,
              }),
        );
        results.consume.push(consumeResult(bench, 'cold', reader, values, produced, r.value, r.broker));
      } catch (e) {
        results.errors.push(`cold replay ${reader} ${tag}: ${(e as Error).stack ?? e}\n${cold.lastStderr}`);
      } finally {
        await cold.close();
      }
    }
  }
  if (dir && !args.keep) rmSync(dir, { recursive: true, force: true });
}

/** Produce one record at a time (acks=all) and time until `SELECT count()` in a second session sees it. */
async function sqlVisibility(bench: Bench, b: BrokerProcess, admin: RawClient): Promise<void> {
  const { plan, results, log, phase } = bench;
  await createTopic(admin, 'visible', 1);
  const now = () => performance.timeOrigin + performance.now();
  const ack: number[] = [];
  const visible: number[] = [];
  const afterAck: number[] = [];
  let polls = 0;
  await phase(b, 'sql-visible-chdb', async () => {
    for (let k = 1; k <= plan.sqlProbes; k++) {
      const [armed, seen] = b.request<{ seenAt: number | null; polls: number }>(
        'sql-watch',
        { table: 'visible', target: k, timeoutMs: 10_000 },
        ['armed', 'seen'],
      );
      await armed;
      const records = encodeRecordBatchSync({
        records: [{ key: null, value: Buffer.from(`probe-${k}`), timestamp: BigInt(Date.now()) }],
      });
      const t0 = now();
      const r = await admin.send('Produce', 9, {
        acks: -1,
        timeoutMs: 10_000,
        topicData: [{ name: 'visible', partitionData: [{ index: 0, records }] }],
      });
      const t1 = now();
      const code = r.responses[0]!.partitionResponses[0]!.errorCode;
      if (code !== 0) throw new Error(`probe produce failed with ${code}`);
      const s = await seen!;
      ack.push(t1 - t0);
      polls += s.polls;
      if (s.seenAt !== null) {
        visible.push(s.seenAt - t0);
        afterAck.push(s.seenAt - t1);
      }
      await new Promise((res) => setTimeout(res, 20));
    }
    return { records: plan.sqlProbes };
  });
  results.sqlVisible = {
    storage: 'chdb',
    probes: plan.sqlProbes,
    ackMs: percentiles(ack),
    visibleMs: percentiles(visible),
    visibleAfterAckMs: percentiles(afterAck),
    pollsPerProbe: Math.round(polls / plan.sqlProbes),
  };
  log(
    `    visible in SQL: p50 ${results.sqlVisible.visibleMs?.p50} p99 ${results.sqlVisible.visibleMs?.p99} ms after the produce (ack p50 ${results.sqlVisible.ackMs?.p50} ms)`,
  );
}

/** kafkajs against a new broker: produce at full speed, then at half of it. */
export async function kafkajsSuite(bench: Bench, values: Values): Promise<void> {
  const { args, plan, results, log, phase, kafkajs } = bench;
  const { size } = values;
  const P = args.partitions;
  const { tag, valuePool, dir, b, admin } = await startSuite(bench, 'kafkajs', values);
  const bootstrap = `127.0.0.1:${b.port}`;
  const batchRecords = size <= 100 ? 1000 : 200;
  try {
    await createTopic(admin, 'max', P);
    const maxPhase = `produce-max-kafkajs-${tag}`;
    const max = await bracketLimit(bench, b, values, 'kafkajs', maxPhase, () =>
      phase(b, maxPhase, () =>
        kafkajs({
          bootstrap,
          topic: 'max',
          size,
          pool: valuePool,
          count: plan.kafkajsCount(size),
          batchRecords,
          concurrency: 8,
        }),
      ),
    );
    const maxResult = produceResult(
      bench,
      'kafkajs',
      values,
      'max',
      null,
      max.value,
      max.broker,
      sum(await endOffsets(admin, 'max', P)) - 1, // one warm-up record
    );
    results.produce.push(maxResult);
    await createTopic(admin, 'half', P);
    const rate = Math.max(100, Math.round(maxResult.recordsPerSec / 2));
    const half = await phase(b, `produce-half-kafkajs-${tag}`, () =>
      kafkajs({
        bootstrap,
        topic: 'half',
        size,
        pool: valuePool,
        rate,
        duration: plan.halfSeconds,
        tickMs: 5,
      }),
    );
    results.produce.push(
      produceResult(
        bench,
        'kafkajs',
        values,
        'half',
        rate,
        half.value,
        half.broker,
        sum(await endOffsets(admin, 'half', P)) - 1,
      ),
    );
  } catch (e) {
    results.errors.push(`kafkajs ${tag}: ${(e as Error).stack ?? e}\n${b.lastStderr}`);
    log(`    FAILED: ${(e as Error).message}`);
  } finally {
    admin.close();
    await b.close();
    if (dir && !args.keep) rmSync(dir, { recursive: true, force: true });
  }
}
