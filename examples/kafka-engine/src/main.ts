/**
 * `pnpm start [dir] [--serve]`: runs the example on embedded ClickHouse in `dir` (default: a
 * temporary directory, removed at the end) and prints each step. With --serve, the broker and
 * ClickHouse's Kafka tables keep running afterwards, for other Kafka tools to look (Ctrl-C stops).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EXPECTED_ORDERS, sampleHistory } from './events.js';
import {
  consume,
  createConsumingPipeline,
  publishChanges,
  publishRevenue,
  select,
  start,
  waitUntilCaughtUp,
} from './kafka-engine.js';
import { REVENUE_SQL } from './sql.js';

const args = process.argv.slice(2);
const serve = args.includes('--serve');
const dirArg = args.find((a) => !a.startsWith('--'));
const dir = dirArg ? resolve(dirArg) : mkdtempSync(join(tmpdir(), 'kch-kafka-engine-'));

const stack = await start(dir);
const { names } = stack;
console.log(`kch broker on ${stack.bootstrap}, embedded ClickHouse in ${dir}\n`);

// 1. ClickHouse consumes the CDC topic: Kafka engine table -> materialized view -> ReplacingMergeTree.
await createConsumingPipeline(stack);
const history = sampleHistory();
await publishChanges(stack, history);
console.log(`produced ${history.length} Debezium messages to ${names.cdcTopic}`);

const group = await waitUntilCaughtUp(stack, names.group, names.cdcTopic);
console.log(
  `\nconsumer group ${group.group} on kch (${group.state}, ${group.protocol}), as \`kch groups describe\`:`,
);
console.table(group.offsets);

console.log('\nSELECT * FROM shop.orders FINAL (the source table, rebuilt from its changes):');
console.table(
  await select(
    stack.ch,
    'SELECT id, customer, status, amount, version, kafka_partition, kafka_offset FROM shop.orders FINAL ORDER BY id',
  ),
);
console.log(`${REVENUE_SQL}:`);
console.table(await select(stack.ch, REVENUE_SQL));

// 2. ClickHouse produces: INSERT into a Kafka engine table sends the rows to a kch topic.
await publishRevenue(stack);
const customers = new Set(EXPECTED_ORDERS.map((o) => o.customer)).size;
const messages = await consume(stack, names.revenueTopic, customers, 'revenue-dashboard');
console.log(`\nINSERT INTO shop.revenue_out ... -> ${names.revenueTopic}, read back with kafkajs:`);
console.table(messages);

if (serve) {
  console.log(`
Still running. In another terminal:
  pnpm kch groups describe ${names.group} -b ${stack.bootstrap}
  pnpm kch consume ${names.revenueTopic} -b ${stack.bootstrap}
Ctrl-C stops.`);
  await new Promise<void>((r) => process.once('SIGINT', () => r()));
}
await stack.close();
if (!dirArg) rmSync(dir, { recursive: true, force: true });
