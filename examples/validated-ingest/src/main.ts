/**
 * `pnpm start`: runs the example on embedded ClickHouse in a temporary directory (removed at the end)
 * and prints each step.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { DEAD_LETTER_HEADERS } from '@kch/broker';
import {
  bad,
  good,
  type Input,
  ORDERS_KAFKAJS,
  ORDERS_LIBRDKAFKA,
  REFUNDS_GOOD,
  REFUNDS_LIBRDKAFKA,
  REFUNDS_MIXED,
} from './records.js';
import { ORDERS_SELECT, ORDERS_TABLE, REFUNDS_SELECT, REFUNDS_TABLE } from './sql.js';
import { ORDERS, ORDERS_DLQ, REFUNDS } from './topics.js';
import {
  checkConfigs,
  consume,
  endOffsets,
  librdkafkaAvailable,
  metricValues,
  produce,
  produceRaw,
  produceWithLibrdkafka,
  select,
  start,
} from './validated-ingest.js';

const dir = mkdtempSync(join(tmpdir(), 'kch-validated-ingest-'));
let stack = await start(dir);
console.log(`kch broker on ${stack.bootstrap}, embedded ClickHouse in ${dir}\n`);

/** The inputs, one line each: where they go and what is wrong with the bad ones. */
function showInputs(inputs: readonly Input[]): void {
  console.table(
    inputs.map((i) => ({ partition: i.partition, key: i.key, value: i.value, bad: i.bad?.problem ?? '' })),
  );
}

// 1. The tables (created before the broker started) and the topics' configs.
console.log(
  `1. Tables, created with storage.query() before createBroker():\n\n${ORDERS_TABLE}\n\n${REFUNDS_TABLE}\n`,
);
for (const topic of [ORDERS, REFUNDS]) {
  console.log(`topic ${topic}, declared in createBroker({ topics }), as DescribeConfigs shows it:`);
  console.table(await checkConfigs(stack, topic));
}
console.log(`(topic ${ORDERS} also has a zod schema, given in code: it is not a config)\n`);

// 2. Dead-letter mode: every record is acknowledged; the bad ones go to orders.dlq.
console.log(`2. Dead-letter mode: kafkajs sends ${ORDERS_KAFKAJS.length} orders to ${ORDERS}, in one send:`);
showInputs(ORDERS_KAFKAJS);
const acks = await produce(stack, ORDERS, ORDERS_KAFKAJS);
console.log(
  `acknowledged: ${acks.map((a) => `partition ${a.partition} from offset ${a.baseOffset} (error code ${a.errorCode})`).join(', ')}\n`,
);

let sentOrders = [...ORDERS_KAFKAJS];
if (librdkafkaAvailable()) {
  console.log(`librdkafka (python3-confluent-kafka) sends ${ORDERS_LIBRDKAFKA.length} more:`);
  showInputs(ORDERS_LIBRDKAFKA);
  console.table(await produceWithLibrdkafka(stack.bootstrap, ORDERS, ORDERS_LIBRDKAFKA));
  console.log('every record delivered; the bad one at the offset it left as a hole\n');
  sentOrders = [...sentOrders, ...ORDERS_LIBRDKAFKA];
} else {
  console.log('(python3-confluent-kafka is not installed: skipping librdkafka)\n');
}

console.log(`${ORDERS_SELECT}:`);
console.table(await select(stack, ORDERS_SELECT));

