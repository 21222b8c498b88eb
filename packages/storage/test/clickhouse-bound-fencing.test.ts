/**
 * Fencing a deposed leader in a table a topic is bound to, on embedded ClickHouse (chdb) with two
 * storages over the same data, as two brokers (as ./clickhouse-fencing.test.ts does for kch's own
 * tables): with a `_leader_epoch` column, the deposed leader's late rows are hidden from every read
 * and removed by the next leader, and its clean-ups never delete its successor's rows at the same
 * offsets. Without the column, where several brokers share the database (a cluster store with
 * manyBrokers: a MemoryClusterStore standing in on chdb, and a ClickHouse with Keeper when ZooKeeper
 * is installed), binding is refused and so is a leadership.
 */
import { decodeBatch } from '@kch/protocol';
import { describe, expect, it, vi } from 'vitest';
import { skipEachUnless } from '../../broker/test/helpers/skip.js';
import { type ClickHouseStorage, clickhouseStorage, MemoryClusterStore, StorageError } from '../src/index.js';
import { leadership, stamped, testBatch, testTopic } from '../src/testing/index.js';
import { chdbTestDirectory } from './chdb-directory.js';
import { useKeeperClickHouse } from './keeper-clickhouse.js';
import { zookeeperRequirement } from './zookeeper.js';

const { query, broker } = chdbTestDirectory('kch-bound-fencing-');
let counter = 0;

/** A user's table for the records of `stamped` (`{"e": epoch, "o": offset}`), `epochColumn` or not. */
async function userTable(epochColumn: boolean): Promise<string> {
  const table = `user_${++counter}.events`;
  await query(`CREATE DATABASE IF NOT EXISTS user_${counter}`);
  const epoch = epochColumn ? ', _leader_epoch Int32' : '';
  await query(
    `CREATE TABLE ${table} (_partition UInt32, _offset UInt64, e Int32, o UInt64${epoch}) ENGINE = MergeTree ORDER BY (_partition, _offset)`,
  );
  return table;
}

/** `offset epoch value-epoch` of the table's rows, as SQL sees them, one line each. */
function sqlRows(table: string, where = '1'): Promise<string> {
  return query(
    `SELECT _offset, _leader_epoch, e FROM ${table} WHERE ${where} ORDER BY _offset, _leader_epoch`,
  );
}

/** [offset, epoch the value was written in] of each record read. */
async function readBack(s: ClickHouseStorage, tp: { topic: string; partition: number }) {
  const out: [number, number][] = [];
  for (const b of await s.read(tp, 0, 1 << 20)) {
    const { records } = await decodeBatch(b.bytes, { verifyCrc: false });
    for (const r of records)
      out.push([b.baseOffset + r.offsetDelta, (JSON.parse(r.value!.toString()) as { e: number }).e]);
  }
  return out;
}

/**
 * Broker a led a one-partition topic bound to `table` in epoch 0 and wrote offsets 0 and 1; broker b
 * took it over in epoch 1, at 2, and a does not know yet.
 */
async function takenOver(table: string, lingerMs?: number) {
  const db = `kafka_${++counter}`;
  const a = await broker(db, lingerMs === undefined ? {} : { lingerMs });
  const t = testTopic(1, { 'kch.table': table });
  await a.createTopic(t);
  const tp = { topic: t.name, partition: 0 };
  await a.openPartition(tp, leadership(0, []));
  await a.append(tp, [stamped(0, 0, -1, 2, 1_000)]);
  const b = await broker(db);
  expect((await b.openPartition(tp, leadership(1, [0]))).nextOffset).toBe(2);
  return { db, a, b, tp };
}

describe('a bound table with _leader_epoch, a deposed leader writing late', () => {
  it("hides its rows from the new leader's reads and end, and the next leader removes them", async () => {
    const table = await userTable(true);
    const { db, a, b, tp } = await takenOver(table);
    // a's insert of epoch 0 lands late, at the offsets b goes on to use.
    await a.append(tp, [stamped(2, 0, -1, 3, 9_000)]);
    await b.append(tp, [stamped(2, 1, -1, 1, 3_000)]);
    expect(await sqlRows(table)).toBe('0\t0\t0\n1\t0\t0\n2\t0\t0\n2\t1\t1\n3\t0\t0\n4\t0\t0\n');

    // Fetch serves b's acknowledged record at 2, never a's, and nothing past b's end.
    expect(await readBack(b, tp)).toEqual([
      [0, 0],
      [1, 0],
      [2, 1],
    ]);
    expect(await b.read(tp, 3, 1 << 20)).toEqual([]);

    // c takes over in epoch 2: its end is b's, and a's late rows go from the table.
    const c = await broker(db);
    expect((await c.openPartition(tp, leadership(2, [0, 2]))).nextOffset).toBe(3);
    expect(await sqlRows(table)).toBe('0\t0\t0\n1\t0\t0\n2\t1\t1\n');
    expect(await readBack(c, tp)).toEqual([
      [0, 0],
      [1, 0],
      [2, 1],
    ]);
  });

  it("cleans up after a refused acknowledgement without deleting the successor's rows", async () => {
    const table = await userTable(true);
    const { a, b, tp } = await takenOver(table);
    await b.append(tp, [stamped(2, 1, -1, 4, 3_000)]);

    // a, paused past its lease, inserts at 2 (where it believes the end is) and finds it was fenced.
    const lost = new Error('fenced');
    const refused = a.append(tp, [stamped(2, 0, -1, 3, 9_000)], { confirm: () => Promise.reject(lost) });
    await expect(refused).rejects.toBe(lost);
    // Its rows go at once; b's acknowledged rows at the same offsets stay, every one.
    await vi.waitFor(
      async () => expect(await sqlRows(table, '_leader_epoch = 0 AND _offset >= 2')).toBe(''),
      {
        timeout: 10_000,
      },
    );
    expect(await sqlRows(table)).toBe('0\t0\t0\n1\t0\t0\n2\t1\t1\n3\t1\t1\n4\t1\t1\n5\t1\t1\n');
    expect((await readBack(b, tp)).map(([, e]) => e)).toEqual([0, 0, 1, 1, 1, 1]);
  });

  it("cleans up after a refused grouped insert without deleting the successor's rows", async () => {
    const table = await userTable(true);
    const { a, b, tp } = await takenOver(table, 50);
    await b.append(tp, [stamped(2, 1, -1, 4, 3_000)]);

    // a's next two appends go as one insert, which ClickHouse refuses for the second one's value
    // (appended without the record check): a removes what the group left before inserting each alone.
    const refused = testBatch({
      baseOffset: 3,
      records: [{ key: null, value: Buffer.from('{"e":"not a number","o":3}'), timestamp: 9_000n }],
      leaderEpoch: 0,
    });
    const [first, second] = await Promise.allSettled([
      a.append(tp, [stamped(2, 0, -1, 1, 9_000)]),
      a.append(tp, [refused]),
    ]);
    expect(first.status).toBe('fulfilled');
    expect(second.status).toBe('rejected');
    // b's rows at 2 to 5 all stay; of a's, only its accepted late row at 2 (hidden from reads).
    expect(await sqlRows(table, '_leader_epoch = 1')).toBe('2\t1\t1\n3\t1\t1\n4\t1\t1\n5\t1\t1\n');
    expect((await readBack(b, tp)).map(([, e]) => e)).toEqual([0, 0, 1, 1, 1, 1]);
  });
});

