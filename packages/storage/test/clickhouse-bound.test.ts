/**
 * Topics bound to a user's table (kch.table / kch.format) on embedded ClickHouse (chdb): binding,
 * virtual columns, DEFAULTs and required columns, the record check, byte-exact and re-serialized
 * fetches, CSV and TSV topics, schema changes, restarts, shared tables, and batches with holes on both
 * kinds of tables. chdb binds one data directory per process; this file has its own, and each test its
 * own databases.
 */
import { decodeBatch, type RecordInput } from '@kch/protocol';
import { describe, expect, it } from 'vitest';
import {
  type CheckedRecord,
  type ClickHouseStorage,
  clickhouseStorage,
  memoryStorage,
  StorageError,
  type StoredBatch,
  type TopicPartition,
} from '../src/index.js';
import { testTopic } from '../src/testing/index.js';
import { chdbTestDirectory } from './chdb-directory.js';
import { batch } from './clickhouse-helpers.js';

const { dir, query, track } = chdbTestDirectory('kch-bound-');
let dbCounter = 0;

/** A storage in its own kch database, and a fresh database for the user's tables. */
async function setup(
  options: Partial<Parameters<typeof clickhouseStorage>[0]> = {},
): Promise<{ s: ClickHouseStorage; db: string; kchDb: string }> {
  const n = ++dbCounter;
  const db = `user_${n}`;
  const kchDb = `kafka_${n}`;
  await query(`CREATE DATABASE IF NOT EXISTS ${db}`);
  const s = await storage(kchDb, options);
  return { s, db, kchDb };
}

