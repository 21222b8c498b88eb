/**
 * kch's hands off what it did not make (embedded ClickHouse): a topic is never created over a user's
 * table, view or dictionary; deleting a topic drops only the very table kch created for it; topic
 * names longer than ClickHouse's table names get a derived table name that works end to end; topics
 * stored before kch recorded table identities are adopted only when their table is kch's.
 */
import { describe, expect, it } from 'vitest';
import { fileNameLength, topicTableName } from '../src/clickhouse/topic-tables.js';
import { type ClickHouseStorage, clickhouseStorage, type TopicRecord } from '../src/index.js';
import { testTopic } from '../src/testing/index.js';
import { chdbTestDirectory } from './chdb-directory.js';
import { batch, refusal } from './clickhouse-helpers.js';

const { dir, query, track } = chdbTestDirectory('kch-topic-tables-');
let dbCounter = 0;

async function open(database: string): Promise<ClickHouseStorage> {
  const s = clickhouseStorage({ chdb: dir, database });
  await s.open();
  return track(s);
}

/** A storage in a fresh database. */
async function fresh(): Promise<{ s: ClickHouseStorage; db: string }> {
  const db = `tt_${++dbCounter}`;
  return { s: await open(db), db };
}

const named = (name: string, configs: Record<string, string> = {}): TopicRecord => ({
  ...testTopic(1, configs),
  name,
});

async function appendOne(s: ClickHouseStorage, topic: string, value: string, at = 0): Promise<void> {
  await s.append({ topic, partition: 0 }, [
    await batch({ baseOffset: BigInt(at), records: [{ value: Buffer.from(value) }] }),
  ]);
}

describe('a topic never takes over an object kch did not create', () => {
  it.each([
    [
      'a table',
      (db: string) => `CREATE TABLE ${db}.customers (id UInt32, name String) ENGINE = MergeTree ORDER BY id`,
      'table',
    ],
    ['a view', (db: string) => `CREATE VIEW ${db}.customers AS SELECT 1 AS id`, 'view'],
    [
      'a dictionary',
      (db: string) =>
        `CREATE DICTIONARY ${db}.customers (id UInt64, name String) PRIMARY KEY id SOURCE(NULL()) LAYOUT(FLAT()) LIFETIME(0)`,
      'dictionary',
    ],
  ])('refuses a topic whose table name is %s of the user, and registers nothing', async (_, ddl, kind) => {
    const { s, db } = await fresh();
    await query(ddl(db));
    const e = await refusal(s.createTopic(named('customers')));
    expect(e.kind).toBe('INVALID_TOPIC');
    expect(e.retriable).toBe(false);
    expect(e.message).toContain(`${db}.customers is a ${kind} that kch did not create`);
    expect(e.message).toContain('Choose another topic name');
    if (kind === 'table') expect(e.message).toContain(`kch.table=${db}.customers`);
    else expect(e.message).not.toContain('kch.table');
    expect(await s.listTopics()).toEqual([]);
    expect(await query(`SELECT count() FROM ${db}._kch_topics`)).toBe('0\n');
    // Still there after a restart, and still the user's.
    await s.close();
    const again = await open(db);
    expect(await again.listTopics()).toEqual([]);
    expect(
      await query(`SELECT engine FROM system.tables WHERE database = '${db}' AND name = 'customers'`),
    ).not.toBe('');
  });

  it("leaves a user's table with rows as it is", async () => {
    const { s, db } = await fresh();
    await query(`CREATE TABLE ${db}.customers (id UInt32) ENGINE = MergeTree ORDER BY id`);
    await query(`INSERT INTO ${db}.customers VALUES (1), (2)`);
    await refusal(s.createTopic(named('customers')));
    expect(await query(`SELECT count() FROM ${db}.customers`)).toBe('2\n');
    expect(
      await query(`SELECT name FROM system.columns WHERE database = '${db}' AND table = 'customers'`),
    ).toBe('id\n');
  });

  it("uses the empty table a creation cut short left behind (it is kch's, by its comment)", async () => {
    const { s, db } = await fresh();
    await s.createTopic(named('orders'));
    // What a crash between CREATE TABLE and the topic's row leaves: the table, without the topic.
    await query(`ALTER TABLE ${db}._kch_topics DELETE WHERE name = 'orders'`);
    await s.close();
    const again = await open(db);
    expect(await again.listTopics()).toEqual([]);
    await again.createTopic(named('orders'));
    await appendOne(again, 'orders', 'v');
    expect(await query(`SELECT value FROM ${db}.orders`)).toBe('v\n');
  });

  it("refuses a topic named as another topic's derived table", async () => {
    const { s, db } = await fresh();
    const long = `l.${'y'.repeat(247)}`;
    await s.createTopic(named(long));
    await appendOne(s, long, 'x');
    const derived = s.topicLocation(long)!.slice(db.length + 1);
    const e = await refusal(s.createTopic(named(derived)));
    expect(e.kind).toBe('INVALID_TOPIC');
    expect(await query(`SELECT count() FROM ${s.topicLocation(long)}`)).toBe('1\n');
  });
});

