/**
 * The ClickHouse storage on embedded ClickHouse (chdb): byte-exactness, the table as SQL sees it,
 * failures and recovery, group commit, retention TTL, and restarts. The storage contract itself runs
 * in clickhouse-chdb-contract.test.ts. chdb binds one data directory per process; this file has its own.
 */
import { randomBytes } from 'node:crypto';
import { CompressionType, TimestampType, writeBatchCrc } from '@kch/protocol';
import { describe, expect, it } from 'vitest';
import {
  type ClickHouseStorage,
  type ClickHouseTransport,
  clickhouseStorage,
  StorageError,
} from '../src/index.js';
import { testTopic } from '../src/testing/index.js';
import { chdbTestDirectory } from './chdb-directory.js';
import { batch, byteExactness, expectSameBatch } from './clickhouse-helpers.js';

const { dir, query, track } = chdbTestDirectory('kch-chdb-');
const DB = 'kafka';

async function storage(
  options: Partial<Parameters<typeof clickhouseStorage>[0]> = {},
): Promise<ClickHouseStorage> {
  const s = clickhouseStorage({ chdb: dir, database: DB, ...options });
  await s.open();
  track(s);
  return s;
}

describe('byte-exactness', () => {
  byteExactness(() => storage());

  it('keeps header keys that are not valid UTF-8', async () => {
    const s = await storage();
    const t = testTopic(1);
    await s.createTopic(t);
    const b = await batch({
      baseOffset: 0n,
      baseTimestamp: 1_700_000_000_000n,
      records: [{ key: null, value: Buffer.from('v'), headers: [{ key: 'QQkeyQQ', value: null }] }],
    });
    // Patch the header key's bytes to invalid UTF-8 (same length), as a non-Java client could send.
    const at = b.bytes.indexOf('QQkeyQQ');
    Buffer.from([0xff, 0x00, 0x5c, 0x27, 0xc3, 0x28, 0x09]).copy(b.bytes, at);
    writeBatchCrc(b.bytes);
    await s.append({ topic: t.name, partition: 0 }, [b]);
    const [back] = await s.read({ topic: t.name, partition: 0 }, 0, 1 << 20);
    expect(back!.bytes.equals(b.bytes)).toBe(true);
  });

  it('stores control batches and reads them back, and leaves them out of timestamp lookups', async () => {
    const s = await storage();
    const t = testTopic(1);
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    const data = await batch({
      baseOffset: 0n,
      isTransactional: true,
      producerId: 5n,
      producerEpoch: 0,
      baseSequence: 0,
      records: [{ value: Buffer.from('x'), timestamp: 1000n }],
    });
    const marker = await batch({
      baseOffset: 1n,
      isTransactional: true,
      isControl: true,
      producerId: 5n,
      producerEpoch: 0,
      records: [{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 0]), timestamp: 9000n }],
    });
    await s.append(tp, [data, marker]);
    const back = await s.read(tp, 0, 1 << 20);
    expect(back.map((b) => b.isControl)).toEqual([false, true]);
    await expectSameBatch(back[1]!, marker);
    expect(await s.maxTimestamp(tp)).toEqual({ offset: 0, timestamp: 1000 });
    expect(await s.offsetForTimestamp(tp, 5000)).toBeNull();
    expect((await s.openPartition(tp)).producerBatches).toHaveLength(1);
  });

  it('uses the append time of LogAppendTime batches for timestamps in SQL and lookups', async () => {
    const s = await storage();
    const t = testTopic(1);
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    await s.append(tp, [
      await batch({
        baseOffset: 0n,
        timestampType: TimestampType.LogAppendTime,
        maxTimestamp: 1_700_000_005_000n,
        records: [
          { value: Buffer.from('a'), timestamp: 1_000n },
          { value: Buffer.from('b'), timestamp: 2_000n },
        ],
      }),
    ]);
    expect(await s.offsetForTimestamp(tp, 1_700_000_004_000)).toEqual({
      offset: 0,
      timestamp: 1_700_000_005_000,
    });
    expect(
      await query(
        `SELECT offset, toUnixTimestamp64Milli(timestamp) FROM ${DB}.\`${t.name}\` ORDER BY offset`,
      ),
    ).toBe('0\t1700000005000\n1\t1700000005000\n');
  });
});