async function storage(
  database: string,
  options: Partial<Parameters<typeof clickhouseStorage>[0]> = {},
): Promise<ClickHouseStorage> {
  const s = clickhouseStorage({ chdb: dir, database, ...options });
  await s.open();
  track(s);
  return s;
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

/** What the broker does: check each record, then append them as one batch at the log end. */
async function produce(
  s: ClickHouseStorage,
  tp: TopicPartition,
  records: RecordInput[],
  init: { baseTimestamp?: bigint } = {},
): Promise<StoredBatch> {
  const check = await s.recordCheck(tp.topic);
  if (check) {
    for (const r of records) {
      const problem = check({ key: toBuf(r.key), value: toBuf(r.value), headers: headersOf(r) });
      expect(problem).toBeNull();
    }
  }
  const { nextOffset } = await s.openPartition(tp);
  const b = await batch({
    baseOffset: BigInt(nextOffset),
    baseTimestamp: init.baseTimestamp ?? 1_700_000_000_000n,
    records,
  });
  await s.append(tp, [b]);
  return b;
}

const toBuf = (b: Uint8Array | null | undefined): Buffer | null => (b == null ? null : Buffer.from(b));
const headersOf = (r: RecordInput): CheckedRecord['headers'] =>
  (r.headers ?? []).map((h) => ({ key: h.key, value: toBuf(h.value) }));

async function check(s: ClickHouseStorage, topic: string, value: string | null, key: string | null = null) {
  const c = await s.recordCheck(topic);
  if (!c) throw new Error('no check');
  return c({
    key: key === null ? null : Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
    headers: [],
  });
}

async function records(batches: StoredBatch[]) {
  const out: {
    offset: number;
    timestamp: number;
    key: string | null;
    value: string | null;
    headers: [string, string | null][];
  }[] = [];
  for (const b of batches) {
    const d = await decodeBatch(b.bytes);
    for (const r of d.records) {
      out.push({
        offset: b.baseOffset + r.offsetDelta,
        timestamp: Number(d.header.baseTimestamp) + r.timestampDelta,
        key: r.key === null ? null : r.key.toString('utf8'),
        value: r.value === null ? null : r.value.toString('utf8'),
        headers: r.headers.map((h) => [h.key, h.value === null ? null : h.value.toString('utf8')]),
      });
    }
  }
  return out;
}

const ORDERS = (db: string, extra = '') => `CREATE TABLE ${db}.orders (
  _topic LowCardinality(String),
  _partition UInt32,
  _offset UInt64,
  _timestamp DateTime,
  _timestamp_ms DateTime64(3),
  _key Nullable(String),
  _headers Nested(name String, value String),
  id UInt32,
  name String DEFAULT 'anon',
  qty Nullable(Int32),
  placed DateTime DEFAULT toDateTime('2020-01-01 00:00:00', 'UTC')${extra}
) ENGINE = MergeTree ORDER BY (_topic, _partition, _offset)`;

describe('binding a topic to a table', () => {
  it('fills each row from the value, the virtual columns from the record, and DEFAULTs for the rest', async () => {
    const { s, db } = await setup();
    await query(ORDERS(db));
    const t = testTopic(2, { 'kch.table': `${db}.orders` });
    await s.createTopic(t);
    expect(s.topicTable(t.name)).toBe(`\`${db}\`.\`orders\``);
    const tp = { topic: t.name, partition: 1 };
    await produce(
      s,
      tp,
      [
        {
          key: Buffer.from('k1'),
          value: json({
            id: 1,
            name: 'ann',
            qty: 5,
            placed: '2024-01-31T10:00:00Z',
            extra: { ignored: true },
          }),
          headers: [
            { key: 'trace', value: Buffer.from('abc') },
            { key: 'empty', value: null },
          ],
          timestamp: 1_700_000_000_123n,
        },
        { key: null, value: json({ id: 2 }), timestamp: 1_700_000_001_000n },
      ],
      { baseTimestamp: 1_700_000_000_123n },
    );
    expect(
      await query(
        `SELECT _topic = '${t.name}', _partition, _offset, _timestamp, toUnixTimestamp64Milli(_timestamp_ms), _key, _headers.name, _headers.value, id, name, qty, placed FROM ${db}.orders ORDER BY _offset FORMAT TSV SETTINGS session_timezone = 'UTC'`,
      ),
    ).toBe(
      [
        "1\t1\t0\t2023-11-14 22:13:20\t1700000000123\tk1\t['trace','empty']\t['abc','']\t1\tann\t5\t2024-01-31 10:00:00",
        '1\t1\t1\t2023-11-14 22:13:21\t1700000001000\t\\N\t[]\t[]\t2\tanon\t\\N\t2020-01-01 00:00:00',
        '',
      ].join('\n'),
    );
  });

  it('refuses tables that are missing, lack _partition/_offset, or have virtual columns of other types', async () => {
    const { s, db } = await setup();
    const refused = async (configs: Record<string, string>) => {
      const e = await s.createTopic(testTopic(1, configs)).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(StorageError);
      expect(e).toMatchObject({ kind: 'INVALID_REQUEST', retriable: false });
      return (e as StorageError).message;
    };
    expect(await refused({ 'kch.table': `${db}.nope` })).toMatch(/does not exist: create it first/);
    await query(`CREATE TABLE ${db}.plain (id UInt32, _offset UInt64) ENGINE = MergeTree ORDER BY id`);
    const msg = await refused({ 'kch.table': `${db}.plain` });
    expect(msg).toContain('missing: _partition');
    expect(msg).toContain('`_partition UInt32, _offset UInt64`');
    expect(msg).toContain('ORDER BY (_partition, _offset)');
    await query(
      `CREATE TABLE ${db}.badkey (_partition UInt32, _offset UInt64, _key UInt32) ENGINE = MergeTree ORDER BY (_partition, _offset)`,
    );
    expect(await refused({ 'kch.table': `${db}.badkey` })).toMatch(
      /column _key .* has type UInt32.*String or Nullable\(String\)/,
    );
    await query(ORDERS(db));
    expect(await refused({ 'kch.table': `${db}.orders`, 'kch.format': 'Avro' })).toMatch(
      /kch.format must be JSONEachRow, CSV or TabSeparated/,
    );
    expect(await refused({ 'kch.format': 'CSV' })).toMatch(/set kch.table too/);
    expect(await s.listTopics()).toEqual([]);
  });

  it('takes `table` in the storage database, and refuses binding in the memory storage', async () => {
    const { s, kchDb } = await setup();
    await query(ORDERS(kchDb).replace(`${kchDb}.orders`, `${kchDb}.mine`));
    const t = testTopic(1, { 'kch.table': 'mine' });
    await s.createTopic(t);
    expect(s.topicTable(t.name)).toBe(`\`${kchDb}\`.\`mine\``);
    await produce(s, { topic: t.name, partition: 0 }, [{ value: json({ id: 7 }) }]);
    expect(await query(`SELECT id FROM ${kchDb}.mine`)).toBe('7\n');

    const m = memoryStorage();
    await expect(m.createTopic(testTopic(1, { 'kch.table': 'x.y' }))).rejects.toMatchObject({
      kind: 'INVALID_REQUEST',
      message: expect.stringContaining('binding a topic to a table (kch.table) needs the ClickHouse storage'),
    });
    const plain = testTopic(1);
    await m.createTopic(plain);
    await expect(m.setTopicConfigs(plain.name, { 'kch.table': 'x.y' })).rejects.toMatchObject({
      kind: 'INVALID_REQUEST',
    });
  });
});

describe('the record check', () => {
  it('says what does not fit: null values, non-JSON, types, required and kch-set fields', async () => {
    const { s, db } = await setup();
    await query(ORDERS(db, ", code FixedString(2) DEFAULT 'xx', tags Array(String) DEFAULT []"));
    const t = testTopic(1, { 'kch.table': `${db}.orders` });
    await s.createTopic(t);
    const plain = testTopic(1);
    await s.createTopic(plain);
    expect(await s.recordCheck(plain.name)).toBeNull();

    expect(await check(s, t.name, '{"id": 1, "unknown": [1, {"x": 2}]}')).toBeNull();
    expect(await check(s, t.name, '  {"id":4294967295,"qty":null,"code":"ab","tags":["a"]}\n')).toBeNull();
    expect(await check(s, t.name, null)).toMatch(/null value.*becomes a row of table/);
    expect(await check(s, t.name, '{"id": 1')).toMatch(/not JSON/);
    expect(await check(s, t.name, '[1]')).toMatch(/must be a JSON object.*not an array/);
    expect(await check(s, t.name, '{"name": "x"}')).toBe(
      'field "id": expected UInt32, got nothing (the column has no DEFAULT)',
    );
    expect(await check(s, t.name, '{"id": null}')).toMatch(/field "id": expected UInt32, got nothing/);
    expect(await check(s, t.name, '{"id": "abc"}')).toBe('field "id": expected UInt32, got "abc"');
    expect(await check(s, t.name, '{"id": 4294967296}')).toBe(
      'field "id": expected UInt32 (0 to 4294967295), got 4294967296',
    );
    expect(await check(s, t.name, '{"id": 1, "qty": 1.5}')).toBe(
      'field "qty": expected Nullable(Int32), got 1.5',
    );
    expect(await check(s, t.name, '{"id": 1, "code": "abc"}')).toBe(
      'field "code": expected FixedString(2) (at most 2 bytes), got "abc"',
    );
    expect(await check(s, t.name, '{"id": 1, "tags": ["a", 5, null]}')).toBe(
      'field "tags", element 3: expected String, got null',
    );
    expect(await check(s, t.name, '{"id": 1, "placed": "soon"}')).toMatch(
      /^field "placed": expected DateTime \(e\.g\./,
    );
    expect(await check(s, t.name, '{"id": 1, "_offset": 5}')).toMatch(/field "_offset": set by kch/);
    expect(await check(s, t.name, '{"id": 1, "id": 2}')).toBe('field "id" appears twice');
    const bad = Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]);
    expect((await s.recordCheck(t.name))!({ key: null, value: bad, headers: [] })).toMatch(/not valid UTF-8/);
  });
});

