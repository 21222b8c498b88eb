import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPipeline, createTopic, publish, type Stack, select, start } from '../src/cdc-analytics.js';
import { type CdcMessage, keyOf, type Order, TOPIC } from '../src/debezium.js';
import { orderHistory } from '../src/history.js';
import { type CountryRevenue, replay, revenueByCountry } from '../src/replay.js';
import { CURRENT_ORDERS_SQL, ORDERS_SELECT, ORDERS_TABLE, REVENUE_BY_COUNTRY_SQL } from '../src/sql.js';

type CurrentRow = Omit<Order, 'created_at' | 'amount'> & {
  amount: number;
  lsn: number;
  kafka_partition: number;
  kafka_offset: number;
};

/** What `CURRENT_ORDERS_SQL` should return, from the replayed source table (amounts as numbers). */
function expectedOrders(messages: CdcMessage[]) {
  return [...replay(messages).values()]
    .sort((a, b) => a.id - b.id)
    .map(({ id, customer_id, country, status, amount }) => ({
      id,
      customer_id,
      country,
      status,
      amount: Number(amount),
    }));
}

describe('Debezium CDC -> materialized view on the topic -> analytics, on embedded ClickHouse', () => {
  // chdb opens one data directory per process; vitest runs each test file in a process of its own.
  const dir = mkdtempSync(join(tmpdir(), 'kch-cdc-analytics-'));
  const history = orderHistory();
  const produced: CdcMessage[] = [];
  let stack: Stack;

  const current = async () =>
    (await select<CurrentRow>(stack, CURRENT_ORDERS_SQL)).map(
      ({ id, customer_id, country, status, amount }) => ({
        id,
        customer_id,
        country,
        status,
        amount,
      }),
    );
  const analytics = () => select<CountryRevenue>(stack, REVENUE_BY_COUNTRY_SQL);
  const produce = async (messages: CdcMessage[]) => {
    await publish(stack, messages);
    produced.push(...messages);
  };

  beforeAll(async () => {
    stack = await start(dir);
  });
  afterAll(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  let afterSnapshot: CountryRevenue[];
  let afterLive: CountryRevenue[];

  it('backfills the snapshot that was on the topic before the view existed (populate)', async () => {
    await createTopic(stack);
    await produce(history.snapshot);
    expect(history.snapshot.every((m) => JSON.parse(m.value!).payload.op === 'r')).toBe(true);

    const view = await createPipeline(stack);
    expect(view).toMatchObject({
      name: 'orders_cdc',
      topic: TOPIC,
      to: 'analytics.orders',
      target: 'analytics.orders',
      select: ORDERS_SELECT,
      managed: true,
    });
    expect(view.query).toContain(`FROM kafka.\`${TOPIC}\``);
    expect((await stack.storage.listViews()).map((v) => v.name)).toEqual(['orders_cdc']);

    expect(await current()).toEqual(expectedOrders(produced));
    afterSnapshot = await analytics();
    expect(afterSnapshot).toEqual(revenueByCountry(replay(produced).values()));
    expect(afterSnapshot.length).toBeGreaterThan(0);
  });

  it('has the changes produced after the view exists in the table as soon as the produce is acknowledged', async () => {
    await produce(history.live);
    // No polling: the view ran inside the insert that the acknowledgement waited for.
    expect(await current()).toEqual(expectedOrders(produced));
    afterLive = await analytics();
    expect(afterLive).toEqual(revenueByCountry(replay(produced).values()));
    expect(afterLive).not.toEqual(afterSnapshot);

    // The delete is a version too, the latest of its order, which FINAL leaves out.
    const deleted = history.live
      .filter((m) => m.value !== null && JSON.parse(m.value).payload.op === 'd')
      .map((m) => JSON.parse(m.value!).payload.before.id as number);
    expect(deleted.length).toBeGreaterThan(0);
    for (const id of deleted) {
      expect(
        await select(stack, `SELECT argMax(is_deleted, lsn) AS d FROM analytics.orders WHERE id = ${id}`),
      ).toEqual([{ d: 1 }]);
    }

    // Each current row points at the record of its last change in the topic's table.
    const lineage = await select<{ id: number; key: string; lsn: number; record_lsn: number }>(
      stack,
      `SELECT o.id AS id, t.key AS key, o.lsn AS lsn, JSONExtractUInt(t.value, 'payload', 'source', 'lsn') AS record_lsn
FROM (SELECT * FROM analytics.orders FINAL WHERE is_deleted = 0) AS o
JOIN kafka.\`${TOPIC}\` AS t ON t.partition = o.kafka_partition AND t.offset = o.kafka_offset
ORDER BY id`,
    );
    expect(lineage.map((r) => r.id)).toEqual(expectedOrders(produced).map((o) => o.id));
    for (const r of lineage) {
      expect(r.key).toBe(keyOf(r.id));
      expect(r.record_lsn).toBe(r.lsn);
    }
  });

  it('changes the analytic result with late updates and deletes of orders already counted', async () => {
    await produce(history.late);
    const rebuilt = replay(produced);
    // The replay is the source table, as Postgres has it after all the changes.
    expect([...rebuilt.values()].sort((a, b) => a.id - b.id)).toEqual(history.tableAfter.late);

    expect(await current()).toEqual(expectedOrders(produced));
    const afterLate = await analytics();
    expect(afterLate).toEqual(revenueByCountry(rebuilt.values()));
    expect(afterLate).not.toEqual(afterLive);

    // Every order the late changes touched is counted as its latest version says, or not at all.
    const touched = new Set(
      history.late
        .filter((m) => m.value !== null)
        .map((m) => {
          const { after, before } = JSON.parse(m.value!).payload;
          return (after ?? before).id as number;
        }),
    );
    const rows = await current();
    for (const id of touched) {
      const now = rebuilt.get(id);
      const row = rows.find((r) => r.id === id);
      if (!now) expect(row).toBeUndefined();
      else
        expect(row).toMatchObject({ status: now.status, country: now.country, amount: Number(now.amount) });
    }
  });

  it('keeps every record in the topic; tombstones make no row, every change event one version', async () => {
    const tombstones = produced.filter((m) => m.value === null).length;
    expect(tombstones).toBe(2);
    expect(
      await select(
        stack,
        `SELECT count() AS records, countIf(value IS NULL) AS tombstones FROM kafka.\`${TOPIC}\``,
      ),
    ).toEqual([{ records: produced.length, tombstones }]);
    const [v] = await select<{ versions: number; sources: number; zero_ids: number }>(
      stack,
      `SELECT count() AS versions, uniqExact(kafka_partition, kafka_offset) AS sources, countIf(id = 0) AS zero_ids
FROM analytics.orders`,
    );
    // One version per change event (merges may have collapsed some already), none from a tombstone.
    expect(v!.versions).toBeLessThanOrEqual(produced.length - tombstones);
    expect(v!.sources).toBe(v!.versions);
    expect(v!.zero_ids).toBe(0);
  });

  it('README shows the SQL the example runs', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const sql of [ORDERS_TABLE, ORDERS_SELECT, REVENUE_BY_COUNTRY_SQL]) expect(readme).toContain(sql);
  });
});
