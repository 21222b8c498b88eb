import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPECTED_ORDERS, sampleHistory } from '../src/events.js';
import {
  consume,
  createConsumingPipeline,
  publishChanges,
  publishRevenue,
  query,
  type Stack,
  select,
  start,
  waitUntilCaughtUp,
} from '../src/kafka-engine.js';
import { REVENUE_SQL } from '../src/sql.js';

describe('ClickHouse Kafka engine <-> kch, on embedded ClickHouse', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kch-kafka-engine-'));
  let stack: Stack;
  beforeAll(async () => {
    stack = await start(dir);
  });
  afterAll(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('consumes Debezium change events into a typed table; the consumer group is on kch', async () => {
    await createConsumingPipeline(stack);
    const history = sampleHistory();
    await publishChanges(stack, history);

    // ClickHouse's consumer group, as `kch groups describe` shows it: caught up on every partition.
    const group = await waitUntilCaughtUp(stack, stack.names.group, stack.names.cdcTopic);
    expect(group).toMatchObject({ group: 'clickhouse-shop', state: 'Stable', protocol: 'range' });
    expect(group.members).toHaveLength(1);
    expect(group.members[0]!.clientId).toMatch(/^ClickHouse/);
    expect(group.offsets.map((o) => o.partition)).toEqual([0, 1, 2]);
    const ends = group.offsets.map((o) => Number(o.logEndOffset));
    expect(ends.reduce((a, b) => a + b)).toBe(history.length);
    for (const o of group.offsets) {
      if (o.logEndOffset !== '0') expect(o).toMatchObject({ currentOffset: o.logEndOffset, lag: '0' });
      expect(o.clientId).toMatch(/^ClickHouse/);
    }

    // The source table, rebuilt: updates applied, the deleted order gone, the tombstone ignored.
    const orders = await select<{ id: number; customer: string; status: string; amount: number }>(
      stack.ch,
      'SELECT id, customer, status, amount FROM shop.orders FINAL ORDER BY id',
    );
    expect(orders).toEqual(EXPECTED_ORDERS);
    // Every change event is one row version (8 events; the tombstone is not one), until merges
    // collapse them; each knows where it came from in the topic.
    const versions = await select<{ n: number; sources: number }>(
      stack.ch,
      'SELECT count() AS n, uniqExact(kafka_partition, kafka_offset) AS sources FROM shop.orders',
    );
    expect(versions[0]!.n).toBeLessThanOrEqual(8);
    expect(versions[0]!.n).toBe(versions[0]!.sources);

    // The analytics query.
    expect(await select(stack.ch, REVENUE_SQL)).toEqual([
      { customer: 'ada', orders: 2, revenue: 34.25 },
      { customer: 'grace', orders: 2, revenue: 40.5 },
    ]);
    // The topic itself is a table of the broker's storage, in the same ClickHouse.
    expect(await query(stack.ch, `SELECT count() FROM kafka.\`${stack.names.cdcTopic}\``)).toBe(
      `${history.length}\n`,
    );
  });

  it('INSERT into a Kafka engine table produces to kch', async () => {
    await publishRevenue(stack);
    const messages = await consume(stack, stack.names.revenueTopic, 2, 'revenue-dashboard');
    expect(
      messages
        .map((m) => ({ key: m.key, value: JSON.parse(m.value!) }))
        .sort((a, b) => (a.key! < b.key! ? -1 : 1)),
    ).toEqual([
      { key: 'ada', value: { customer: 'ada', orders: 2, revenue: 34.25 } },
      { key: 'grace', value: { customer: 'grace', orders: 2, revenue: 40.5 } },
    ]);
  });
});