describe('fetching a bound topic', () => {
  it('returns values byte for byte from _raw_message, with keys, headers and timestamps', async () => {
    const { s, db } = await setup();
    await query(ORDERS(db, ', _raw_message String'));
    const t = testTopic(1, { 'kch.table': `${db}.orders` });
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    const values = [
      '{ "id" : 1 ,"name":"é\\u00e9 \\"q\\""}',
      '{"id":2,"qty":-3}\n',
      '{}'.replace('{}', '{"id":3}'),
    ];
    await produce(s, tp, [
      {
        key: Buffer.from('a'),
        value: Buffer.from(values[0]!),
        headers: [{ key: 'h', value: Buffer.from('1') }],
        timestamp: 1_700_000_000_005n,
      },
      { key: null, value: Buffer.from(values[1]!), timestamp: 1_700_000_000_009n },
    ]);
    await produce(s, tp, [
      { key: Buffer.from(''), value: Buffer.from(values[2]!), timestamp: 1_600_000_000_000n },
    ]);
    const back = await s.read(tp, 0, 1 << 20);
    expect(back.every((b) => b.producerId === -1)).toBe(true);
    expect(await records(back)).toEqual([
      { offset: 0, timestamp: 1_700_000_000_005, key: 'a', value: values[0], headers: [['h', '1']] },
      { offset: 1, timestamp: 1_700_000_000_009, key: null, value: values[1], headers: [] },
      { offset: 2, timestamp: 1_600_000_000_000, key: '', value: values[2], headers: [] },
    ]);
    // From the middle, and a budget that fits one record: at least one comes.
    expect((await records(await s.read(tp, 1, 1))).map((r) => r.offset)).toEqual([1]);
    expect(await s.read(tp, 3, 1 << 20)).toEqual([]);
    expect(await s.offsetForTimestamp(tp, 1_700_000_000_006)).toEqual({
      offset: 1,
      timestamp: 1_700_000_000_009,
    });
    expect(await s.offsetForTimestamp(tp, 1_800_000_000_000)).toBeNull();
    expect(await s.maxTimestamp(tp)).toEqual({ offset: 1, timestamp: 1_700_000_000_009 });
  });

  it('keeps "no timestamp" (-1) in a DateTime64 column, and clamps it to 1970 in a DateTime', async () => {
    const { s, db } = await setup();
    await query(ORDERS(db));
    const t = testTopic(1, { 'kch.table': `${db}.orders` });
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    await produce(s, tp, [{ value: json({ id: 1 }), timestamp: -1n }], { baseTimestamp: -1n });
    expect(
      await query(
        `SELECT toUnixTimestamp64Milli(_timestamp_ms), toUnixTimestamp(_timestamp) FROM ${db}.orders`,
      ),
    ).toBe('-1\t0\n');
    expect((await records(await s.read(tp, 0, 1 << 20)))[0]!.timestamp).toBe(-1);
  });

  it('re-serializes rows as JSON without _raw_message, and reads String keys "" back as null', async () => {
    const { s, db } = await setup();
    await query(`CREATE TABLE ${db}.events (
  _partition UInt32, _offset UInt64, _key String, _timestamp DateTime,
  id UInt32, name String DEFAULT 'anon', amount Decimal(9, 2), at DateTime64(3, 'UTC'), total UInt64 MATERIALIZED id * 2
) ENGINE = MergeTree ORDER BY (_partition, _offset)`);
    const t = testTopic(1, { 'kch.table': `${db}.events` });
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    await produce(s, tp, [
      {
        key: Buffer.from('k'),
        value: json({ id: 1, amount: '12.5', at: '2024-01-31 10:00:00.250' }),
        timestamp: 1_700_000_000_999n,
      },
      { key: null, value: json({ id: 2, name: 'bo', amount: 3, at: 0 }) },
    ]);
    const back = await records(await s.read(tp, 0, 1 << 20));
    expect(back.map((r) => [r.key, r.timestamp, JSON.parse(r.value!)])).toEqual([
      ['k', 1_700_000_000_000, { id: 1, name: 'anon', amount: 12.5, at: '2024-01-31 10:00:00.250' }],
      [null, 1_700_000_000_000, { id: 2, name: 'bo', amount: 3, at: '1970-01-01 00:00:00.000' }],
    ]);
  });

  it('serves CSV topics: values fill the columns in table order, re-serialized as CSV', async () => {
    const { s, db } = await setup();
    await query(`CREATE TABLE ${db}.csv (
  _partition UInt32, _offset UInt64, _key Nullable(String), _headers Nested(name String, value String),
  id UInt32, name String DEFAULT 'anon', qty Nullable(Int16), day Date
) ENGINE = MergeTree ORDER BY (_partition, _offset)`);
    const t = testTopic(1, { 'kch.table': `${db}.csv`, 'kch.format': 'CSV' });
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    expect(await check(s, t.name, '1,ann,5,2024-01-31')).toBeNull();
    expect(await check(s, t.name, '1,ann,5')).toMatch(
      /has 3 CSV fields, but table .* takes 4 \(id, name, qty, day\)/,
    );
    expect(await check(s, t.name, 'x,ann,5,2024-01-31')).toBe('field 1 (id): expected UInt32, got "x"');
    expect(await check(s, t.name, ',ann,5,2024-01-31')).toMatch(
      /field 1 \(id\): expected UInt32, got nothing/,
    );
    expect(await check(s, t.name, '1,"a,""b""",70000,2024-01-31')).toMatch(
      /field 3 \(qty\): expected Nullable\(Int16\)/,
    );
    await produce(s, tp, [
      {
        key: Buffer.from('k,"1"'),
        value: Buffer.from('1,"a,""b""",\\N,2024-01-31\r\n'),
        headers: [{ key: "it's", value: Buffer.from('v\\') }],
      },
      { value: Buffer.from('2,,7,2024-02-01') },
    ]);
    expect(
      await query(
        `SELECT _offset, _key, _headers.name, _headers.value, id, name, qty, day FROM ${db}.csv ORDER BY _offset`,
      ),
    ).toBe(
      "0\tk,\"1\"\t['it\\'s']\t['v\\\\']\t1\ta,\"b\"\t\\N\t2024-01-31\n1\t\\N\t[]\t[]\t2\tanon\t7\t2024-02-01\n",
    );
    expect((await records(await s.read(tp, 0, 1 << 20))).map((r) => [r.key, r.value, r.headers])).toEqual([
      ['k,"1"', '1,"a,""b""",\\N,"2024-01-31"', [["it's", 'v\\']]],
      [null, '2,"anon",7,"2024-02-01"', []],
    ]);
  });

  it('serves TSV topics, keeping keys and header values byte-exact', async () => {
    const { s, db } = await setup();
    await query(`CREATE TABLE ${db}.tsv (
  _partition UInt32, _offset UInt64, _key Nullable(String), _headers Nested(name String, value String), _raw_message String,
  id UInt32, note String
) ENGINE = MergeTree ORDER BY (_partition, _offset)`);
    const t = testTopic(1, { 'kch.table': `${db}.tsv`, 'kch.format': 'TSV' });
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    expect(await check(s, t.name, '1\ta\\tb\tc')).toMatch(/has 3 TabSeparated fields, but table .* takes 2/);
    const key = Buffer.from([0xff, 0x00, 0x09, 0x5c, 0x41]);
    const value = Buffer.from('1\ta\\tb\\\\c\n');
    await produce(s, tp, [{ key, value, headers: [{ key: 'bin', value: Buffer.from([0xc3, 0x28, 0x0a]) }] }]);
    expect(await query(`SELECT id, note, hex(_key) FROM ${db}.tsv`)).toBe('1\ta\\tb\\\\c\tFF00095C41\n');
    const [b] = await s.read(tp, 0, 1 << 20);
    const [r] = (await decodeBatch(b!.bytes)).records;
    expect(r!.key).toEqual(key);
    expect(r!.value).toEqual(value);
    expect(r!.headers[0]!.value).toEqual(Buffer.from([0xc3, 0x28, 0x0a]));
  });
});

