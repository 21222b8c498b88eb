/**
 * Fencing on embedded ClickHouse (chdb) with two storages over the same database, as two brokers: the
 * deposed leader's insert lands after the new leader read the end, at the offsets the new leader goes
 * on to use. Every read of the new leader, and of a broker opening the partition later, leaves its rows
 * out; the deposed leader deletes them when its acknowledgement is refused, the next leader when it
 * opens the partition, and the SQL of docs/clickhouse-schema.md leaves out what remains in between.
 * Topics bound to a user's table: ./clickhouse-bound-fencing.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { leadership, stamped, testTopic } from '../src/testing/index.js';
import { chdbTestDirectory } from './chdb-directory.js';

const { query, broker } = chdbTestDirectory('kch-fencing-');
let dbCounter = 0;

describe('fencing a deposed leader', () => {
  it("hides its late insert from the new leader's reads, end and producer state, and from later leaders", async () => {
    const db = `kafka_${++dbCounter}`;
    const a = await broker(db);
    const t = testTopic(1);
    await a.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    const first = stamped(0, 0, 1, 2, 1_000);
    await a.append(tp, [first]);

    // Broker b takes the partition over in epoch 1, at the end it reads.
    const b = await broker(db);
    expect(await b.openPartition(tp, leadership(1, [0]))).toEqual({
      logStartOffset: 0,
      nextOffset: 2,
      producerBatches: [expect.objectContaining({ producerId: 1, baseOffset: 0 })],
    });
    // a's insert of epoch 0 lands late, at the offsets b goes on to use.
    const late = stamped(2, 0, 7, 3, 9_000);
    await a.append(tp, [late]);
    const mine = stamped(2, 1, 2, 1, 3_000);
    await b.append(tp, [mine]);
    expect(await query(`SELECT count() FROM ${db}.\`${t.name}\` WHERE offset >= 2`)).toBe('4\n');

    const read = await b.read(tp, 0, 1 << 20);
    expect(read.map((x) => x.baseOffset)).toEqual([0, 2]);
    expect(read[1]!.bytes.equals(mine.bytes)).toBe(true);
    expect(await b.read(tp, 3, 1 << 20)).toEqual([]);
    expect(await b.offsetForTimestamp(tp, 5_000)).toBeNull();
    expect(await b.maxTimestamp(tp)).toEqual({ offset: 2, timestamp: 3_000 });
    expect(await b.currentLogStartOffset(tp)).toBe(0);

    // A third broker opens the partition in epoch 2: the end and producers are b's, not a's.
    const c = await broker(db);
    const opened = await c.openPartition(tp, leadership(2, [0, 2]));
    expect(opened.nextOffset).toBe(3);
    expect(opened.producerBatches.map((x) => [x.producerId, x.baseOffset])).toEqual([
      [1, 0],
      [2, 2],
    ]);
    expect((await c.read(tp, 0, 1 << 20)).map((x) => x.baseOffset)).toEqual([0, 2]);
    // Deleting records before the end moves the log start over visible rows only.
    expect(await c.deleteRecordsBefore(tp, 10)).toBe(3);
    expect(await c.read(tp, 0, 1 << 20)).toEqual([]);
  });

  it('reads the end again when the partition was open before the leadership came', async () => {
    const db = `kafka_${++dbCounter}`;
    const a = await broker(db);
    const t = testTopic(1);
    await a.createTopic(t);
    const b = await broker(db);
    const tp = { topic: t.name, partition: 0 };
    // b opened the partition (as a follower would) when it was empty, then a appended.
    expect((await b.openPartition(tp)).nextOffset).toBe(0);
    await a.append(tp, [stamped(0, 0, -1, 2, 1_000)]);
    expect((await b.openPartition(tp, leadership(1, [0]))).nextOffset).toBe(2);
    await b.append(tp, [stamped(2, 1, -1, 1, 2_000)]);
    expect((await b.read(tp, 0, 1 << 20)).map((x) => x.baseOffset)).toEqual([0, 2]);
  });
});

/**
 * The query of packages/storage/docs/clickhouse-schema.md that leaves out rows no leader acknowledged,
 * as written there for the topic `orders` in the database `kafka`, made to read `topic` in `db`.
 */