describe('deleting a topic drops only the table kch created for it', () => {
  it("drops kch's own table", async () => {
    const { s, db } = await fresh();
    await s.createTopic(named('orders'));
    await appendOne(s, 'orders', 'v');
    expect(await s.deleteTopic('orders')).toBeUndefined();
    expect(
      await query(`SELECT count() FROM system.tables WHERE database = '${db}' AND name = 'orders'`),
    ).toBe('0\n');
  });

  it('keeps a table the user dropped and made again under the same name, and says so', async () => {
    const { s, db } = await fresh();
    await s.createTopic(named('orders'));
    await query(`DROP TABLE ${db}.orders SYNC`);
    await query(`CREATE TABLE ${db}.orders (id UInt32) ENGINE = MergeTree ORDER BY id`);
    await query(`INSERT INTO ${db}.orders VALUES (7)`);
    const deleted = await s.deleteTopic('orders');
    expect(deleted?.kept).toContain(
      `${db}.orders was left in place: it is a table kch did not create for topic orders`,
    );
    expect(await query(`SELECT id FROM ${db}.orders`)).toBe('7\n');
    expect(await s.listTopics()).toEqual([]);
  });

  it('keeps a view put where the table was', async () => {
    const { s, db } = await fresh();
    await s.createTopic(named('orders'));
    await query(`DROP TABLE ${db}.orders SYNC`);
    await query(`CREATE VIEW ${db}.orders AS SELECT 1 AS one`);
    const deleted = await s.deleteTopic('orders');
    expect(deleted?.kept).toContain('it is a view kch did not create');
    expect(await query(`SELECT engine FROM system.tables WHERE database = '${db}' AND name = 'orders'`)).toBe(
      'View\n',
    );
  });

  it('never drops a bound table', async () => {
    const { s, db } = await fresh();
    await query(
      `CREATE TABLE ${db}.shop_orders (_partition UInt32, _offset UInt64, id UInt32) ENGINE = MergeTree ORDER BY (_partition, _offset)`,
    );
    await s.createTopic(named('orders', { 'kch.table': `${db}.shop_orders` }));
    await s.deleteTopic('orders');
    expect(
      await query(`SELECT count() FROM system.tables WHERE database = '${db}' AND name = 'shop_orders'`),
    ).toBe('1\n');
  });

  it('a topic whose table was replaced is refused for use (never written), and works again once the object is gone', async () => {
    const { s, db } = await fresh();
    await s.createTopic(named('orders'));
    await query(`DROP TABLE ${db}.orders SYNC`);
    await query(`CREATE TABLE ${db}.orders (id UInt32) ENGINE = MergeTree ORDER BY id`);
    await s.close();
    const again = await open(db);
    const e = await refusal(appendOne(again, 'orders', 'v'));
    expect(e.kind).toBe('INVALID_TOPIC');
    expect(e.message).toContain(`the table of topic orders, ${db}.orders, is now a table kch did not create`);
    expect(await query(`SELECT count() FROM ${db}.orders`)).toBe('0\n');
    // The user moves their table away: kch makes the topic's table again.
    await query(`RENAME TABLE ${db}.orders TO ${db}.my_orders`);
    await appendOne(again, 'orders', 'v');
    expect(await query(`SELECT value FROM ${db}.orders`)).toBe('v\n');
    expect(await again.deleteTopic('orders')).toBeUndefined();
    expect(
      await query(`SELECT count() FROM system.tables WHERE database = '${db}' AND name = 'orders'`),
    ).toBe('0\n');
  });

  it('a table replaced while the broker runs: the failed insert keeps nothing, and the next use says why', async () => {
    const { s, db } = await fresh();
    await s.createTopic(named('orders'));
    await appendOne(s, 'orders', 'a');
    await query(`DROP TABLE ${db}.orders SYNC`);
    await query(`CREATE TABLE ${db}.orders (id UInt32) ENGINE = MergeTree ORDER BY id`);
    const first = await refusal(appendOne(s, 'orders', 'b', 1));
    expect(first.kind).toBe('UNAVAILABLE');
    const next = await refusal(appendOne(s, 'orders', 'b', 1));
    expect(next.kind).toBe('INVALID_TOPIC');
    expect(await query(`SELECT count() FROM ${db}.orders`)).toBe('0\n');
  });
});