describe('a bound table without _leader_epoch', () => {
  it('is refused a new binding where several brokers share the database, naming the fix', async () => {
    const table = await userTable(false);
    const s = await broker(`kafka_${++counter}`);
    s.cluster = new MemoryClusterStore();
    const e = await s.createTopic(testTopic(1, { 'kch.table': table })).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(StorageError);
    expect((e as StorageError).kind).toBe('INVALID_REQUEST');
    expect((e as StorageError).message).toContain(
      `table ${table} has no _leader_epoch column, which several brokers sharing this database need to keep a deposed leader's writes apart: ` +
        `add it (ALTER TABLE ${table.replace(/(\w+)\.(\w+)/, '`$1`.`$2`')} ADD COLUMN _leader_epoch Int32 DEFAULT 0)`,
    );
    // With the column added, the same binding is taken.
    await query(`ALTER TABLE ${table} ADD COLUMN _leader_epoch Int32 DEFAULT 0`);
    await s.createTopic(testTopic(1, { 'kch.table': table }));
  });

  it('bound before several brokers shared the database: served, but refused a leadership', async () => {
    const table = await userTable(false);
    const s = await broker(`kafka_${++counter}`);
    const t = testTopic(1, { 'kch.table': table });
    await s.createTopic(t);
    s.cluster = new MemoryClusterStore();
    const tp = { topic: t.name, partition: 0 };
    const e = await s.openPartition(tp, leadership(0, [])).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(StorageError);
    expect((e as StorageError).kind).toBe('INTERNAL');
    expect((e as StorageError).message).toContain(
      `topic ${t.name} cannot be led: table ${table} has no _leader_epoch column`,
    );
  });

  it('on a database of one broker, binds and opens in a leadership as before (not fenced)', async () => {
    const table = await userTable(false);
    const s = await broker(`kafka_${++counter}`);
    const t = testTopic(1, { 'kch.table': table });
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    await s.append(tp, [stamped(0, 0, -1, 2, 1_000)]);
    expect((await s.openPartition(tp, leadership(1, [1]))).nextOffset).toBe(2);
    // The epoch-0 row at 1 is past epoch 1's start, but the table cannot tell its epoch: it stays.
    expect((await readBack(s, tp)).length).toBe(2);
  });
});

describe('a bound table without _leader_epoch on a ClickHouse with Keeper (brokers may share it)', () => {
  const zookeeper = zookeeperRequirement();
  skipEachUnless(zookeeper);
  const keeper = useKeeperClickHouse(zookeeper.available, '/kch_bound_fencing');

  it('is refused a binding, which the column makes possible', async () => {
    const s = clickhouseStorage({ url: keeper.server.url, database: 'bound_k' });
    await s.open();
    try {
      expect(s.cluster?.manyBrokers).toBe(true);
      await s.query('CREATE DATABASE IF NOT EXISTS user_k');
      await s.query(
        'CREATE TABLE user_k.events (_partition UInt32, _offset UInt64, e Int32) ENGINE = MergeTree ORDER BY (_partition, _offset)',
      );
      const t = testTopic(1, { 'kch.table': 'user_k.events' });
      await expect(s.createTopic(t)).rejects.toMatchObject({
        kind: 'INVALID_REQUEST',
        message: expect.stringContaining('table user_k.events has no _leader_epoch column'),
      });
      await s.query('ALTER TABLE user_k.events ADD COLUMN _leader_epoch Int32 DEFAULT 0');
      await s.createTopic(t);
      const tp = { topic: t.name, partition: 0 };
      await s.openPartition(tp, leadership(0, []));
      await s.append(tp, [stamped(0, 0, -1, 1, 1_000)]);
      expect((await s.query('SELECT _offset, _leader_epoch FROM user_k.events')).toString()).toBe('0\t0\n');
    } finally {
      await s.close();
    }
  }, 60_000);
});
