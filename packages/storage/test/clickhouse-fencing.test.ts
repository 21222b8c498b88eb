/**
 * Fencing on embedded ClickHouse (chdb) with two storages over the same database, as two brokers: the
 * deposed leader's insert lands after the new leader read the end, at the offsets the new leader goes
 * on to use. Its rows stay in the table (they were never acknowledged) and every read of the new
 * leader, and of a broker opening the partition later, leaves them out. Also: topics bound to a user's
 * table, whose rows carry no leader epoch, are not fenced and keep working.
 */
import { describe, expect, it } from 'vitest';
import { type ClickHouseStorage, clickhouseStorage } from '../src/index.js';
import { leadership, stamped, testTopic } from '../src/testing/index.js';
import { chdbTestDirectory } from './chdb-directory.js';

const { dir, query, track } = chdbTestDirectory('kch-fencing-');
let dbCounter = 0;

/** A storage (broker) over `database`. No checkpoint on a timer: a test writes the ends it needs. */
async function broker(database: string): Promise<ClickHouseStorage> {
  const s = clickhouseStorage({ chdb: dir, database, checkpointIntervalMs: 3_600_000 });
  await s.open();
  track(s);
  return s;
}

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

describe('topics bound to a user table', () => {
  it('are not fenced (their rows keep no leader epoch) and still open in a leadership', async () => {
    const n = ++dbCounter;
    const user = `user_${n}`;
    await query(`CREATE DATABASE IF NOT EXISTS ${user}`);
    await query(
      `CREATE TABLE ${user}.events (_partition UInt32, _offset UInt64, e Int32, o UInt64, _raw_message String) ENGINE = MergeTree ORDER BY (_partition, _offset)`,
    );
    const s = await broker(`kafka_${n}`);
    const t = testTopic(1, { 'kch.table': `${user}.events` });
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    await s.append(tp, [stamped(0, 0, -1, 2, 1_000)]);
    expect((await s.openPartition(tp, leadership(1, [1]))).nextOffset).toBe(2);
    // The epoch-0 row at 1 is past epoch 1's start, but the table cannot tell its epoch: it stays.
    const read = await s.read(tp, 0, 1 << 20);
    expect(read.reduce((n, x) => n + x.recordCount, 0)).toBe(2);
    await s.append(tp, [stamped(2, 1, -1, 1, 2_000)]);
    expect((await s.openPartition(tp)).nextOffset).toBe(3);
  });
});
