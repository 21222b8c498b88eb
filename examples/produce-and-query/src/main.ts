/**
 * `pnpm start [dir]`: runs the example on embedded ClickHouse in `dir` (default ./kch-example-data),
 * or on a ClickHouse server when CLICKHOUSE_URL is set (e.g. http://default:@localhost:8123).
 */
import { resolve } from 'node:path';
import { produceAndQuery, type Target } from './produce-and-query.js';

const target: Target = process.env.CLICKHOUSE_URL
  ? { url: process.env.CLICKHOUSE_URL }
  : { chdb: resolve(process.argv[2] ?? 'kch-example-data') };

const { rows, perCustomer } = await produceAndQuery(target, { topic: `orders_${Date.now()}` });
console.log(`stored in ${'url' in target ? target.url : target.chdb}:`);
console.table(rows);
console.table(perCustomer);
