/**
 * Transactions on embedded ClickHouse (chdb), as SQL sees them (issue 16, "ClickHouse-native"): the
 * topic's table (kch's own, or the user's table a topic is bound to) and the materialized views on it
 * hold the records of committed transactions and of non-transactional producers only; open and
 * aborted transactions and markers are never rows there, while Kafka reads still see them in place.
 * Also: a broker killed between a marker and the end of its transaction (recovery finishes it, never
 * inserting a record twice), a marker append whose confirmation is refused, DeleteRecords and a topic
 * made again under a deleted one's name. chdb binds one data directory per process: this file has
 * its own, each test its own databases.
 */
import { decodeBatch, type RecordInput } from '@kch/protocol';
import { describe, expect, it } from 'vitest';
import { FILE_INSERT_MIN_BYTES } from '../src/clickhouse/chdb-transport.js';
import type { ClickHouseStorage, ClickHouseTransport, StoredBatch, TopicPartition } from '../src/index.js';
import { leadership, producerBatch, testBatch, testMarker, testTopic } from '../src/testing/index.js';
import { chdbTestDirectory } from './chdb-directory.js';

const { query, broker } = chdbTestDirectory('kch-txn-');
let databases = 0;

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const rec = (value: string): RecordInput => ({ key: null, value: json({ v: value }) });

/** A batch of `values` at `offset`: of transactional producer `pid` when given, plain otherwise. */
const batch = (offset: number, values: string[], pid?: number, sequence = 0): StoredBatch =>
  producerBatch(offset, values.map(rec), pid, sequence);

const commit = (offset: number, pid: number) => testMarker(offset, pid, 0, 'commit');
const abort = (offset: number, pid: number) => testMarker(offset, pid, 0, 'abort');

/** A new kch database with a storage over it, and a one-partition topic in its own table. */
async function ownTopic(options?: Parameters<typeof broker>[1], configs: Record<string, string> = {}) {
  const database = `txn_${++databases}`;
  const s = await broker(database, options);
  const t = testTopic(1, configs);
  await s.createTopic(t);
  return { s, database, tp: { topic: t.name, partition: 0 }, table: `${database}.\`${t.name}\``, t };
}

/** The offsets and values of the rows of a topic's table, as SQL reads them. */
async function rows(table: string, offset = 'offset', value = "JSONExtractString(value, 'v')") {
  return query(`SELECT ${offset}, ${value} FROM ${table} ORDER BY ${offset}`);
}

/** [baseOffset, value of each record] of the batches a Kafka read returns, markers as 'COMMIT'/'ABORT'. */
async function readBack(s: ClickHouseStorage, tp: TopicPartition, from = 0): Promise<string[]> {
  const out: string[] = [];
  let next = from;
  for (;;) {
    const batches = await s.read(tp, next, 1 << 20);
    if (batches.length === 0) return out;
    for (const b of batches) {
      if (b.isControl) out.push(`${b.baseOffset}:marker`);
      else if (b.recordCount > 0) out.push(`${b.baseOffset}:${b.bytes.toString('hex')}`);
      next = b.lastOffset + 1;
    }
  }
}

/** The offsets of the records a Kafka read returns, markers as `<offset>:marker`. */
async function recordOffsets(s: ClickHouseStorage, tp: TopicPartition): Promise<(number | string)[]> {
  const out: (number | string)[] = [];
  let next = 0;
  for (;;) {
    const batches = await s.read(tp, next, 1 << 20);
    if (batches.length === 0) return out;
    for (const b of batches) {
      if (b.isControl) out.push(`${b.baseOffset}:marker`);
      else for (const r of (await decodeBatch(b.bytes)).records) out.push(b.baseOffset + r.offsetDelta);
      next = b.lastOffset + 1;
    }
  }
}

const seen = (...batches: StoredBatch[]) =>
  batches.map((b) => `${b.baseOffset}:${b.isControl ? 'marker' : b.bytes.toString('hex')}`);

