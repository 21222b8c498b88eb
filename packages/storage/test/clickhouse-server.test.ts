/**
 * The ClickHouse storage over HTTP, through @clickhouse/client.
 *
 * - With CLICKHOUSE_URL set (e.g. http://default:@localhost:8123), against that server: the storage
 *   contract and byte-exactness, in a database of their own that is dropped afterwards.
 * - Always, against chdb behind a small stand-in for the HTTP interface (./clickhouse-http-shim.ts),
 *   so the server transport's requests and responses are exercised where no server runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ClickHouseStorage, clickhouseStorage, type Storage, StorageError } from '../src/index.js';
import { runStorageContract, testTopic } from '../src/testing/index.js';
import { batch, byteExactness, onServer } from './clickhouse-helpers.js';
import { type HttpShim, startHttpShim } from './clickhouse-http-shim.js';

function suite(label: string, url: () => string, database: string): void {
  const create = () => clickhouseStorage({ url: url(), database, requestTimeoutMs: 10_000 });
  runStorageContract(label, create, {
    reopen: async (old) => {
      await old.close();
      const next = create();
      await next.open();
      return next;
    },
  });
  describe(`${label}: byte-exactness`, () => {
    const opened: Storage[] = [];
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });
    byteExactness(async () => {
      const s = create();
      await s.open();
      opened.push(s);
      return s;
    });
  });
}

onServer(
  'clickhouse (server at CLICKHOUSE_URL)',
  'the storage contract and byte-exactness',
  'kch_test',
  (url, database) => suite('clickhouse (server at CLICKHOUSE_URL)', () => url, database),
);

describe('clickhouse over HTTP (chdb behind an HTTP stand-in)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kch-http-'));
  let shim: HttpShim;
  beforeAll(async () => {
    shim = await startHttpShim(dir);
  });
  afterAll(async () => {
    await shim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  suite('clickhouse (HTTP)', () => shim.url, 'kafka_http');

  // Several brokers share one stand-in (./shared-clickhouse.ts): requests arrive together.
  it('answers concurrent requests each with its own result, and loses none', async () => {
    const post = async (body: string, query = '') => {
      const r = await fetch(`${shim.url}/${query}`, { method: 'POST', body });
      return { status: r.status, text: await r.text() };
    };
    expect(await post('CREATE DATABASE shim_concurrency')).toEqual({ status: 200, text: '' });
    expect(await post('CREATE TABLE shim_concurrency.t (i UInt32) ENGINE = MergeTree ORDER BY i')).toEqual({
      status: 200,
      text: '',
    });
    const n = 48;
    const answers = await Promise.all(
      Array.from({ length: n }, (_, i) => {
        // Queries of different lengths finish out of order; every fourth fails; the rest are inserts.
        if (i % 4 === 0)
          return post(`SELECT ${i}, count() FROM numbers(${(i + 1) * 20_000}) FORMAT TabSeparated`);
        if (i % 4 === 1) return post(`SELECT no_such_column_${i}`);
        const insert = new URLSearchParams({ query: 'INSERT INTO shim_concurrency.t FORMAT TabSeparated' });
        return post(`${i}\n${i + 1000}\n`, `?${insert}`);
      }),
    );
    answers.forEach((a, i) => {
      if (i % 4 === 0) expect(a).toEqual({ status: 200, text: `${i}\t${(i + 1) * 20_000}\n` });
      else if (i % 4 === 1) expect(a.text).toMatch(new RegExp(`no_such_column_${i}\\b`));
      else expect(a).toEqual({ status: 200, text: '' });
    });
    const inserted = Array.from({ length: n }, (_, i) => i).filter((i) => i % 4 > 1);
    const expected = inserted.flatMap((i) => [i, i + 1000]).sort((x, y) => x - y);
    const rows = await post('SELECT i FROM shim_concurrency.t ORDER BY i');
    expect(rows.text).toBe(expected.map((i) => `${i}\n`).join(''));
  });

  describe('failures', () => {
    const opened: ClickHouseStorage[] = [];
    afterEach(async () => {
      shim.failWith = null;
      for (const s of opened.splice(0)) await s.close();
    });

    it('answers appends retriably while the server fails, keeps nothing of them, and recovers', async () => {
      const s = clickhouseStorage({
        url: shim.url,
        database: 'kafka_http',
        insertRetries: 1,
        retryBackoffMs: 1,
      });
      await s.open();
      opened.push(s);
      const t = testTopic(1);
      await s.createTopic(t);
      const tp = { topic: t.name, partition: 0 };
      await s.append(tp, [await batch({ baseOffset: 0n, records: [{ value: Buffer.from('a') }] })]);
      shim.failWith = 503;
      const err = await s
        .append(tp, [await batch({ baseOffset: 1n, records: [{ value: Buffer.from('b') }] })])
        .catch((e) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect(err).toMatchObject({ kind: 'UNAVAILABLE', retriable: true });
      expect((await s.health()).ok).toBe(false);
      await expect(s.read(tp, 0, 1 << 20)).rejects.toMatchObject({ kind: 'UNAVAILABLE' });
      shim.failWith = null;
      expect((await s.health()).ok).toBe(true);
      const retry = await batch({ baseOffset: 1n, records: [{ value: Buffer.from('b2') }] });
      await s.append(tp, [retry]);
      const back = await s.read(tp, 0, 1 << 20);
      expect(back.map((b) => b.baseOffset)).toEqual([0, 1]);
      expect(back[1]!.bytes.equals(retry.bytes)).toBe(true);
    });

    it('takes an existing client', async () => {
      const client = createClient({ url: shim.url });
      const s = clickhouseStorage({ client, database: 'kafka_http' });
      await s.open();
      expect((await s.health()).ok).toBe(true);
      await s.close();
      // The caller's client stays open.
      expect((await client.ping()).success).toBe(true);
      await client.close();
    });
  });
});