describe('schema changes', () => {
  it('picks up ALTER TABLE ADD COLUMN without a restart: checks, SELECT and fetch show the column', async () => {
    const { s, db } = await setup();
    await query(ORDERS(db));
    const t = testTopic(1, { 'kch.table': `${db}.orders` });
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    await produce(s, tp, [{ value: json({ id: 1, score: 300 }) }]);
    await query(
      `ALTER TABLE ${db}.orders ADD COLUMN score UInt8 DEFAULT 0, ADD COLUMN color String DEFAULT 'none'`,
    );
    // Columns are read again at most once a second.
    await new Promise((r) => setTimeout(r, 1100));
    expect(await check(s, t.name, '{"id": 2, "score": 300}')).toBe(
      'field "score": expected UInt8 (0 to 255), got 300',
    );
    await produce(s, tp, [{ value: json({ id: 2, score: 7, color: 'red' }) }]);
    expect(await query(`SELECT id, score, color FROM ${db}.orders ORDER BY _offset`)).toBe(
      '1\t0\tnone\n2\t7\tred\n',
    );
    const back = await records(await s.read(tp, 0, 1 << 20));
    expect(back.map((r) => JSON.parse(r.value!))).toEqual([
      { id: 1, name: 'anon', qty: null, placed: '2020-01-01 00:00:00', score: 0, color: 'none' },
      { id: 2, name: 'anon', qty: null, placed: '2020-01-01 00:00:00', score: 7, color: 'red' },
    ]);
  });
});