describe("a transaction in kch's own topic table", () => {
  it('keeps staged records out of the table until COMMIT, then has them at their offsets; the marker is no row', async () => {
    const { s, tp, table } = await ownTopic();
    const t1 = batch(1, ['t1', 't2'], 7);
    const t2 = batch(4, ['t3'], 7, 2);
    await s.append(tp, [batch(0, ['a'])]);
    await s.append(tp, [t1]);
    await s.append(tp, [batch(3, ['b'])]);
    await s.append(tp, [t2]);
    // Open: the table holds the plain records only; Kafka reads (read_uncommitted) see everything.
    expect(await rows(table)).toBe('0\ta\n3\tb\n');
    expect(await readBack(s, tp)).toEqual([
      ...seen(batch(0, ['a'])),
      ...seen(t1),
      ...seen(batch(3, ['b'])),
      ...seen(t2),
    ]);
    const marker = commit(5, 7);
    await s.append(tp, [marker]);
    expect(await rows(table)).toBe('0\ta\n1\tt1\n2\tt2\n3\tb\n4\tt3\n');
    // The marker is never a row, and nothing is in the table twice.
    expect(
      await query(`SELECT count(), countIf(bitTest(batch_attributes, 5)), uniqExact(offset) FROM ${table}`),
    ).toBe('5\t0\t5\n');
    expect(await readBack(s, tp)).toEqual([
      ...seen(batch(0, ['a'])),
      ...seen(t1),
      ...seen(batch(3, ['b'])),
      ...seen(t2, marker),
    ]);
    expect((await s.openPartition(tp)).nextOffset).toBe(6);
  });

  it('never makes rows of an aborted transaction; Kafka reads skip it, offsets stay', async () => {
    const { s, tp, table, database } = await ownTopic();
    await s.append(tp, [batch(0, ['x1', 'x2'], 9), batch(2, ['a'])]);
    await s.append(tp, [abort(3, 9)]);
    expect(await rows(table)).toBe('2\ta\n');
    expect(await readBack(s, tp)).toEqual([...seen(batch(2, ['a'])), '3:marker']);
    // After a restart too.
    await s.close();
    const again = await broker(database);
    expect((await again.openPartition(tp)).nextOffset).toBe(4);
    expect(await readBack(again, tp)).toEqual([...seen(batch(2, ['a'])), '3:marker']);
    expect(await rows(table)).toBe('2\ta\n');
  });

  it('sends only committed records to a materialized view on the table', async () => {
    const { s, tp, database, t } = await ownTopic();
    const name = `committed_${databases}`;
    await s.createView({
      name,
      topic: t.name,
      select: "SELECT offset, JSONExtractString(value, 'v') AS v FROM {topic}",
      engine: 'MergeTree ORDER BY offset',
    });
    const view = `${database}.${name}`;
    await s.append(tp, [batch(0, ['c1'], 7), batch(1, ['a1', 'a2'], 8), batch(3, ['p'])]);
    expect(await query(`SELECT offset, v FROM ${view} ORDER BY offset`)).toBe('3\tp\n');
    await s.append(tp, [commit(4, 7)]);
    await s.append(tp, [abort(5, 8)]);
    expect(await query(`SELECT offset, v FROM ${view} ORDER BY offset`)).toBe('0\tc1\n3\tp\n');
  });

  it('commits a transaction whose batches and marker are appended without waiting (pipelined)', async () => {
    const { s, tp, table } = await ownTopic();
    const staged = batch(0, ['p1', 'p2'], 7);
    const marker = commit(3, 7);
    await Promise.all([s.append(tp, [staged]), s.append(tp, [batch(2, ['a'])]), s.append(tp, [marker])]);
    expect(await rows(table)).toBe('0\tp1\n1\tp2\n2\ta\n');
    expect(await readBack(s, tp)).toEqual(seen(staged, batch(2, ['a']), marker));
  });

  it('stages and commits a large transaction byte for byte, its side rows typed for chdb’s file inserts', async () => {
    const sideInserts: { bytes: number; types: boolean }[] = [];
    const { s, tp, table } = await ownTopic({
      wrapTransport: (inner) => ({
        ...observe(inner, () => {}),
        insertBytes: (t, columns, chunks, options) => {
          if (t.includes('_kch_txn_batches'))
            sideInserts.push({
              bytes: chunks.reduce((n, c) => n + c.length, 0),
              types: options?.types?.length === columns.length,
            });
          return inner.insertBytes(t, columns, chunks, options);
        },
      }),
    });
    const values = Array.from({ length: 400 }, (_, i) => `${i}-${'x'.repeat(1000)}`);
    const big = batch(0, values, 7);
    await s.append(tp, [big]);
    // Past the size from which chdb inserts through a file, which needs the column types.
    expect(sideInserts).toEqual([{ bytes: expect.any(Number), types: true }]);
    expect(sideInserts[0]!.bytes).toBeGreaterThanOrEqual(FILE_INSERT_MIN_BYTES);
    expect((await s.read(tp, 0, 1))[0]!.bytes.equals(big.bytes)).toBe(true);
    expect(await query(`SELECT count() FROM ${table}`)).toBe('0\n');
    await s.append(tp, [commit(400, 7)]);
    expect(await query(`SELECT count(), min(offset), max(offset) FROM ${table}`)).toBe('400\t0\t399\n');
    expect((await s.read(tp, 0, 1))[0]!.bytes.equals(big.bytes)).toBe(true);
  });

  it('never asks the side table when a read meets no transaction', async () => {
    const sideQueries: string[] = [];
    const { s, tp } = await ownTopic({
      wrapTransport: (inner) =>
        observe(inner, (sql) => sql.includes('_kch_txn_batches') && sideQueries.push(sql)),
    });
    await s.append(tp, [batch(0, ['a', 'b']), batch(2, ['c'])]);
    await s.openPartition(tp);
    sideQueries.length = 0;
    expect(await readBack(s, tp)).toEqual(seen(batch(0, ['a', 'b']), batch(2, ['c'])));
    expect(sideQueries).toEqual([]);
  });
});

