/**
 * Pipelined appends of one partition (Storage.appendsInFlight): the next append is inserted while the
 * one before is still being inserted; outcomes settle in order, and a failure fails the later ones and
 * leaves none of their rows behind.
 */
import { describe, expect, it } from 'vitest';
import { type ClickHouseTransport, clickhouseStorage } from '../src/index.js';
import { testTopic } from '../src/testing/index.js';
import { chdbTestDirectory } from './chdb-directory.js';
import { batch } from './clickhouse-helpers.js';

const { dir, query, track } = chdbTestDirectory('kch-chdb-pipe-');
const DB = 'kafka';

/** Holds the first topic insert until `release`, then fails it; other inserts go through. */
function gated() {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const state = { inserts: 0, release };
  const wrap = (inner: ClickHouseTransport): ClickHouseTransport => ({
    location: inner.location,
    remote: inner.remote,
    command: (q, settings) => inner.command(q, settings),
    selectBytes: (q, settings) => inner.selectBytes(q, settings),
    async insertBytes(table, columns, chunks, options) {
      if (!table.includes('_kch_') && ++state.inserts === 1) {
        await gate;
        throw new Error('Code: 241. DB::Exception: Memory limit exceeded. (MEMORY_LIMIT_EXCEEDED)');
      }
      await inner.insertBytes(table, columns, chunks, options);
    },
    close: () => inner.close(),
  });
  return { state, wrap };
}

describe('pipelined appends (chdb)', () => {
  it('inserts the next append of a partition while one runs, and settles them in order', async () => {
    const s = clickhouseStorage({ chdb: dir, database: DB, lingerMs: 0 });
    await s.open();
    track(s);
    expect(s.appendsInFlight).toBe(2);
    const t = testTopic(1);
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    const order: string[] = [];
    const a = s.append(tp, [await batch({ baseOffset: 0n, records: [{ value: Buffer.from('a') }] })]);
    const b = s.append(tp, [await batch({ baseOffset: 1n, records: [{ value: Buffer.from('b') }] })]);
    await Promise.all([a.then(() => order.push('a')), b.then(() => order.push('b'))]);
    expect(order).toEqual(['a', 'b']);
    expect(await query(`SELECT offset, value FROM ${DB}.\`${t.name}\` ORDER BY offset`)).toBe('0\ta\n1\tb\n');
  });

  it('fails the appends after a failed one, removes rows that landed, and takes the offsets again', async () => {
    const { state, wrap } = gated();
    const s = clickhouseStorage({
      chdb: dir,
      database: DB,
      lingerMs: 0,
      insertRetries: 0,
      wrapTransport: wrap,
    });
    await s.open();
    track(s);
    const t = testTopic(1);
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    const a = s.append(tp, [await batch({ baseOffset: 0n, records: [{ value: Buffer.from('a') }] })]);
    // Handed in while the first insert is held: its own insert goes through and its rows land.
    const b = s.append(tp, [await batch({ baseOffset: 1n, records: [{ value: Buffer.from('b') }] })]);
    const outcomes = Promise.allSettled([a, b]);
    while (state.inserts < 2) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    state.release();
    const [ra, rb] = await outcomes;
    expect(ra.status).toBe('rejected');
    expect(rb).toMatchObject({ status: 'rejected', reason: { kind: 'UNAVAILABLE', retriable: true } });
    // An append that still follows the failed ones is refused, retriably.
    await expect(
      s.append(tp, [await batch({ baseOffset: 1n, records: [{ value: Buffer.from('x') }] })]),
    ).rejects.toMatchObject({ kind: 'UNAVAILABLE', retriable: true });
    // The offsets are taken again from the end of what was stored; b's rows are gone.
    await s.append(tp, [await batch({ baseOffset: 0n, records: [{ value: Buffer.from('c') }] })]);
    expect(await query(`SELECT offset, value FROM ${DB}.\`${t.name}\` ORDER BY offset`)).toBe('0\tc\n');
    const read = await s.read(tp, 0, 1 << 20);
    expect(read.map((r) => r.baseOffset)).toEqual([0]);
  });
});
