import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { produceAndQuery } from '../src/produce-and-query.js';

describe('produce with kafkajs, query with @clickhouse/client', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kch-example-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('on embedded ClickHouse (chdb), in the broker process', async () => {
    const { rows, perCustomer } = await produceAndQuery({ chdb: dir }, { topic: 'orders', orders: 12 });
    expect(rows).toHaveLength(12);
    // One partition (the broker default): offsets 0..11, in the order produced.
    expect(rows.map((r) => Number(r.offset))).toEqual([...Array(12).keys()]);
    expect(rows.map((r) => JSON.parse(r.value).order)).toEqual([...Array(12).keys()]);
    // amount = 10 + order; customer-n has the orders n, n+3, n+6, n+9.
    expect(perCustomer.map((c) => [c.customer, Number(c.orders), Number(c.total)])).toEqual([
      ['customer-0', 4, 10 + 13 + 16 + 19],
      ['customer-1', 4, 11 + 14 + 17 + 20],
      ['customer-2', 4, 12 + 15 + 18 + 21],
    ]);
  });

  // The same code against a ClickHouse server: CLICKHOUSE_URL=http://default:@localhost:8123 pnpm test
  it('on a ClickHouse server', async (ctx) => {
    // ctx.skip's reason is printed by vitest's default reporter; it.runIf's is not.
    ctx.skip(!process.env.CLICKHOUSE_URL, 'CLICKHOUSE_URL is not set; e.g. http://default:@localhost:8123');
    const database = `kch_example_${Date.now()}`;
    const { rows } = await produceAndQuery({ url: process.env.CLICKHOUSE_URL! }, { database, orders: 5 });
    expect(rows.map((r) => Number(r.offset))).toEqual([0, 1, 2, 3, 4]);
  });
});