describe('the topic table in SQL', () => {
  it('holds what was appended: SELECT partition, offset, key, value, headers', async () => {
    const s = await storage();
    const t = testTopic(3);
    await s.createTopic(t);
    await s.append({ topic: t.name, partition: 2 }, [
      await batch({
        baseOffset: 0n,
        baseTimestamp: 1_700_000_000_000n,
        records: [
          {
            key: Buffer.from('k1'),
            value: Buffer.from('{"a":1}'),
            headers: [{ key: 'h', value: Buffer.from('x') }],
          },
          {
            key: null,
            value: null,
            headers: [
              { key: 'h', value: null },
              { key: 'h', value: Buffer.from('') },
            ],
          },
        ],
      }),
    ]);
    expect(
      await query(
        `SELECT partition, offset, timestamp, key, value, headers FROM ${DB}.\`${t.name}\` ORDER BY partition, offset`,
      ),
    ).toBe(
      `2\t0\t2023-11-14 22:13:20.000\tk1\t{"a":1}\t[('h','x')]\n2\t1\t2023-11-14 22:13:20.000\t\\N\t\\N\t[('h',NULL),('h','')]\n`,
    );
    expect(await query(`SELECT JSONExtractInt(value, 'a') FROM ${DB}.\`${t.name}\` WHERE offset = 0`)).toBe(
      '1\n',
    );
  });

  it('documents its columns and records applied migrations', async () => {
    const s = await storage();
    expect(await query(`SELECT version FROM ${DB}._kch_migrations ORDER BY version`)).toBe(
      '1\n2\n3\n4\n5\n6\n7\n',
    );
    const t = testTopic(1);
    await s.createTopic(t);
    const create = await query(`SHOW CREATE TABLE ${DB}.\`${t.name}\``);
    expect(create).toContain('ORDER BY (partition, offset)');
    expect(create).toContain('non_replicated_deduplication_window = 1000');
    expect(create).toContain('record key, raw bytes; NULL for a null key');
  });

  it('gives new topic tables the default MergeTree settings unless topicTableSettings says otherwise', async () => {
    const settingsOf = async (s: ClickHouseStorage) => {
      const t = testTopic(1);
      await s.createTopic(t);
      return query(
        `SELECT create_table_query FROM system.tables WHERE database = '${DB}' AND name = '${t.name}'`,
      );
    };
    const defaults = await settingsOf(await storage());
    expect(defaults).toMatch(/merge_selector_base = 20\b/);
    expect(defaults).toMatch(/index_granularity_bytes = 1048576\b/);
    expect(defaults).toMatch(/max_compress_block_size = 262144\b/);
    const own = await settingsOf(
      await storage({ topicTableSettings: { merge_selector_base: 8, min_bytes_for_wide_part: 0 } }),
    );
    expect(own).toMatch(/merge_selector_base = 8\b/);
    expect(own).toMatch(/min_bytes_for_wide_part = 0\b/);
    expect(await settingsOf(await storage({ topicTableSettings: {} }))).not.toContain('merge_selector_base');
    expect(() => clickhouseStorage({ chdb: dir, topicTableSettings: { 'x = 1, y': 2 } })).toThrow(
      /setting name/,
    );
  });

  it('refuses topic names reserved for metadata tables', async () => {
    const s = await storage();
    await expect(s.createTopic({ ...testTopic(1), name: '_kch_topics' })).rejects.toMatchObject({
      kind: 'INVALID_TOPIC',
      retriable: false,
      message: expect.stringContaining(
        "names starting with _kch_ are kch's metadata tables; choose another name",
      ),
    });
  });

  it('keeps topic names with dots and dashes as the table name', async () => {
    const s = await storage();
    const t = { ...testTopic(1), name: `my.topic-${Date.now()}` };
    await s.createTopic(t);
    await s.append({ topic: t.name, partition: 0 }, [
      await batch({ baseOffset: 0n, records: [{ value: Buffer.from('v') }] }),
    ]);
    expect(await query(`SELECT value FROM ${DB}.\`${t.name}\``)).toBe('v\n');
  });

  it('runs query() (kch sql, POST /sql) beside the log: a slow statement holds up no append', async () => {
    // A chdb session runs one statement at a time: on the log's session, this append would wait for
    // the sleep, and an INSERT into a Kafka engine table pointed at the broker would wait for ever
    // for its own Produce (packages/broker/test/kafka-engine.test.ts runs that case).
    const s = await storage();
    const t = testTopic(1);
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    await s.openPartition(tp);
    const order: string[] = [];
    const slow = s.query('SELECT sleep(2)').then(() => order.push('query'));
    await new Promise((r) => setTimeout(r, 100)); // the sleep has started
    const append = s
      .append(tp, [await batch({ baseOffset: 0n, records: [{ value: Buffer.from('v') }] })])
      .then(() => order.push('append'));
    await Promise.all([slow, append]);
    expect(order).toEqual(['append', 'query']);
  });
});

