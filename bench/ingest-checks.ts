/**
 * What the Produce path costs per record with and without record checks, in this process, no sockets:
 * the Produce handler called with one batch for one partition per request, each awaited before the
 * next, on memory storage. Topics: one without checks, one with `kch.schema` in reject mode (every
 * record valid), and one with `kch.schema` in dead-letter mode (every record valid, and 1 in 100
 * invalid, so that every batch is encoded again and dead letters are appended). Batches of
 * `--records` JSON orders of ~150 bytes (./lib/orders.ts), uncompressed, lz4 and zstd.
 *
 *   pnpm exec tsx --conditions=source bench/ingest-checks.ts [--records 500] [--requests 200] [--rounds 7]
 *     [--only <case>] [--root <checkout>]
 *
 * Prints CPU microseconds per record (user + system time of the process, all threads): the fastest
 * round (the least disturbed by other work on the machine) and the median round. `--root` measures the
 * broker of another checkout (a copy of an earlier tree, to compare before and after a change; run it
 * from that checkout so that its own dependencies resolve).
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import type * as Context from '../packages/broker/src/context.js';
import type * as ProduceHandler from '../packages/broker/src/handlers/produce.js';
import type * as Topics from '../packages/broker/src/log/topics.js';
import type * as Logger from '../packages/broker/src/logger.js';
import type * as Options from '../packages/broker/src/options.js';
import type * as Protocol from '../packages/protocol/src/index.js';
import type * as Storage from '../packages/storage/src/index.js';
import { INVALID_ORDER, ORDER, ORDER_SCHEMA } from './lib/orders.js';

const { values: flags } = parseArgs({
  options: {
    records: { type: 'string', default: '500' },
    requests: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '7' },
    only: { type: 'string' },
    root: { type: 'string' },
  },
});
const perBatch = Number(flags.records);
const requests = Number(flags.requests);
const rounds = Number(flags.rounds);
const root = flags.root ?? new URL('..', import.meta.url).pathname;
const load = <T>(path: string): Promise<T> => import(`${root}/${path}`) as Promise<T>;

const protocol = await load<typeof Protocol>('packages/protocol/src/index.ts');
const { memoryStorage, MemorySecurityStore } = await load<typeof Storage>('packages/storage/src/index.ts');
const { BrokerContext } = await load<typeof Context>('packages/broker/src/context.ts');
const { TopicManager } = await load<typeof Topics>('packages/broker/src/log/topics.ts');
const { silentLogger } = await load<typeof Logger>('packages/broker/src/logger.ts');
const { parseBrokerOptions } = await load<typeof Options>('packages/broker/src/options.ts');
const produce = (await load<typeof ProduceHandler>('packages/broker/src/handlers/produce.ts')).default;
// The checkout's own eventemitter3 (a CommonJS module: its class is the default export), as its broker
// uses it.
const eventemitter3 = (await import(
  createRequire(`${root}/packages/broker/package.json`).resolve('eventemitter3')
)) as {
  default: new () => unknown;
};
const EventEmitter = eventemitter3.default;

const SCHEMA = JSON.stringify(ORDER_SCHEMA);

const config = parseBrokerOptions({ tailCacheBytes: 64 << 20 });
const storage = memoryStorage();
await storage.open();
const events = new EventEmitter();
const topics = new TopicManager(storage, config.tailCacheBytes, events as never);
await topics.load();
const broker = new BrokerContext(config, storage, silentLogger, topics, undefined as never, events as never, {
  store: new MemorySecurityStore(),
  authorizer: undefined,
});
await topics.create('plain', 1, {});
await topics.create('schema', 1, { 'kch.schema': SCHEMA });
await topics.create('dead-letter', 1, { 'kch.schema': SCHEMA, 'kch.invalid.records': 'dead-letter' });

/** Order number `i`, distinct from the others, or one the schema refuses. */
function value(i: number, invalid: boolean): Buffer {
  const order = {
    ...(invalid ? INVALID_ORDER : ORDER),
    id: 1_000_000 + i,
    sku: `SKU-${String(i).padStart(6, '0')}`,
  };
  return Buffer.from(JSON.stringify(order));
}

function batchOf(compression: Protocol.CompressionType, invalidEvery: number): Promise<Buffer> {
  const now = Date.now();
  return protocol.encodeRecordBatch({
    compression,
    records: Array.from({ length: perBatch }, (_, i) => ({
      value: value(i, invalidEvery > 0 && i % invalidEvery === invalidEvery - 1),
      timestamp: now,
    })),
  });
}

const ctx = {
  broker,
  connection: { id: 1, remoteAddress: '127.0.0.1', remotePort: 50000 },
  header: { requestApiKey: 0, requestApiVersion: 9, correlationId: 0, clientId: 'bench' },
  apiVersion: 9,
};

/** CPU microseconds per record of `requests` Produce requests of `batch`. */
async function round(topic: string, batch: Buffer): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < requests; i++) {
    ctx.header.correlationId++;
    // A copy per request, as each request brings its own bytes (offsets are written into them).
    const records = Buffer.from(batch);
    const response = await produce.handle(
      {
        transactionalId: null,
        acks: -1,
        timeoutMs: 30_000,
        topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
      } as never,
      ctx as never,
    );
    const code = response?.responses?.[0]?.partitionResponses?.[0]?.errorCode;
    if (code !== 0) throw new Error(`produce to ${topic} answered error ${code}`);
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / (requests * perBatch);
}

const codecs: [string, Protocol.CompressionType][] = [
  ['none', protocol.CompressionType.None],
  ['lz4', protocol.CompressionType.Lz4],
  ['zstd', protocol.CompressionType.Zstd],
];
const cases: [string, string, number][] = [
  ['no checks', 'plain', 0],
  ['kch.schema, reject, all valid', 'schema', 0],
  ['kch.schema, dead-letter, all valid', 'dead-letter', 0],
  ['kch.schema, dead-letter, 1% invalid', 'dead-letter', 100],
];
console.log(
  `${perBatch} records a batch, ${requests} requests x ${rounds} rounds, CPU µs/record (fastest, median):`,
);
for (const [name, topic, invalidEvery] of cases) {
  for (const [codec, type] of codecs) {
    if (flags.only && !`${name} ${codec}`.includes(flags.only)) continue;
    const batch = await batchOf(type, invalidEvery);
    await round(topic, batch); // warm-up
    const times: number[] = [];
    for (let r = 0; r < rounds; r++) times.push(await round(topic, batch));
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    console.log(`  ${`${name}, ${codec}`.padEnd(42)} ${times[0]!.toFixed(3)} ${median.toFixed(3)}`);
  }
}