describe('lifecycle', () => {
  it('keeps the binding and the offsets across a restart', async () => {
    const { s, db, kchDb } = await setup();
    await query(ORDERS(db));
    const t = testTopic(2, { 'kch.table': `${db}.orders`, 'kch.format': 'JSONEachRow' });
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 1 };
    await produce(s, tp, [{ value: json({ id: 1 }) }, { value: json({ id: 2 }) }]);
    await s.close();
    const again = await storage(kchDb);
    expect((await again.listTopics()).find((x) => x.name === t.name)?.configs).toEqual(t.configs);
    expect(again.topicTable(t.name)).toBe(`\`${db}\`.\`orders\``);
    expect(await again.openPartition(tp)).toEqual({ logStartOffset: 0, nextOffset: 2, producerBatches: [] });
    expect(await check(again, t.name, '{"id":"x"}')).toBe('field "id": expected UInt32, got "x"');
    await produce(again, tp, [{ value: json({ id: 3 }) }]);
    expect(await query(`SELECT _partition, _offset, id FROM ${db}.orders ORDER BY _offset`)).toBe(
      '1\t0\t1\n1\t1\t2\n1\t2\t3\n',
    );
    expect((await records(await again.read(tp, 0, 1 << 20))).map((r) => r.offset)).toEqual([0, 1, 2]);
  });

  it('shares a table with _topic between topics, each reading its own rows; without _topic it refuses', async () => {
    const { s, db } = await setup();
    await query(ORDERS(db));
    const a = testTopic(1, { 'kch.table': `${db}.orders` });
    const b = testTopic(1, { 'kch.table': `${db}.orders` });
    await s.createTopic(a);
    await s.createTopic(b);
    await produce(s, { topic: a.name, partition: 0 }, [
      { value: json({ id: 1 }) },
      { value: json({ id: 2 }) },
    ]);
    await produce(s, { topic: b.name, partition: 0 }, [{ value: json({ id: 10 }) }]);
    expect(await query(`SELECT _topic = '${a.name}', _offset, id FROM ${db}.orders ORDER BY id`)).toBe(
      '1\t0\t1\n1\t1\t2\n0\t0\t10\n',
    );
    expect(
      (await records(await s.read({ topic: b.name, partition: 0 }, 0, 1 << 20))).map((r) => r.value),
    ).toEqual(['{"id":10,"name":"anon","qty":null,"placed":"2020-01-01 00:00:00"}']);
    expect((await s.openPartition({ topic: a.name, partition: 0 })).nextOffset).toBe(2);

    await query(
      `CREATE TABLE ${db}.solo (_partition UInt32, _offset UInt64, id UInt32) ENGINE = MergeTree ORDER BY (_partition, _offset)`,
    );
    await s.createTopic(testTopic(1, { 'kch.table': `${db}.solo` }));
    await expect(s.createTopic(testTopic(1, { 'kch.table': `${db}.solo` }))).rejects.toMatchObject({
      kind: 'INVALID_REQUEST',
      message: expect.stringContaining('has no _topic column'),
    });
  });

  it('unbinds on delete, leaving the table and its rows; retention.ms sets no TTL on it', async () => {
    const { s, db } = await setup();
    await query(ORDERS(db));
    const t = testTopic(1, { 'kch.table': `${db}.orders`, 'retention.ms': '3600000' });
    await s.createTopic(t);
    await produce(s, { topic: t.name, partition: 0 }, [{ value: json({ id: 1 }) }]);
    await s.setTopicConfigs(t.name, { 'kch.table': `${db}.orders`, 'retention.ms': '60000' });
    expect(await query(`SHOW CREATE TABLE ${db}.orders`)).not.toMatch(/TTL/);
    await s.deleteTopic(t.name);
    expect(await query(`SELECT id FROM ${db}.orders`)).toBe('1\n');
    // The same name bound again goes on after the rows it finds.
    const again = { ...testTopic(1, { 'kch.table': `${db}.orders` }), name: t.name };
    await s.createTopic(again);
    expect((await s.openPartition({ topic: t.name, partition: 0 })).nextOffset).toBe(1);
  });

  it('changes the table of an empty topic, and refuses once it has records; formats may change', async () => {
    const { s, db, kchDb } = await setup();
    await query(ORDERS(db));
    await query(ORDERS(db).replace(`${db}.orders`, `${db}.orders2`));
    const t = testTopic(1);
    await s.createTopic(t);
    // kch's own table -> a bound table: the empty table kch made goes.
    await s.setTopicConfigs(t.name, { 'kch.table': `${db}.orders` });
    expect(await query(`EXISTS TABLE ${kchDb}.\`${t.name}\``)).toBe('0\n');
    await s.setTopicConfigs(t.name, { 'kch.table': `${db}.orders2` });
    await produce(s, { topic: t.name, partition: 0 }, [{ value: json({ id: 1 }) }]);
    const e = await s.setTopicConfigs(t.name, { 'kch.table': `${db}.orders` }).catch((x: unknown) => x);
    expect(e).toMatchObject({
      kind: 'INVALID_REQUEST',
      message: expect.stringMatching(/has records .* kch.table cannot change/),
    });
    await expect(s.setTopicConfigs(t.name, {})).rejects.toMatchObject({ kind: 'INVALID_REQUEST' });
    await s.setTopicConfigs(t.name, { 'kch.table': `${db}.orders2`, 'kch.format': 'CSV' });
    expect(await check(s, t.name, '5,x,1,2024-01-01 00:00:00')).toBeNull();
    // And back to kch's own table while empty.
    const u = testTopic(1, { 'kch.table': `${db}.orders` });
    await s.createTopic(u);
    await s.setTopicConfigs(u.name, {});
    expect(await s.recordCheck(u.name)).toBeNull();
    await produce(s, { topic: u.name, partition: 0 }, [{ value: Buffer.from('anything') }]);
    expect(await query(`SELECT value FROM ${kchDb}.\`${u.name}\``)).toBe('anything\n');
  });

  it('moves the log start with DeleteRecords (deleting rows before it) and follows rows removed by TTL', async () => {
    const { s, db } = await setup();
    await query(ORDERS(db));
    const t = testTopic(1, { 'kch.table': `${db}.orders` });
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    await produce(
      s,
      tp,
      [0, 1, 2, 3].map((id) => ({ value: json({ id }) })),
    );
    expect(await s.deleteRecordsBefore(tp, 2)).toBe(2);
    expect(await query(`SELECT _offset FROM ${db}.orders ORDER BY _offset`)).toBe('2\n3\n');
    expect((await records(await s.read(tp, 0, 1 << 20))).map((r) => r.offset)).toEqual([2, 3]);
    await query(`DELETE FROM ${db}.orders WHERE _offset = 2`);
    expect(await s.currentLogStartOffset(tp)).toBe(3);
  });
});

