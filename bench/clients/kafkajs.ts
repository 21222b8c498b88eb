/**
 * kafkajs producer for the kch benchmarks, in a process of its own (bench/run.ts starts it):
 *
 *   node --import tsx --conditions=source bench/clients/kafkajs.ts '<json options>'
 *
 * Max mode (rate 0): `concurrency` loops each send `batchRecords` messages per `producer.send`, acks=-1,
 * no compression. Rate mode: every `tickMs` the records due are sent in one `producer.send` (kafkajs
 * has no linger: this is its batching). Ack latency is the `send` call's duration, counted once per
 * record it carried. Prints one JSON line.
 */
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, Partitioners } from 'kafkajs';

interface Options {
  bootstrap: string;
  topic: string;
  size: number;
  pool: string;
  count: number;
  rate?: number;
  duration?: number;
  batchRecords?: number;
  concurrency?: number;
  tickMs?: number;
}

const o = JSON.parse(process.argv[2] ?? '{}') as Options;
const data = readFileSync(o.pool);
const pool: { value: Buffer }[] = [];
for (let at = 0; at + o.size <= data.length; at += o.size)
  pool.push({ value: data.subarray(at, at + o.size) });

const kafka = new Kafka({ clientId: 'kch-bench', brokers: [o.bootstrap], logLevel: logLevel.NOTHING });
const producer = kafka.producer({
  createPartitioner: Partitioners.DefaultPartitioner,
  allowAutoTopicCreation: false,
});
await producer.connect();

const rate = o.rate ?? 0;
const total = rate > 0 ? Math.round(rate * (o.duration ?? 10)) : o.count;
const latencies: number[] = [];
let next = 0;
let errors = 0;
let error: string | null = null;

function messages(n: number): { value: Buffer }[] {
  const out = new Array(n);
  for (let k = 0; k < n; k++, next++) out[k] = pool[next % pool.length]!;
  return out;
}

async function sendTimed(msgs: { value: Buffer }[]): Promise<void> {
  const t = performance.now();
  try {
    await producer.send({ topic: o.topic, acks: -1, messages: msgs });
    const ms = performance.now() - t;
    for (let k = 0; k < msgs.length; k++) latencies.push(ms);
  } catch (e) {
    errors += msgs.length;
    error = (e as Error).message;
  }
}

// Connect to the partition leaders before the clock starts.
await producer.send({ topic: o.topic, acks: -1, messages: [{ value: pool[0]!.value }] });

const t0 = performance.now();
if (rate === 0) {
  const batch = o.batchRecords ?? 1000;
  await Promise.all(
    Array.from({ length: o.concurrency ?? 8 }, async () => {
      while (next < total) await sendTimed(messages(Math.min(batch, total - next)));
    }),
  );
} else {
  const tick = o.tickMs ?? 5;
  const inFlight = new Set<Promise<void>>();
  while (next < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    if (due > next) {
      const p = sendTimed(messages(due - next));
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
    await new Promise((r) => setTimeout(r, tick));
  }
  await Promise.all(inFlight);
}
const seconds = (performance.now() - t0) / 1000;
await producer.disconnect();
const ru = process.resourceUsage();
process.stdout.write(
  `${JSON.stringify({
    records: total,
    bytes: total * o.size,
    seconds,
    errors,
    error,
    latencies_ms: latencies,
    cpu_seconds: (ru.userCPUTime + ru.systemCPUTime) / 1e6,
    max_rss_mib: Math.round(ru.maxRSS / 102.4) / 10,
  })}\n`,
);