/** Reads `orders` and `orders.dlq` with kafkajs, and shows where the records are. */
async function readOrders(label: string): Promise<void> {
  const ends = await endOffsets(stack, ORDERS);
  const [records, dead] = await Promise.all([
    consume(stack, ORDERS, good(sentOrders).length, `orders-reader-${label}`),
    consume(stack, ORDERS_DLQ, bad(sentOrders).length, `orders-dlq-reader-${label}`),
  ]);
  console.log(`\n${ORDERS} read with kafkajs (${label}): end offsets ${ends.join(', ')}; records at`);
  for (const [p, end] of ends.entries()) {
    const offsets = records.filter((r) => r.partition === p).map((r) => r.offset);
    const holes = Array.from({ length: end }, (_, o) => o).filter((o) => !offsets.includes(o));
    console.log(`  partition ${p}: offsets ${offsets.join(', ')} (holes at ${holes.join(', ')})`);
  }
  const asProduced = records.every((r) =>
    sentOrders.some(
      (i) =>
        i.partition === r.partition &&
        i.key === r.key &&
        i.value === r.value &&
        i.timestamp === r.timestamp &&
        isDeepStrictEqual(i.headers ?? {}, r.headers),
    ),
  );
  console.log(`  key, value, headers and timestamp ${asProduced ? 'as produced' : 'NOT as produced'}\n`);
  console.log(
    `${ORDERS_DLQ} (same partition as the source; original key, value and headers, plus kch.dlq.*):`,
  );
  console.table(
    dead.map((d) => ({
      partition: d.partition,
      offset: d.offset,
      key: d.key,
      [DEAD_LETTER_HEADERS.topic]: d.headers[DEAD_LETTER_HEADERS.topic],
      [DEAD_LETTER_HEADERS.partition]: d.headers[DEAD_LETTER_HEADERS.partition],
      [DEAD_LETTER_HEADERS.offset]: d.headers[DEAD_LETTER_HEADERS.offset],
      [DEAD_LETTER_HEADERS.reason]: d.headers[DEAD_LETTER_HEADERS.reason],
    })),
  );
}
await readOrders("from the broker's memory");

// 3. Reject mode: a batch with a bad record is refused whole.
console.log(`\n3. Reject mode: kafkajs sends ${REFUNDS_GOOD.length} good refunds to ${REFUNDS}:`);
const ok = await produce(stack, REFUNDS, REFUNDS_GOOD);
console.log(`acknowledged from offset ${ok[0]!.baseOffset}\n`);
console.log(`then a batch of ${REFUNDS_MIXED.length}, ${bad(REFUNDS_MIXED).length} of them bad:`);
showInputs(REFUNDS_MIXED);
try {
  await produce(stack, REFUNDS, REFUNDS_MIXED);
  console.log('acknowledged (unexpected)');
} catch (e) {
  const err = e as Error & { type?: string };
  console.log(`kafkajs: ${err.name} ${err.type}: ${err.message}`);
}
const answer = await produceRaw(stack.bootstrap, REFUNDS, 0, REFUNDS_MIXED);
console.log(
  "the same batch in a Produce v9 request, the broker's whole answer (kafkajs reads the error code only):",
);
console.log(`  errorCode ${answer.errorCode}, errorMessage: ${answer.errorMessage}`);
for (const r of answer.recordErrors) console.log(`  record ${r.batchIndex}: ${r.batchIndexErrorMessage}`);
console.log(`\nnothing of it stored: end offset of ${REFUNDS} ${(await endOffsets(stack, REFUNDS))[0]}`);
const resent = await produce(stack, REFUNDS, good(REFUNDS_MIXED));
console.log(
  `its ${good(REFUNDS_MIXED).length} good records sent again: acknowledged from offset ${resent[0]!.baseOffset} (no holes in reject mode)\n`,
);
if (librdkafkaAvailable()) {
  console.log(`librdkafka sends a batch of ${REFUNDS_LIBRDKAFKA.length}, one bad:`);
  showInputs(REFUNDS_LIBRDKAFKA);
  console.table(await produceWithLibrdkafka(stack.bootstrap, REFUNDS, REFUNDS_LIBRDKAFKA));
}
console.log(`${REFUNDS_SELECT}:`);
console.table(await select(stack, REFUNDS_SELECT));

// 4. The broker's counts, as Prometheus scrapes them.
console.log('\n4. brokerMetrics(broker).render(), the record counters:');
const metrics = await metricValues(stack, [
  'kch_produced_records_total',
  'kch_records_rejected_total',
  'kch_records_dead_lettered_total',
  'kch_dead_letter_failures_total',
]);
for (const [series, value] of metrics) console.log(`  ${series} ${value}`);

// 5. A new broker on the same data directory: consumers are served from the tables.
await stack.close();
stack = await start(dir);
console.log('\n5. Restarted on the same data directory: the records now come from ClickHouse');
await readOrders('from shop.orders');
const refundCount = REFUNDS_GOOD.length + good(REFUNDS_MIXED).length;
const refunds = await consume(stack, REFUNDS, refundCount, 'refunds-reader');
console.log(`${REFUNDS} (no _raw_message: each row as ClickHouse writes it in JSONEachRow):`);
console.table(refunds.map(({ partition, offset, key, value }) => ({ partition, offset, key, value })));

await stack.close();
rmSync(dir, { recursive: true, force: true });
