/**
 * Materialized views on topics (ClickHouseStorage.createView / ensureView / listViews / dropView) on
 * embedded ClickHouse: rows flow from appends into the views' tables, the definitions come back as
 * declared, refusals say why, and populate backfills each stored record exactly once while appends go
 * on. chdb binds one data directory per process; this file has its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClickHouseStorage, clickhouseStorage, ViewError } from '../src/index.js';
import { testTopic } from '../src/testing/index.js';
import { batch, refusal } from './clickhouse-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kch-views-'));
let s: ClickHouseStorage;

beforeAll(async () => {
  s = clickhouseStorage({ chdb: dir, lingerMs: 1 });
  await s.open();
});
afterAll(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function sql(text: string): Promise<string> {
  return (await s.query(text)).toString('utf8');
}

/** A topic with `partitions` partitions, and a function appending JSON values to one of them. */
async function topic(partitions = 1) {
  const t = testTopic(partitions);
  await s.createTopic(t);
  const next = new Map<number, number>();
  const append = async (values: (object | null)[], partition = 0) => {
    const base = next.get(partition) ?? 0;
    const b = await batch({
      baseOffset: BigInt(base),
      baseTimestamp: 1_700_000_000_000n,
      records: values.map((v) => ({ value: v === null ? null : Buffer.from(JSON.stringify(v)) })),
    });
    await s.append({ topic: t.name, partition }, [b]);
    next.set(partition, b.lastOffset + 1);
  };
  return { name: t.name, append };
}

/** assumeNotNull: value is Nullable (tombstones), and a sorting key may not be. */
const COUNT_BY_VARIANT = `SELECT JSONExtractString(assumeNotNull(value), 'variant') AS variant, count() AS n
FROM {topic} WHERE value IS NOT NULL GROUP BY variant`;