describe('a transaction in a topic bound to a table', () => {
  async function boundTopic() {
    const database = `txn_${++databases}`;
    const s = await broker(database);
    await query(`CREATE DATABASE IF NOT EXISTS ${database}_user`);
    const table = `${database}_user.events`;
    await query(
      `CREATE TABLE ${table} (_partition UInt32, _offset UInt64, _leader_epoch Int32, v String) ENGINE = MergeTree ORDER BY (_partition, _offset)`,
    );
    const t = testTopic(1, { 'kch.table': table });
    await s.createTopic(t);
    return { s, database, table, tp: { topic: t.name, partition: 0 } };
  }

  it('inserts the rows of a transaction into the user table only when it commits, never those of an aborted one', async () => {
    const { s, table, tp } = await boundTopic();
    await s.append(tp, [batch(0, ['a'])]);
    await s.append(tp, [batch(1, ['c1', 'c2'], 7)]);
    await s.append(tp, [batch(3, ['x1'], 8)]);
    await s.append(tp, [batch(4, ['b'])]);
    expect(await rows(table, '_offset', 'v')).toBe('0\ta\n4\tb\n');
    expect(await recordOffsets(s, tp)).toEqual([0, 1, 2, 3, 4]);
    await s.append(tp, [commit(5, 7)]);
    await s.append(tp, [abort(6, 8)]);
    expect(await rows(table, '_offset', 'v')).toBe('0\ta\n1\tc1\n2\tc2\n4\tb\n');
    expect(await recordOffsets(s, tp)).toEqual([0, 1, 2, 4, '5:marker', '6:marker']);
  });
});

/**
 * A transport wrapper that kills the storage (every later call fails, as for a broker that stopped)
 * right after an insert `after` picks has succeeded.
 */
function killAfter(after: (table: string, rows: string) => boolean) {
  let dead = false;
  const killed = () => Promise.reject(new Error('test: the broker was killed here'));
  const wrap = (inner: ClickHouseTransport): ClickHouseTransport => ({
    location: inner.location,
    remote: inner.remote,
    command: (sql, settings) => (dead ? killed() : inner.command(sql, settings)),
    selectBytes: (sql, settings) => (dead ? killed() : inner.selectBytes(sql, settings)),
    insertBytes: async (table, columns, chunks, options) => {
      if (dead) return killed();
      await inner.insertBytes(table, columns, chunks, options);
      if (after(table, Buffer.concat(chunks).toString('latin1'))) dead = true;
    },
    query: inner.query?.bind(inner),
    killQuery: inner.killQuery?.bind(inner),
    close: () => inner.close(),
  });
  return { wrap, isDead: () => dead };
}

