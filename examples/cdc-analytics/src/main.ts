/**
 * `pnpm start`: runs the example on embedded ClickHouse in a temporary directory (removed at the end)
 * and prints each step.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { createPipeline, createTopic, publish, type Stack, select, start } from './cdc-analytics.js';
import { type CdcMessage, TOPIC } from './debezium.js';
import { orderHistory } from './history.js';
import { type CountryRevenue, replay, revenueByCountry } from './replay.js';
import {
  CURRENT_ORDERS_SQL,
  ORDERS_SELECT,
  ORDERS_TABLE,
  ORDERS_VIEW,
  REVENUE_BY_COUNTRY_SQL,
} from './sql.js';

const dir = mkdtempSync(join(tmpdir(), 'kch-cdc-analytics-'));
const stack = await start(dir);
console.log(`kch broker on ${stack.bootstrap}, embedded ClickHouse in ${dir}\n`);

const history = orderHistory();
const produced: CdcMessage[] = [];

async function produce(label: string, messages: CdcMessage[]): Promise<void> {
  const acks = await publish(stack, messages);
  produced.push(...messages);
  const ops = new Map<string, number>();
  for (const m of messages) {
    const op: string = m.value === null ? 'tombstone' : JSON.parse(m.value).payload.op;
    ops.set(op, (ops.get(op) ?? 0) + 1);
  }
  const counts = [...ops].map(([op, n]) => `${n} × ${op}`).join(', ');
  const offsets = acks.map((a) => `p${a.partition}@${a.baseOffset}`).join(' ');
  console.log(`${label}: produced ${messages.length} messages to ${TOPIC} (${counts}); acks ${offsets}`);
}

async function showAnalytics(s: Stack): Promise<void> {
  const rows = await select<CountryRevenue>(s, REVENUE_BY_COUNTRY_SQL);
  console.table(rows);
  const expected = revenueByCountry(replay(produced).values());
  console.log(
    isDeepStrictEqual(rows, expected)
      ? 'the same as the TypeScript replay of the events produced so far\n'
      : `NOT the TypeScript replay of the events produced so far: ${JSON.stringify(expected)}\n`,
  );
}

// 1. Debezium's initial snapshot, on the topic before any view exists.
await createTopic(stack);
await produce('1. snapshot', history.snapshot);

// 2. The typed table and the view on the topic's table; `populate` runs the snapshot through it.
console.log(`\n2. ${ORDERS_TABLE}\n`);
const view = await createPipeline(stack);
console.log(
  `storage.createView({ name: '${view.name}', topic: '${view.topic}', to: '${ORDERS_VIEW.to}', populate: true, select: \`\n${ORDERS_SELECT}\` })`,
);
console.log(`-> view kafka.${view.name} on topic ${view.topic}, rows to ${view.target}\n`);
console.log(`${CURRENT_ORDERS_SQL}:`);
console.table(await select(stack, CURRENT_ORDERS_SQL));
console.log(`${REVENUE_BY_COUNTRY_SQL}:`);
await showAnalytics(stack);

// 3. Changes produced after the view exists: in the table as soon as the produce is acknowledged.
await produce('3. live changes', history.live);
await showAnalytics(stack);

// 4. Late changes to orders already counted: a refund, a corrected country, a delete, a new order.
await produce('4. late changes', history.late);
console.log(`${CURRENT_ORDERS_SQL}:`);
console.table(await select(stack, CURRENT_ORDERS_SQL));
console.log('revenue by country:');
await showAnalytics(stack);

const [topicRows] = await select<{ records: number; tombstones: number }>(
  stack,
  `SELECT count() AS records, countIf(value IS NULL) AS tombstones FROM kafka.\`${TOPIC}\``,
);
const [versions] = await select<{ versions: number }>(
  stack,
  'SELECT count() AS versions FROM analytics.orders',
);
console.log(
  `the topic's table kafka.\`${TOPIC}\` holds ${topicRows!.records} records (${topicRows!.tombstones} tombstones); analytics.orders holds ${versions!.versions} row versions until merges collapse them`,
);

await stack.close();
rmSync(dir, { recursive: true, force: true });