describe('failures', () => {
  it('fails only the append ClickHouse refused in a grouped insert, saying which table and offsets', async () => {
    const { s, db } = await setup({ lingerMs: 50 });
    await query(ORDERS(db));
    const t = testTopic(2, { 'kch.table': `${db}.orders` });
    await s.createTopic(t);
    for (const partition of [0, 1]) await s.openPartition({ topic: t.name, partition });
    // Appended without the check (a broker that skipped it): ClickHouse refuses "abc" for UInt32.
    const good = await batch({ baseOffset: 0n, records: [{ value: json({ id: 1 }) }] });
    const bad = await batch({ baseOffset: 0n, records: [{ value: json({ id: 'abc' }) }] });
    const [ok, failed] = await Promise.allSettled([
      s.append({ topic: t.name, partition: 0 }, [good]),
      s.append({ topic: t.name, partition: 1 }, [bad]),
    ]);
    expect(ok.status).toBe('fulfilled');
    expect(failed.status).toBe('rejected');
    const e = (failed as PromiseRejectedResult).reason;
    expect(e).toMatchObject({ kind: 'INVALID_REQUEST', retriable: false });
    expect(e.message).toMatch(
      new RegExp(`table \`${db}\`.\`orders\` refused the records of ${t.name}-1 at offsets 0 to 0`),
    );
    expect(await query(`SELECT _partition, id FROM ${db}.orders`)).toBe('0\t1\n');
    expect((await s.openPartition({ topic: t.name, partition: 1 })).nextOffset).toBe(0);
  });
});