describe('topics stored before kch recorded table identities', () => {
  /** Makes the topic's row look as an older kch wrote it: no table name or UUID. */
  async function forgetIdentity(db: string, topic: TopicRecord): Promise<void> {
    await query(
      `INSERT INTO ${db}._kch_topics (name, topic_id, partition_count, configs, created_at, deleted, version) VALUES ('${topic.name}', '${topic.topicId}', 1, [], ${topic.createdAt}, 0, toUInt64(now64(6)) * 1000000 + 999999)`,
    );
  }

  it("adopts the topic's table when it has a topic table's columns", async () => {
    const { s, db } = await fresh();
    const t = named('legacy');
    await s.createTopic(t);
    await appendOne(s, 'legacy', 'kept');
    await s.close();
    await query(`ALTER TABLE ${db}.legacy MODIFY COMMENT ''`);
    await forgetIdentity(db, t);
    const again = await open(db);
    expect((await again.read({ topic: 'legacy', partition: 0 }, 0, 1 << 20)).length).toBe(1);
    expect(
      await query(`SELECT comment != '' FROM system.tables WHERE database = '${db}' AND name = 'legacy'`),
    ).toBe('1\n');
    expect(await query(`SELECT table_uuid != '' FROM ${db}._kch_topics FINAL WHERE name = 'legacy'`)).toBe(
      '1\n',
    );
    await again.deleteTopic('legacy');
    expect(
      await query(`SELECT count() FROM system.tables WHERE database = '${db}' AND name = 'legacy'`),
    ).toBe('0\n');
  });

  it("a topic an older kch registered over a user's table: unusable, and deleting it keeps the table", async () => {
    const { s, db } = await fresh();
    await s.close();
    await query(`CREATE TABLE ${db}.customers (id UInt32, name String) ENGINE = MergeTree ORDER BY id`);
    await query(`INSERT INTO ${db}.customers VALUES (1, 'ann')`);
    const t = named('customers');
    await forgetIdentity(db, t);
    const again = await open(db);
    const e = await refusal(again.openPartition({ topic: 'customers', partition: 0 }));
    expect(e.kind).toBe('INVALID_TOPIC');
    const deleted = await again.deleteTopic('customers');
    expect(deleted?.kept).toContain(`${db}.customers was left in place`);
    expect(await query(`SELECT name FROM ${db}.customers`)).toBe('ann\n');
  });
});

describe('every Kafka topic name works', () => {
  const long = (c: string) => `${c}.${'x-'.repeat(123)}y`.slice(0, 249);

  it('derives a stable, collision-free table name where ClickHouse cannot hold the topic name', () => {
    const a = long('a');
    expect(a.length).toBe(249);
    const t = topicTableName(a, 208);
    expect(fileNameLength(t)).toBeLessThanOrEqual(208);
    expect(t).toMatch(/^[A-Za-z0-9_]+_[0-9a-f]{16}$/);
    expect(topicTableName(a, 208)).toBe(t);
    // Same readable prefix, other names: other tables.
    expect(topicTableName(`${a.slice(0, 248)}z`, 208)).not.toBe(t);
    // A name that fits keeps itself, dots and dashes included.
    expect(topicTableName('orders.v1-eu', 208)).toBe('orders.v1-eu');
    // Dots and dashes count three in ClickHouse's limit.
    expect(topicTableName('a.'.repeat(70), 208)).not.toBe('a.'.repeat(70));
    // Never one of kch's metadata tables.
    expect(topicTableName(`.kch_${'z'.repeat(240)}`, 208)).not.toMatch(/^_kch_/);
  });

  it('a 249-character topic: created, appended, read, queried with SQL, kept over a restart, re-created the same', async () => {
    const { s, db } = await fresh();
    const name = long('b');
    await s.createTopic(named(name));
    const table = s.topicLocation(name)!;
    expect(table.startsWith(`${db}.b_x_`)).toBe(true);
    await appendOne(s, name, 'hello');
    const [b] = await s.read({ topic: name, partition: 0 }, 0, 1 << 20);
    expect(b?.recordCount).toBe(1);
    expect(await query(`SELECT value FROM ${table}`)).toBe('hello\n');
    await s.close();
    const again = await open(db);
    expect(again.topicLocation(name)).toBe(table);
    expect((await again.openPartition({ topic: name, partition: 0 })).nextOffset).toBe(1);
    await again.deleteTopic(name);
    expect(
      await query(`SELECT count() FROM system.tables WHERE database = '${db}' AND name LIKE 'b_x_%'`),
    ).toBe('0\n');
    await again.createTopic(named(name));
    expect(again.topicLocation(name)).toBe(table);
  });
});