/** A transport wrapper that tells `see` every statement (SELECTs and commands). */
function observe(inner: ClickHouseTransport, see: (sql: string) => unknown): ClickHouseTransport {
  return {
    location: inner.location,
    remote: inner.remote,
    command: (sql, settings) => {
      see(sql);
      return inner.command(sql, settings);
    },
    selectBytes: (sql, settings) => {
      see(sql);
      return inner.selectBytes(sql, settings);
    },
    insertBytes: (table, columns, chunks, options) => inner.insertBytes(table, columns, chunks, options),
    query: inner.query?.bind(inner),
    killQuery: inner.killQuery?.bind(inner),
    close: () => inner.close(),
  };
}

const isMarkerRow = (table: string, rows: string) =>
  table.includes('_kch_txn_batches') && rows.includes('\tmarker\t');

describe('a broker killed between a marker and the end of its transaction', () => {
  /** Stages t1..t3 of producer 7 around a plain record, then appends `marker` with a storage killed at `kill`. */
  async function killedAt(
    marker: (offset: number, pid: number) => StoredBatch,
    kill: (topicTable: string) => (table: string, rows: string) => boolean,
  ) {
    const database = `txn_${++databases}`;
    const t = testTopic(1);
    const tp = { topic: t.name, partition: 0 };
    const topicTable = `\`${database}\`.\`${t.name}\``;
    const k = killAfter((table, r) => kill(topicTable)(table, r));
    const first = await broker(database, { wrapTransport: k.wrap });
    await first.createTopic(t);
    const staged = [batch(0, ['t1', 't2'], 7), batch(2, ['a']), batch(3, ['t3'], 7, 2)];
    await first.append(tp, staged);
    const m = marker(4, 7);
    await expect(first.append(tp, [m])).rejects.toThrow();
    expect(k.isDead()).toBe(true);
    await first.close();
    const second = await broker(database);
    return { s: second, tp, staged, marker: m, table: `${database}.\`${t.name}\`` };
  }

  it('finishes a COMMIT whose marker was stored: the records reach the table once, at their offsets', async () => {
    const { s, tp, staged, marker, table } = await killedAt(commit, () => isMarkerRow);
    // Before anything is read again the table has the plain record only: the crash left the rest staged.
    expect(await rows(table)).toBe('2\ta\n');
    const snapshot = await s.openPartition(tp);
    expect(snapshot.nextOffset).toBe(5);
    expect(snapshot.openTransactions ?? []).toEqual([]);
    expect(await rows(table)).toBe('0\tt1\n1\tt2\n2\ta\n3\tt3\n');
    expect(await readBack(s, tp)).toEqual(seen(...staged, marker));
    expect(
      await query(
        `SELECT kind, count() FROM ${table.split('.')[0]}._kch_txn_batches FINAL GROUP BY kind ORDER BY kind`,
      ),
    ).toBe('marker\t1\ncommitted\t2\n');
  });

  it('finishes a COMMIT whose records were inserted but not marked committed, without inserting them twice', async () => {
    let sawMarker = false;
    const { s, tp, staged, marker, table } = await killedAt(commit, (topicTable) => (t, r) => {
      if (isMarkerRow(t, r)) sawMarker = true;
      return sawMarker && t === topicTable;
    });
    expect(await rows(table)).toBe('0\tt1\n1\tt2\n2\ta\n3\tt3\n');
    expect((await s.openPartition(tp)).openTransactions ?? []).toEqual([]);
    expect(await query(`SELECT count(), uniqExact(offset) FROM ${table}`)).toBe('4\t4\n');
    expect(await readBack(s, tp)).toEqual(seen(...staged, marker));
  });

  it('finishes an ABORT whose marker was stored: its batches are never read again, nor rows', async () => {
    const { s, tp, staged, marker, table } = await killedAt(abort, () => isMarkerRow);
    expect((await s.openPartition(tp)).nextOffset).toBe(5);
    expect(await readBack(s, tp)).toEqual(seen(staged[1]!, marker));
    expect(await rows(table)).toBe('2\ta\n');
  });

  it('reopens at the end a staged batch or marker makes, the last of the log', async () => {
    const database = `txn_${++databases}`;
    const s = await broker(database);
    const t = testTopic(1);
    const tp = { topic: t.name, partition: 0 };
    await s.createTopic(t);
    await s.append(tp, [batch(0, ['a']), batch(1, ['t1', 't2'], 7)]);
    await s.close();
    const again = await broker(database);
    expect((await again.openPartition(tp)).nextOffset).toBe(3);
    await again.append(tp, [commit(3, 7)]);
    await again.close();
    const third = await broker(database);
    expect((await third.openPartition(tp)).nextOffset).toBe(4);
  });
});