describe('views on topics', () => {
  it('sends appended records through a view into its TO table, and lists it as declared', async () => {
    const t = await topic();
    await sql(
      'CREATE TABLE kafka.by_variant (variant String, n UInt64) ENGINE = SummingMergeTree ORDER BY variant',
    );
    const view = await s.createView({
      name: 'by_variant_mv',
      topic: t.name,
      select: COUNT_BY_VARIANT,
      to: 'by_variant',
    });
    expect(view).toEqual({
      name: 'by_variant_mv',
      topic: t.name,
      select: COUNT_BY_VARIANT,
      to: 'kafka.by_variant',
      engine: null,
      target: 'kafka.by_variant',
      query: expect.stringContaining(`FROM kafka.\`${t.name}\``),
      managed: true,
    });
    await t.append([{ variant: 'A' }, { variant: 'B' }, { variant: 'A' }]);
    await t.append([{ variant: 'B' }, null]);
    expect(await sql('SELECT variant, sum(n) FROM kafka.by_variant GROUP BY variant ORDER BY variant')).toBe(
      'A\t2\nB\t2\n',
    );
    expect((await s.listViews()).find((v) => v.name === 'by_variant_mv')).toEqual(view);
  });

  it('keeps the rows in a table of its own when declared with an engine', async () => {
    const t = await topic(2);
    const view = await s.createView({
      name: 'inner_counts',
      topic: t.name,
      select: COUNT_BY_VARIANT,
      engine: 'ENGINE = SummingMergeTree ORDER BY variant',
    });
    expect(view).toMatchObject({ to: null, engine: 'SummingMergeTree ORDER BY variant', managed: true });
    expect(view.target).toMatch(/^kafka\.`\.inner_id\./);
    await t.append([{ variant: 'A' }], 0);
    await t.append([{ variant: 'A' }, { variant: 'C' }], 1);
    expect(
      await sql('SELECT variant, sum(n) FROM kafka.inner_counts GROUP BY variant ORDER BY variant'),
    ).toBe('A\t2\nC\t1\n');
    await s.dropView('inner_counts');
    expect((await s.listViews()).map((v) => v.name)).not.toContain('inner_counts');
    expect(
      await sql("SELECT count() FROM system.tables WHERE database = 'kafka' AND name LIKE '.inner%'"),
    ).toBe('0\n');
  });

  it('backfills stored records with populate, each once, while appends go on', async () => {
    const t = await topic(3);
    for (let p = 0; p < 3; p++)
      await t.append(
        Array.from({ length: 50 }, () => ({ variant: `p${p}` })),
        p,
      );
    let appended = 150;
    let running = true;
    const appender = (async () => {
      for (let i = 0; running; i++) {
        await t.append([{ variant: `p${i % 3}` }, { variant: `p${i % 3}` }], i % 3);
        appended += 2;
      }
    })();
    let view: Awaited<ReturnType<typeof s.createView>>;
    try {
      await new Promise((r) => setTimeout(r, 30));
      view = await s.createView({
        name: 'populated',
        topic: t.name,
        select: COUNT_BY_VARIANT,
        engine: 'SummingMergeTree ORDER BY variant',
        populate: true,
      });
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      running = false;
      await appender;
    }
    expect(appended).toBeGreaterThan(150);
    expect(await sql(`SELECT count() FROM kafka.\`${t.name}\``)).toBe(`${appended}\n`);
    expect(await sql('SELECT sum(n) FROM kafka.populated')).toBe(`${appended}\n`);
    expect(view.select).toBe(COUNT_BY_VARIANT);
  });

  it('backfills into a TO table, and drops the view again when the backfill is refused', async () => {
    const t = await topic();
    await t.append([{ id: 1 }, null, { id: 2 }]);
    // Columns matched by name as the view does: converted (to LowCardinality), missing (DEFAULT).
    await sql(
      "CREATE TABLE kafka.ids (id UInt64, origin LowCardinality(String), note String DEFAULT 'none') ENGINE = MergeTree ORDER BY id",
    );
    await s.createView({
      name: 'ids_mv',
      topic: t.name,
      select:
        "SELECT 'backfill' AS origin, JSONExtractUInt(value, 'id') AS id FROM {topic} WHERE value IS NOT NULL",
      to: 'kafka.ids',
      populate: true,
    });
    expect(await sql('SELECT id, origin, note FROM kafka.ids ORDER BY id')).toBe(
      '1\tbackfill\tnone\n2\tbackfill\tnone\n',
    );

    // A SELECT that fails on a stored record (the tombstone): the backfill fails, no view is left.
    await sql('CREATE TABLE kafka.raw_values (v UInt8) ENGINE = MergeTree ORDER BY v');
    const select = "SELECT throwIf(value IS NULL, 'no tombstones here') AS v FROM {topic}";
    const e = await refusal(
      s.createView({ name: 'raw_mv', topic: t.name, select, to: 'raw_values', populate: true }),
    );
    expect(e.kind).toBe('INVALID_REQUEST');
    expect(e.message).toMatch(
      /^ClickHouse refused the backfill of view raw_mv: .*no tombstones here.*\(the view was dropped again; kafka\.raw_values may hold rows it wrote\)$/s,
    );
    expect((await s.listViews()).map((v) => v.name)).not.toContain('raw_mv');
  });

  it('refuses an unknown topic, a taken name, bad SQL and bad definitions, saying why', async () => {
    const t = await topic();
    const def = {
      name: 'v_errors',
      topic: t.name,
      select: COUNT_BY_VARIANT,
      engine: 'SummingMergeTree ORDER BY variant',
    };

    const unknown = await refusal(s.createView({ ...def, topic: 'no-such-topic' }));
    expect(unknown.kind).toBe('UNKNOWN_TOPIC_OR_PARTITION');

    await s.createTopic({ ...testTopic(1), name: 'taken_by_topic' });
    const topicName = await refusal(s.createView({ ...def, name: 'taken_by_topic' }));
    expect(topicName.kind).toBe('INVALID_REQUEST');
    expect(topicName.message).toContain('taken_by_topic is the name of a topic');

    await sql('CREATE TABLE kafka.taken_by_table (x UInt8) ENGINE = Memory');
    const tableName = await refusal(s.createView({ ...def, name: 'taken_by_table' }));
    expect(tableName.message).toContain('kafka.taken_by_table is already a table (Memory)');

    await s.createView(def);
    const exists = await refusal(s.createView(def));
    expect(exists).toBeInstanceOf(ViewError);
    expect((exists as ViewError).reason).toBe('exists');

    const bad = await refusal(s.createView({ ...def, name: 'v_bad', select: 'SELECT nope FROM {topic}' }));
    expect(bad.kind).toBe('INVALID_REQUEST');
    expect(bad.message).toMatch(/^ClickHouse refused the view v_bad: UNKNOWN_IDENTIFIER \(47\)/);
    const noTarget = await refusal(
      s.createView({ ...def, name: 'v_bad', engine: undefined, to: 'kafka.nowhere' }),
    );
    expect(noTarget.message).toMatch(/UNKNOWN_TABLE/);

    const invalid = async (d: object) => (await refusal(s.createView(d as never))).message;
    expect(await invalid({ ...def, name: 'v bad' })).toMatch(
      /^invalid view definition: name: must be a plain/,
    );
    expect(await invalid({ ...def, name: '_kch_x' })).toMatch(/name: names starting with _kch_/);
    expect(await invalid({ ...def, select: 'SELECT 1' })).toMatch(/select: must read the topic as \{topic\}/);
    expect(await invalid({ ...def, to: 'kafka.t' })).toMatch(/to: give either to .* or engine/);
    expect(await invalid({ name: 'x', topic: t.name, select: COUNT_BY_VARIANT })).toMatch(/give either to/);
    expect(await invalid({ ...def, extra: 1 })).toMatch(/unrecognized key/i);
    expect((await s.listViews()).map((v) => v.name)).not.toContain('v_bad');
  });

  it('drops a view, leaves the TO table with its rows, and refuses what is not a view', async () => {
    const t = await topic();
    await sql(
      'CREATE TABLE kafka.kept (variant String, n UInt64) ENGINE = SummingMergeTree ORDER BY variant',
    );
    await s.createView({ name: 'kept_mv', topic: t.name, select: COUNT_BY_VARIANT, to: 'kept' });
    await t.append([{ variant: 'A' }]);
    await s.dropView('kept_mv');
    await t.append([{ variant: 'A' }]);
    expect(await sql('SELECT sum(n) FROM kafka.kept')).toBe('1\n');
    const missing = await refusal(s.dropView('kept_mv'));
    expect(missing).toBeInstanceOf(ViewError);
    expect((missing as ViewError).reason).toBe('not-found');
    const table = await refusal(s.dropView('kept'));
    expect(table.message).toBe('kafka.kept is a table (SummingMergeTree), not a materialized view');
  });

  it('creates a declared view once, and says when an existing one differs', async () => {
    const t = await topic();
    const def = {
      name: 'declared',
      topic: t.name,
      select: COUNT_BY_VARIANT,
      engine: 'SummingMergeTree ORDER BY variant',
    };
    expect((await s.ensureView(def)).status).toBe('created');
    expect((await s.ensureView({ ...def, select: `${COUNT_BY_VARIANT};` })).status).toBe('unchanged');
    const other = await s.ensureView({ ...def, select: COUNT_BY_VARIANT.replace('count()', 'uniq(value)') });
    expect(other.status).toBe('different');
    expect(other.view.select).toBe(COUNT_BY_VARIANT);
  });

  it('keeps a view when its topic is deleted, and feeds it again when the topic comes back', async () => {
    const t = await topic();
    await s.createView({
      name: 'survivor',
      topic: t.name,
      select: COUNT_BY_VARIANT,
      engine: 'SummingMergeTree ORDER BY variant',
    });
    await t.append([{ variant: 'A' }]);
    const record = (await s.listTopics()).find((x) => x.name === t.name)!;
    await s.deleteTopic(t.name);
    expect((await s.listViews()).find((v) => v.name === 'survivor')).toMatchObject({ topic: t.name });
    await s.createTopic({ ...record, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' });
    await s.append({ topic: t.name, partition: 0 }, [
      await batch({ baseOffset: 0n, records: [{ value: Buffer.from('{"variant":"A"}') }] }),
    ]);
    expect(await sql('SELECT sum(n) FROM kafka.survivor')).toBe('2\n');
  });

  it('lists views made with SQL by hand, with the topic they read', async () => {
    const t = await topic();
    await sql(
      `CREATE MATERIALIZED VIEW kafka.by_hand ENGINE = MergeTree ORDER BY tuple() AS SELECT offset FROM kafka.\`${t.name}\``,
    );
    const view = (await s.listViews()).find((v) => v.name === 'by_hand');
    expect(view).toMatchObject({ topic: t.name, managed: false, to: null, engine: null });
    expect(view!.select).toBe(`SELECT offset FROM kafka.\`${t.name}\``);
  });

  it('fails appends that a view cannot take, until the view is dropped', async () => {
    const t = await topic();
    await sql('CREATE TABLE kafka.strict_values (v String) ENGINE = MergeTree ORDER BY v');
    await s.createView({
      name: 'strict_mv',
      topic: t.name,
      select: 'SELECT value AS v FROM {topic}',
      to: 'strict_values',
    });
    await t.append([{ ok: 1 }]);
    const e = await refusal(t.append([null]));
    expect(e.message).toMatch(/pushing to view kafka\.strict_mv/);
    await s.dropView('strict_mv');
    await t.append([null]);
    expect(await sql(`SELECT count() FROM kafka.\`${t.name}\``)).toBe('2\n');
  });
});
