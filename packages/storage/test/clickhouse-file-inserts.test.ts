/**
 * Large inserts into embedded ClickHouse go through a file (`INSERT ... SELECT FROM file()`), small
 * ones inline: both store the same bytes, deduplicate by token, and leave no file behind.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChdbTransport, FILE_INSERT_MIN_BYTES } from '../src/clickhouse/chdb-transport.js';
import { writeBatchRows } from '../src/clickhouse/records.js';
import { RowBinaryReader, RowBinaryWriter } from '../src/clickhouse/rowbinary.js';
import { TOPIC_INSERT_COLUMNS, TOPIC_INSERT_TYPES, topicTableDdl } from '../src/clickhouse/schema.js';
import { clickhouseStorage } from '../src/index.js';
import { testTopic } from '../src/testing/index.js';
import { batch, expectSameBatch } from './clickhouse-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kch-chdb-file-'));
let t: ChdbTransport;

beforeAll(async () => {
  t = await ChdbTransport.open(dir);
  await t.command('CREATE DATABASE IF NOT EXISTS files');
});
afterAll(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

async function count(table: string): Promise<number> {
  const row = await t.selectBytes(`SELECT count() FROM ${table}`);
  return Number(row.readBigUInt64LE(0));
}

/** Records with every byte TSV would escape, and bytes that are not UTF-8. */
function nastyValue(i: number, size: number): Buffer {
  const b = randomBytes(size);
  b.set([0x09, 0x0a, 0x5c, 0x00, 0xff, 0xc3, 0x28, 0x27], i % (size - 8));
  return b;
}

async function rowsOf(batches: Awaited<ReturnType<typeof batch>>[]): Promise<Buffer> {
  const w = new RowBinaryWriter(1 << 20);
  for (const b of batches) await writeBatchRows(w, 0, b);
  return Buffer.from(w.view());
}

describe('file inserts (chdb)', () => {
  it('sends payloads from FILE_INSERT_MIN_BYTES on through a file, deduplicated by token, and removes the file', async () => {
    await t.command(topicTableDdl('files', 'big', null));
    const table = 'files.`big`';
    const records = Array.from({ length: 400 }, (_, i) => ({ key: null, value: nastyValue(i, 1024) }));
    const rows = await rowsOf([await batch({ baseOffset: 0n, records })]);
    expect(rows.length).toBeGreaterThanOrEqual(FILE_INSERT_MIN_BYTES);
    const before = t.fileInserts;
    const options = {
      format: 'RowBinary',
      types: TOPIC_INSERT_TYPES,
      settings: { insert_deduplicate: 1, insert_deduplication_token: 'big-1' },
    };
    await t.insertBytes(
      table,
      TOPIC_INSERT_COLUMNS,
      [rows.subarray(0, rows.length / 2), rows.subarray(rows.length / 2)],
      options,
    );
    await t.insertBytes(table, TOPIC_INSERT_COLUMNS, [rows], options);
    expect(t.fileInserts - before).toBe(2);
    expect(await count(table)).toBe(400);
    expect(readdirSync(join(dir, 'kch-inserts'))).toEqual([]);
  });

  it('keeps small payloads inline, binary rows with newline bytes included', async () => {
    await t.command(topicTableDdl('files', 'small', null));
    // Newlines in values and in Int64s (offset 10): chdb reads inline data as text and cuts binary
    // rows short (seen: `Cannot read all data` at the second row), so RowBinary rows go as TSV.
    const values = Array.from({ length: 300 }, (_, i) =>
      i % 2 === 0 ? nastyValue(i, 40) : Buffer.from('a\nb\n\n\r\\c'),
    );
    const rows = await rowsOf([
      await batch({ baseOffset: 0n, records: values.map((value) => ({ key: null, value })) }),
    ]);
    expect(rows.length).toBeLessThan(FILE_INSERT_MIN_BYTES);
    const before = t.fileInserts;
    await t.insertBytes('files.`small`', TOPIC_INSERT_COLUMNS, [rows], {
      format: 'RowBinary',
      types: TOPIC_INSERT_TYPES,
    });
    expect(t.fileInserts).toBe(before);
    const back = new RowBinaryReader(
      await t.selectBytes('SELECT offset, value FROM files.`small` ORDER BY offset'),
    );
    const read: Buffer[] = [];
    while (!back.done) {
      expect(back.i64()).toBe(read.length);
      read.push(Buffer.from(back.isNull() ? Buffer.alloc(0) : back.bytes()));
    }
    expect(read).toEqual(values);
  });

  it('reports a refused file insert as ClickHouse words it and removes the file', async () => {
    await t.command(topicTableDdl('files', 'refused', null));
    const bad = Buffer.alloc(FILE_INSERT_MIN_BYTES, 'not\ta\trow\n');
    await expect(
      t.insertBytes('files.`refused`', TOPIC_INSERT_COLUMNS, [bad], { types: TOPIC_INSERT_TYPES }),
    ).rejects.toThrow(/Cannot parse|CANNOT_PARSE/);
    expect(readdirSync(join(dir, 'kch-inserts'))).toEqual([]);
  });
});

describe('the storage over file inserts (chdb)', () => {
  it('returns large appends byte for byte', async () => {
    let inner: ChdbTransport | undefined;
    const s = clickhouseStorage({
      chdb: dir,
      database: 'files_storage',
      wrapTransport: (transport) => {
        inner = transport as ChdbTransport;
        return transport;
      },
    });
    await s.open();
    try {
      const topic = testTopic(1);
      await s.createTopic(topic);
      const tp = { topic: topic.name, partition: 0 };
      const batches = [];
      let offset = 0n;
      for (let b = 0; b < 8; b++) {
        const records = Array.from({ length: 50 }, (_, i) => ({
          key: i % 3 === 0 ? null : nastyValue(i, 16),
          value: i % 7 === 0 ? null : nastyValue(b * 50 + i, 1024),
          headers: [{ key: 'h\tk', value: nastyValue(i, 12) }],
        }));
        batches.push(await batch({ baseOffset: offset, baseTimestamp: 1_700_000_000_000n, records }));
        offset += 50n;
      }
      await s.append(tp, batches);
      expect(inner?.fileInserts).toBeGreaterThan(0);
      // The values' invalid UTF-8 went as it is (the native insert and files take bytes).
      expect(inner?.rawBytes).toBe(true);
      const back = await s.read(tp, 0, 64 << 20);
      expect(back).toHaveLength(batches.length);
      for (let i = 0; i < batches.length; i++) await expectSameBatch(back[i]!, batches[i]!);
    } finally {
      await s.close();
    }
  });
});