describe('a marker append whose confirmation is refused (a leader that lost the partition)', () => {
  it('takes the marker back, and a COMMIT appended again inserts no record twice', async () => {
    const { s, tp, table, database } = await ownTopic();
    const staged = batch(0, ['t1', 't2'], 7);
    await s.append(tp, [staged]);
    const lost = new Error('test: the lease was lost');
    await expect(s.append(tp, [commit(2, 7)], { confirm: () => Promise.reject(lost) })).rejects.toBe(lost);
    // The marker is gone from the data, not only from reads (the next use of the partition waits for it).
    expect((await s.openPartition(tp)).nextOffset).toBe(2);
    expect(await query(`SELECT countIf(kind = 'marker') FROM ${database}._kch_txn_batches`)).toBe('0\n');
    // The records the refused COMMIT copied stay (their transaction commits: see transaction-ends.ts)...
    expect(await rows(table)).toBe('0\tt1\n1\tt2\n');
    // ...and the COMMIT appended again (by the next leader, here the same storage) does not copy them again.
    const again = commit(2, 7);
    await s.append(tp, [again]);
    expect(await query(`SELECT count(), uniqExact(offset) FROM ${table}`)).toBe('2\t2\n');
    expect(await readBack(s, tp)).toEqual(seen(staged, again));
  });
});

describe('a COMMIT whose rows that end its batches fail to insert (the broker running on)', () => {
  it('fails the marker, and the COMMIT appended again inserts no record twice', async () => {
    let failing = true;
    const refuseEnds = (inner: ClickHouseTransport): ClickHouseTransport => ({
      location: inner.location,
      remote: inner.remote,
      command: (sql, settings) => inner.command(sql, settings),
      selectBytes: (sql, settings) => inner.selectBytes(sql, settings),
      insertBytes: (table, columns, chunks, options) =>
        failing && table.includes('_kch_txn_batches') && Buffer.concat(chunks).includes('\tcommitted\t')
          ? Promise.reject(new Error('test: the rows that end the batches were refused'))
          : inner.insertBytes(table, columns, chunks, options),
      query: inner.query?.bind(inner),
      killQuery: inner.killQuery?.bind(inner),
      close: () => inner.close(),
    });
    const { s, tp, table } = await ownTopic({ wrapTransport: refuseEnds, insertRetries: 0 });
    const staged = batch(0, ['t1', 't2'], 7);
    await s.append(tp, [staged]);
    await expect(s.append(tp, [commit(2, 7)])).rejects.toThrow();
    // The records were copied before the failure, and stay (their transaction commits).
    expect(await rows(table)).toBe('0\tt1\n1\tt2\n');
    failing = false;
    const again = commit(2, 7);
    await s.append(tp, [again]);
    expect(await query(`SELECT count(), uniqExact(offset) FROM ${table}`)).toBe('2\t2\n');
    expect(await readBack(s, tp)).toEqual(seen(staged, again));
  });
});