describe('retention', () => {
  it('maps retention.ms to a TTL on the topic table, set and removed by setTopicConfigs', async () => {
    const s = await storage();
    const t = testTopic(1, { 'retention.ms': '86400000' });
    await s.createTopic(t);
    const show = () => query(`SHOW CREATE TABLE ${DB}.\`${t.name}\``);
    expect(await show()).toContain('TTL timestamp + toIntervalMillisecond(86400000)');
    await s.setTopicConfigs(t.name, { 'retention.ms': '-1' });
    expect(await show()).not.toMatch(/TTL timestamp/);
    await s.setTopicConfigs(t.name, { 'retention.ms': '3600000', 'cleanup.policy': 'delete' });
    expect(await show()).toContain('TTL timestamp + toIntervalMillisecond(3600000)');
    await s.setTopicConfigs(t.name, {});
    expect(await show()).not.toMatch(/TTL timestamp/);
    await s.setTopicConfigs(t.name, {});
    await expect(s.setTopicConfigs(t.name, { 'retention.ms': 'soon' })).rejects.toMatchObject({
      kind: 'INVALID_REQUEST',
    });
  });

  it('gives a topic that only compacts no TTL, and compact,delete its retention.ms', async () => {
    const s = await storage();
    const t = testTopic(1, { 'retention.ms': '86400000', 'cleanup.policy': 'compact' });
    await s.createTopic(t);
    const show = () => query(`SHOW CREATE TABLE ${DB}.\`${t.name}\``);
    expect(await show()).not.toMatch(/TTL timestamp/);
    await s.setTopicConfigs(t.name, { 'retention.ms': '86400000', 'cleanup.policy': 'compact,delete' });
    expect(await show()).toContain('TTL timestamp + toIntervalMillisecond(86400000)');
    await s.setTopicConfigs(t.name, { 'retention.ms': '86400000', 'cleanup.policy': 'compact' });
    expect(await show()).not.toMatch(/TTL timestamp/);
  });

  it("applies the broker's retention.ms and cleanup.policy defaults to topics without their own", async () => {
    const s = await storage();
    await s.setTopicDefaults({ 'retention.ms': '3600000', 'max.message.bytes': '1' });
    const plain = testTopic(1);
    const own = testTopic(1, { 'retention.ms': '86400000' });
    await s.createTopic(plain);
    await s.createTopic(own);
    const show = (t: { name: string }) => query(`SHOW CREATE TABLE ${DB}.\`${t.name}\``);
    expect(await show(plain)).toContain('TTL timestamp + toIntervalMillisecond(3600000)');
    expect(await show(own)).toContain('TTL timestamp + toIntervalMillisecond(86400000)');
    // A broker-wide compact policy: the topic without its own keeps its records, as on Kafka.
    await s.setTopicDefaults({ 'retention.ms': '3600000', 'cleanup.policy': 'compact' });
    expect(await show(plain)).not.toMatch(/TTL timestamp/);
    expect(await show(own)).not.toMatch(/TTL timestamp/);
    await s.setTopicConfigs(own.name, { 'retention.ms': '86400000', 'cleanup.policy': 'delete' });
    expect(await show(own)).toContain('TTL timestamp + toIntervalMillisecond(86400000)');
    await s.setTopicDefaults({});
    expect(await show(plain)).not.toMatch(/TTL timestamp/);
    await s.setTopicConfigs(plain.name, {});
    expect(await show(plain)).not.toMatch(/TTL timestamp/);
    await s.setTopicDefaults({ 'retention.ms': '60000' });
    expect(await show(plain)).toContain('TTL timestamp + toIntervalMillisecond(60000)');
    expect(await show(own)).toContain('TTL timestamp + toIntervalMillisecond(86400000)');
  });

  it('keeps offsets and the log start when every record is gone (as after TTL)', async () => {
    let s = await storage();
    const t = testTopic(1);
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    await s.append(tp, [
      await batch({ baseOffset: 0n, records: [{ value: Buffer.from('a') }, { value: Buffer.from('b') }] }),
    ]);
    await s.close();
    // What a TTL merge does: the rows go.
    await query(`DELETE FROM ${DB}.\`${t.name}\` WHERE 1`);
    s = await storage();
    expect(await s.openPartition(tp)).toMatchObject({ logStartOffset: 2, nextOffset: 2 });
    expect(await s.read(tp, 0, 1 << 20)).toEqual([]);
  });

  it('keeps the log start of an empty partition at a record stored while the start is being found', async () => {
    // The query for the first row (statements.ts firstOffsetFrom) answers from before the append; its
    // answer arrives after the append was stored (a consumer's ListOffsets EARLIEST on a new partition,
    // beside a producer).
    const FIRST_ROW = 'toInt64(ifNull(toInt64(minOrNull(';
    let hold: { queried: () => void; answer: Promise<void> } | undefined;
    const s = await storage({
      wrapTransport: (inner) => ({
        location: inner.location,
        remote: inner.remote,
        rawBytes: inner.rawBytes,
        command: (q, settings) => inner.command(q, settings),
        async selectBytes(q, settings) {
          const result = await inner.selectBytes(q, settings);
          const h = hold;
          if (h && q.includes(FIRST_ROW)) {
            hold = undefined;
            h.queried();
            await h.answer;
          }
          return result;
        },
        insertBytes: (table, columns, chunks, options) => inner.insertBytes(table, columns, chunks, options),
        close: () => inner.close(),
      }),
    });
    const t = testTopic(1);
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    expect(await s.openPartition(tp)).toMatchObject({ logStartOffset: 0, nextOffset: 0 });
    let queried!: () => void;
    let answer!: () => void;
    const ran = new Promise<void>((r) => {
      queried = r;
    });
    hold = { queried, answer: new Promise<void>((r) => (answer = r)) };
    const start = s.currentLogStartOffset(tp);
    await ran;
    await s.append(tp, [await batch({ baseOffset: 0n, records: [{ value: Buffer.from('first') }] })]);
    answer();
    expect(await start).toBe(0);
    expect(await s.currentLogStartOffset(tp)).toBe(0);
    expect((await s.read(tp, 0, 1 << 20)).map((b) => b.baseOffset)).toEqual([0]);
  });

  it('remembers DeleteRecords across a restart and removes whole batches before it', async () => {
    let s = await storage();
    const t = testTopic(1);
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    await s.append(tp, [
      await batch({ baseOffset: 0n, records: [{ value: Buffer.from('a') }, { value: Buffer.from('b') }] }),
      await batch({ baseOffset: 2n, records: [{ value: Buffer.from('c') }, { value: Buffer.from('d') }] }),
    ]);
    expect(await s.deleteRecordsBefore(tp, 3)).toBe(3);
    expect(await query(`SELECT offset FROM ${DB}.\`${t.name}\` ORDER BY offset`)).toBe('2\n3\n');
    await s.close();
    s = await storage();
    expect(await s.openPartition(tp)).toMatchObject({ logStartOffset: 3, nextOffset: 4 });
    expect((await s.read(tp, 0, 1 << 20)).map((b) => b.baseOffset)).toEqual([2]);
  });
});