function documentedFilter(db: string, topic: string): string {
  const doc = readFileSync(new URL('../docs/clickhouse-schema.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('### Rows no leader acknowledged'));
  const sql = /```sql\n([\s\S]*?)```/.exec(section)![1]!;
  return sql
    .replaceAll('kafka.orders', `${db}.\`${topic}\``)
    .replaceAll('kafka.', `${db}.`)
    .replaceAll("'orders'", `'${topic}'`);
}

/** `offset epoch` of the partition's rows as SQL sees them, one line each. */
async function sqlRows(table: string, where = '1'): Promise<string> {
  return query(
    `SELECT offset, batch_leader_epoch FROM ${table} WHERE ${where} ORDER BY offset, batch_leader_epoch`,
  );
}

/**
 * Broker a led a one-partition topic in epoch 0 and wrote offsets 0 and 1; broker b took it over in
 * epoch 1, at 2, and a does not know yet.
 */
async function takenOver() {
  const db = `kafka_${++dbCounter}`;
  const a = await broker(db);
  const t = testTopic(1);
  await a.createTopic(t);
  const tp = { topic: t.name, partition: 0 };
  await a.openPartition(tp, leadership(0, []));
  await a.append(tp, [stamped(0, 0, 1, 2, 1_000)]);
  const b = await broker(db);
  await b.openPartition(tp, leadership(1, [0]));
  return { db, a, b, t, tp, table: `${db}.\`${t.name}\`` };
}

describe('removing the rows no leader acknowledged', () => {
  it('leaves them out of SQL by the recorded epoch starts until the next leader deletes them', async () => {
    const { db, a, b, t, tp, table } = await takenOver();
    // a's insert lands late, and a is killed before it learns it lost the partition.
    await a.append(tp, [stamped(2, 0, 7, 3, 9_000)]);
    await b.append(tp, [stamped(2, 1, 2, 1, 3_000)]);
    expect(await sqlRows(table)).toBe('0\t0\n1\t0\n2\t0\n2\t1\n3\t0\n4\t0\n');

    // The leaderships' epoch starts, as brokers record them (a KeeperMap table on a server; chdb has
    // no Keeper, so a plain table with its columns stands in).
    await query(
      `CREATE TABLE ${db}._kch_cluster_owners (key String, node_id Int32, instance String, epoch Int32, epoch_starts String) ENGINE = MergeTree ORDER BY key`,
    );
    await query(
      `INSERT INTO ${db}._kch_cluster_owners VALUES ('p:${t.topicId}:0', 2, 'b', 1, '[[0,0],[1,2]]')`,
    );
    const acknowledged = '0\t0\n1\t0\n2\t1\n';
    expect(await sqlRows(`(${documentedFilter(db, t.name)})`)).toBe(acknowledged);

    // c takes the partition over: a's late rows go from the table, every acknowledged one stays.
    const c = await broker(db);
    expect((await c.openPartition(tp, leadership(2, [0, 2]))).nextOffset).toBe(3);
    expect(await sqlRows(table)).toBe(acknowledged);
    expect((await c.read(tp, 0, 1 << 20)).map((x) => x.baseOffset)).toEqual([0, 2]);
  });

  it("is done by a leader refused its acknowledgement, for its own rows, never its successor's", async () => {
    const { a, b, tp, table } = await takenOver();
    await b.append(tp, [stamped(2, 1, 2, 4, 3_000)]);

    // a, paused past its lease, inserts at 2 (where it believes the end is) and finds it was fenced.
    const lost = new Error('fenced');
    const refused = a.append(tp, [stamped(2, 0, 7, 3, 9_000)], { confirm: () => Promise.reject(lost) });
    await expect(refused).rejects.toBe(lost);
    // Removed at once, not at a's next use of the partition (it may never come).
    await vi.waitFor(
      async () => expect(await sqlRows(table, 'batch_leader_epoch = 0 AND offset >= 2')).toBe(''),
      {
        timeout: 10_000,
      },
    );
    expect(await sqlRows(table)).toBe('0\t0\n1\t0\n2\t1\n3\t1\n4\t1\n5\t1\n');
  });
});