describe('side rows and the life of a topic', () => {
  it('drops transaction rows before the log start (DeleteRecords)', async () => {
    const { s, tp, database } = await ownTopic();
    await s.append(tp, [batch(0, ['t1'], 7)]);
    await s.append(tp, [commit(1, 7)]);
    await s.append(tp, [batch(2, ['a']), batch(3, ['u1'], 8)]);
    expect(await s.deleteRecordsBefore(tp, 3)).toBe(3);
    expect(await readBack(s, tp)).toEqual(seen(batch(3, ['u1'], 8)));
    expect(await query(`SELECT min(base_offset) FROM ${database}._kch_txn_batches`)).toBe('3\n');
    expect((await s.openPartition(tp)).openTransactions).toEqual([
      { producerId: 8, producerEpoch: 0, firstOffset: 3 },
    ]);
  });

  it('reports the inserts of staged batches and markers to onFlush listeners, as kind transactions', async () => {
    const { s, tp } = await ownTopic();
    const seenKinds: { kind: string; rows: number; ok: boolean }[] = [];
    const off = s.onFlush((f) => seenKinds.push({ kind: f.kind, rows: f.rows, ok: f.ok }));
    await s.append(tp, [batch(0, ['t1'], 7)]);
    await s.append(tp, [commit(1, 7)]);
    off();
    expect(seenKinds.filter((f) => f.kind === 'transactions')).toEqual([
      { kind: 'transactions', rows: 1, ok: true }, // the staged batch
      { kind: 'transactions', rows: 1, ok: true }, // the marker
      { kind: 'transactions', rows: 1, ok: true }, // the batch's committed row
    ]);
  });

  it('lets retention take transaction rows with the records around them: the log start moves past them', async () => {
    // retention.ms=1: every record of 2023 (the fixtures' time) expires; one stamped ten years ahead stays.
    const { s, tp, database, table } = await ownTopic(undefined, { 'retention.ms': '1' });
    await s.append(tp, [batch(0, ['t1'], 7)]);
    await s.append(tp, [commit(1, 7)]);
    await s.append(tp, [batch(2, ['u1'], 8)]);
    await s.append(tp, [abort(3, 8)]);
    const later = testBatch({ baseOffset: 4, records: [rec('kept')], baseTimestamp: Date.now() + 3.2e11 });
    await s.append(tp, [later]);
    await query(`OPTIMIZE TABLE ${table} FINAL`); // the TTL merge
    expect(await rows(table)).toBe('4\tkept\n');
    expect(await s.currentLogStartOffset(tp)).toBe(4);
    expect(await readBack(s, tp)).toEqual(seen(later));
    expect(await query(`SELECT count() FROM ${database}._kch_txn_batches`)).toBe('0\n');
  });

  it("hides a replaced leader's late staged batches under the partition's leader fences", async () => {
    const { s, tp } = await ownTopic();
    const txn = (offset: number, epoch: number, pid: number, value: string) =>
      testBatch({
        baseOffset: offset,
        records: [rec(value)],
        leaderEpoch: epoch,
        producerId: pid,
        producerEpoch: 0,
        baseSequence: 0,
        transactional: true,
      });
    // Stored before this storage learned that epoch 1 began at 1: the epoch-0 batch at 1 came late.
    const kept = txn(0, 0, 5, 'kept');
    const late = txn(1, 0, 7, 'late');
    const epoch1 = testBatch({ baseOffset: 2, records: [rec('e1')], leaderEpoch: 1 });
    await s.append(tp, [kept, late, epoch1]);
    const opened = await s.openPartition(tp, leadership(2, [0, 1]));
    expect(opened.nextOffset).toBe(3);
    expect(opened.openTransactions).toEqual([{ producerId: 5, producerEpoch: 0, firstOffset: 0 }]);
    expect(await readBack(s, tp)).toEqual(seen(kept, epoch1));
  });

  it('does not show a deleted topic’s transactions to a topic made again under its name', async () => {
    const { s, tp, database, t } = await ownTopic();
    await s.append(tp, [batch(0, ['t1'], 7)]);
    await s.deleteTopic(t.name);
    await s.createTopic({ ...testTopic(1), name: t.name });
    const snapshot = await s.openPartition(tp);
    expect(snapshot.nextOffset).toBe(0);
    expect(snapshot.openTransactions ?? []).toEqual([]);
    expect(await s.read(tp, 0, 1 << 20)).toEqual([]);
    expect(await query(`SELECT count() FROM ${database}._kch_txn_batches`)).toBe('0\n');
  });
});