/** A transport that fails on demand, or fails after the insert went through (a lost response). */
function faulty(state: { fail?: 'before' | 'after'; inserts: number; tokens: string[] }) {
  return (inner: ClickHouseTransport): ClickHouseTransport => ({
    location: inner.location,
    remote: inner.remote,
    command: (q, settings) => inner.command(q, settings),
    selectBytes: (q, settings) => inner.selectBytes(q, settings),
    async insertBytes(table, columns, chunks, options) {
      if (!table.includes('_kch_')) {
        state.inserts++;
        state.tokens.push(String(options?.settings?.insert_deduplication_token));
        if (state.fail === 'before') {
          throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
        }
      }
      await inner.insertBytes(table, columns, chunks, options);
      if (state.fail === 'after' && !table.includes('_kch_')) {
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      }
    },
    close: () => inner.close(),
  });
}

describe('failures', () => {
  it('rejects appends retriably while inserts fail, keeps nothing of them, and recovers', async () => {
    const s = await storage({ insertRetries: 0 });
    const t = testTopic(2);
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    await s.append(tp, [await batch({ baseOffset: 0n, records: [{ value: Buffer.from('ok') }] })]);
    // Every insert now fails, as a read-only or broken table would.
    await query(`ALTER TABLE ${DB}.\`${t.name}\` ADD CONSTRAINT kch_test_block CHECK 0`);
    const failing = await batch({ baseOffset: 1n, records: [{ value: Buffer.from('lost') }] });
    const err = await s.append(tp, [failing]).catch((e) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err).toMatchObject({ kind: 'UNAVAILABLE', retriable: true });
    expect(err.message).toMatch(/VIOLATED_CONSTRAINT.*may retry/);
    // ClickHouse's reason once: its code and name are not repeated around its message.
    expect(err.message).not.toMatch(/Code: \d+|\(VIOLATED_CONSTRAINT\)/);
    expect(await query(`SELECT count() FROM ${DB}.\`${t.name}\``)).toBe('1\n');
    expect((await s.openPartition(tp)).nextOffset).toBe(1);
    await query(`ALTER TABLE ${DB}.\`${t.name}\` DROP CONSTRAINT kch_test_block`);
    const retry = await batch({ baseOffset: 1n, records: [{ value: Buffer.from('retried') }] });
    await s.append(tp, [retry]);
    const back = await s.read(tp, 0, 1 << 20);
    expect(back.map((b) => b.baseOffset)).toEqual([0, 1]);
    expect(back[1]!.bytes.equals(retry.bytes)).toBe(true);
  });

  it('creates a topic table dropped behind its back again after failing the append', async () => {
    const s = await storage({ insertRetries: 0 });
    const t = testTopic(1);
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    await s.append(tp, [await batch({ baseOffset: 0n, records: [{ value: Buffer.from('a') }] })]);
    await query(`DROP TABLE ${DB}.\`${t.name}\` SYNC`);
    await expect(
      s.append(tp, [await batch({ baseOffset: 1n, records: [{ value: Buffer.from('b') }] })]),
    ).rejects.toMatchObject({ kind: 'UNAVAILABLE', retriable: true });
    await s.append(tp, [await batch({ baseOffset: 1n, records: [{ value: Buffer.from('b') }] })]);
    expect(await query(`SELECT offset, value FROM ${DB}.\`${t.name}\``)).toBe('1\tb\n');
  });

  it('removes rows of an insert whose response was lost before the offsets are used again', async () => {
    const state: { fail?: 'before' | 'after'; inserts: number; tokens: string[] } = {
      inserts: 0,
      tokens: [],
    };
    const s = await storage({ insertRetries: 0, wrapTransport: faulty(state) });
    const t = testTopic(1);
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    state.fail = 'after';
    await expect(
      s.append(tp, [await batch({ baseOffset: 0n, records: [{ value: Buffer.from('ghost') }] })]),
    ).rejects.toMatchObject({ kind: 'UNAVAILABLE' });
    // The insert did land; the storage may not show it, and must not keep it once the offset is reused.
    expect(await query(`SELECT value FROM ${DB}.\`${t.name}\``)).toBe('ghost\n');
    expect(await s.read(tp, 0, 1 << 20)).toEqual([]);
    state.fail = undefined;
    const real = await batch({
      baseOffset: 0n,
      records: [{ value: Buffer.from('real') }, { value: Buffer.from('2') }],
    });
    await s.append(tp, [real]);
    expect(await query(`SELECT offset, value FROM ${DB}.\`${t.name}\` ORDER BY offset`)).toBe(
      '0\treal\n1\t2\n',
    );
    expect((await s.read(tp, 0, 1 << 20))[0]!.bytes.equals(real.bytes)).toBe(true);
  });

  it('retries a flush with the same deduplication token, so rows are stored once', async () => {
    const state: { fail?: 'before' | 'after'; inserts: number; tokens: string[] } = {
      inserts: 0,
      tokens: [],
    };
    const s = await storage({ insertRetries: 1, retryBackoffMs: 1, wrapTransport: faulty(state) });
    const t = testTopic(1);
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    state.fail = 'after';
    const append = s.append(tp, [await batch({ baseOffset: 0n, records: [{ value: Buffer.from('once') }] })]);
    // Both attempts land in ClickHouse and both answers are lost: the second is deduplicated.
    await expect(append).rejects.toMatchObject({ kind: 'UNAVAILABLE' });
    expect(state.tokens).toHaveLength(2);
    expect(state.tokens[0]).toBe(state.tokens[1]);
    expect(await query(`SELECT count() FROM ${DB}.\`${t.name}\``)).toBe('1\n');
    // One lost answer, then success: the append succeeds with the rows stored once.
    state.fail = undefined;
    let first = true;
    const s2 = await storage({
      insertRetries: 1,
      retryBackoffMs: 1,
      wrapTransport: (inner) => ({
        ...faulty(state)(inner),
        async insertBytes(table, columns, chunks, options) {
          await inner.insertBytes(table, columns, chunks, options);
          if (first && !table.includes('_kch_')) {
            first = false;
            throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
          }
        },
      }),
    });
    const t2 = testTopic(1);
    await s2.createTopic(t2);
    await s2.append({ topic: t2.name, partition: 0 }, [
      await batch({ baseOffset: 0n, records: [{ value: Buffer.from('x') }, { value: Buffer.from('y') }] }),
    ]);
    expect(await query(`SELECT offset, value FROM ${DB}.\`${t2.name}\` ORDER BY offset`)).toBe(
      '0\tx\n1\ty\n',
    );
  });

  it('reports a server that is not there as retriable, in open and in health', async () => {
    const s = clickhouseStorage({ url: 'http://127.0.0.1:9', requestTimeoutMs: 2000 });
    const err = await s.open().catch((e) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err).toMatchObject({ kind: 'UNAVAILABLE', retriable: true });
    expect(err.message).toMatch(/ECONNREFUSED|connect/);
    expect((await s.health()).ok).toBe(false);
    await s.close();
  });
});