describe('batches with holes', () => {
  it("stores and reads them in kch's own tables: offset deltas kept, empty batches advance the end", async () => {
    const { s, kchDb } = await setup();
    const t = testTopic(1);
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    const holes = await batch({
      baseOffset: 0n,
      lastOffsetDelta: 3,
      records: [
        { value: Buffer.from('a'), offsetDelta: 0 },
        { value: Buffer.from('c'), offsetDelta: 2 },
      ],
    });
    const empty = await batch({ baseOffset: 4n, lastOffsetDelta: 2, records: [] });
    expect([holes.recordCount, holes.lastOffset, empty.recordCount, empty.lastOffset]).toEqual([2, 3, 0, 6]);
    await s.append(tp, [holes]);
    await s.append(tp, [empty]);
    expect((await s.openPartition(tp)).nextOffset).toBe(7);
    const back = await s.read(tp, 0, 1 << 20);
    expect(back[0]!.bytes.equals(holes.bytes)).toBe(true);
    expect(back.slice(1).map((b) => [b.baseOffset, b.lastOffset, b.recordCount])).toEqual([[4, 6, 0]]);
    expect((await s.read(tp, 5, 1 << 20)).map((b) => [b.baseOffset, b.lastOffset, b.recordCount])).toEqual([
      [5, 6, 0],
    ]);
    // A read that found no record leaves the storage's row-size estimate as it was: reads go on.
    expect((await s.read(tp, 0, 1 << 20)).map((b) => b.baseOffset)).toEqual([0, 4]);
    // The end survives a restart, though no row shows it.
    await s.close();
    const again = await storage(kchDb);
    expect((await again.openPartition(tp)).nextOffset).toBe(7);
    await again.append(tp, [await batch({ baseOffset: 7n, records: [{ value: Buffer.from('h') }] })]);
    expect((await again.read(tp, 4, 1 << 20)).map((b) => b.baseOffset)).toEqual([7]);
  });

  it('stores and reads them in bound tables', async () => {
    const { s, db, kchDb } = await setup();
    await query(ORDERS(db));
    const t = testTopic(1, { 'kch.table': `${db}.orders` });
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    await s.append(tp, [
      await batch({
        baseOffset: 0n,
        lastOffsetDelta: 4,
        records: [
          { value: json({ id: 0 }), offsetDelta: 0 },
          { value: json({ id: 3 }), offsetDelta: 3 },
        ],
      }),
      await batch({ baseOffset: 5n, lastOffsetDelta: 1, records: [] }),
    ]);
    expect(await query(`SELECT _offset, id FROM ${db}.orders ORDER BY _offset`)).toBe('0\t0\n3\t3\n');
    const back = await s.read(tp, 0, 1 << 20);
    expect((await records(back)).map((r) => r.offset)).toEqual([0, 3]);
    expect(back.at(-1)).toMatchObject({ baseOffset: 4, lastOffset: 6, recordCount: 0 });
    await s.close();
    const again = await storage(kchDb);
    expect((await again.openPartition(tp)).nextOffset).toBe(7);
  });
});