describe('group commit', () => {
  it('sends appends to several partitions within the linger window as one insert', async () => {
    const state: { fail?: 'before' | 'after'; inserts: number; tokens: string[] } = {
      inserts: 0,
      tokens: [],
    };
    const s = await storage({ lingerMs: 50, wrapTransport: faulty(state) });
    const t = testTopic(4);
    await s.createTopic(t);
    const partitions = [0, 1, 2, 3];
    for (const p of partitions) await s.openPartition({ topic: t.name, partition: p }); // as the broker does first
    const batches = await Promise.all(
      partitions.map((p) => batch({ baseOffset: 0n, records: [{ value: Buffer.from(`p${p}`) }] })),
    );
    const before = state.inserts;
    await Promise.all(partitions.map((p) => s.append({ topic: t.name, partition: p }, [batches[p]!])));
    expect(state.inserts - before).toBe(1);
    expect(await query(`SELECT partition, value FROM ${DB}.\`${t.name}\` ORDER BY partition`)).toBe(
      '0\tp0\n1\tp1\n2\tp2\n3\tp3\n',
    );
  });

  it('stores appends still lingering when the storage closes', async () => {
    const s = await storage({ lingerMs: 1000 });
    const t = testTopic(1);
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    await s.openPartition(tp);
    const append = s.append(tp, [await batch({ baseOffset: 0n, records: [{ value: Buffer.from('late') }] })]);
    await new Promise((r) => setTimeout(r, 20));
    await s.close();
    await append;
    expect(await query(`SELECT value FROM ${DB}.\`${t.name}\``)).toBe('late\n');
    await expect(s.append(tp, [])).rejects.toMatchObject({ kind: 'UNAVAILABLE', retriable: false });
  });

  it('fails every append of a failed insert, and only those', async () => {
    const state: { fail?: 'before' | 'after'; inserts: number; tokens: string[] } = {
      inserts: 0,
      tokens: [],
    };
    const s = await storage({ lingerMs: 30, insertRetries: 0, wrapTransport: faulty(state) });
    const t = testTopic(3);
    await s.createTopic(t);
    state.fail = 'before';
    const results = await Promise.allSettled(
      [0, 1, 2].map(async (p) =>
        s.append({ topic: t.name, partition: p }, [
          await batch({ baseOffset: 0n, records: [{ value: Buffer.from('v') }] }),
        ]),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    state.fail = undefined;
    await s.append({ topic: t.name, partition: 1 }, [
      await batch({ baseOffset: 0n, records: [{ value: Buffer.from('w') }] }),
    ]);
    expect(await query(`SELECT partition, offset, value FROM ${DB}.\`${t.name}\``)).toBe('1\t0\tw\n');
  });
});

describe('reads', () => {
  it('reads batches larger than its row estimate whole, and stops at maxBytes', async () => {
    const s = await storage();
    const t = testTopic(1);
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    const big = await batch({
      baseOffset: 0n,
      records: Array.from({ length: 3000 }, (_, i) => ({
        key: Buffer.from(`k${i}`),
        value: randomBytes(20),
      })),
    });
    const small = await batch({ baseOffset: 3000n, records: [{ value: Buffer.from('s') }] });
    const last = await batch({
      baseOffset: 3001n,
      compression: CompressionType.Zstd,
      records: [{ value: Buffer.from('z') }],
    });
    await s.append(tp, [big, small, last]);
    const first = await s.read(tp, 1500, 1);
    expect(first).toHaveLength(1);
    expect(first[0]!.bytes.equals(big.bytes)).toBe(true);
    const two = await s.read(tp, 0, big.bytes.length + small.bytes.length);
    expect(two.map((b) => b.baseOffset)).toEqual([0, 3000]);
    const rest = await s.read(tp, 3000, 1 << 20);
    expect(rest.map((b) => b.baseOffset)).toEqual([3000, 3001]);
    expect(await s.read(tp, 3002, 1 << 20)).toEqual([]);
  });
});
