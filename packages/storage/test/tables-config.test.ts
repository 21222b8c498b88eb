/**
 * The integration `tables` config: parsing (errors say where), and the tables it creates on embedded
 * ClickHouse (columns given plus the virtual columns kch fills; existing tables left alone).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClickHouseStorage, clickhouseStorage, parseTablesConfig, StorageError } from '../src/index.js';

describe('parseTablesConfig', () => {
  it('reads the shape users write, with defaults', () => {
    const [t] = parseTablesConfig([
      { name: 'orders', columns: [{ name: 'id', type: 'UInt64' }], topics: 'orders, orders-eu' },
    ]);
    expect(t!.topics).toEqual(['orders', 'orders-eu']);
    expect(t!.data_format).toBe('JSONEachRow');
    expect(t!.raw_message).toBe(false);
  });

  it('reads data_format in any case as the format kch.format names (broker and storage agree)', () => {
    const formats = parseTablesConfig(
      ['csv', 'TSV', 'tabseparated', 'jsonEachRow'].map((data_format, i) => ({
        name: `t${i}`,
        columns: [{ name: 'a', type: 'UInt8' }],
        topics: [`topic${i}`],
        data_format,
      })),
    ).map((t) => t.data_format);
    expect(formats).toEqual(['CSV', 'TabSeparated', 'TabSeparated', 'JSONEachRow']);
  });

  it.each([
    [[{ name: 'x', columns: [], topics: ['a'] }], 'tables[0].columns: a table needs at least one column'],
    [
      [{ name: 'x', columns: [{ name: 'a', type: 'UInt8' }], topics: ['a'], data_format: 'Avro' }],
      'tables[0].data_format: must be JSONEachRow, CSV or TabSeparated (TSV), not "Avro"',
    ],
    [[{ name: 'x', columns: [{ name: 'a', type: 'UInt8' }] }], 'tables[0].topics'],
    [
      [{ name: 'a.b.c', columns: [{ name: 'a', type: 'UInt8' }], topics: ['t'] }],
      'tables[0].name: must be a table name',
    ],
    [
      [
        {
          name: 'x',
          columns: [
            { name: 'a', type: 'UInt8' },
            { name: 'a', type: 'String' },
          ],
          topics: ['t'],
        },
      ],
      'column a is listed twice',
    ],
    [
      [
        { name: 'x', columns: [{ name: 'a', type: 'UInt8' }], topics: ['t'] },
        { name: 'y', columns: [{ name: 'a', type: 'UInt8' }], topics: ['t'] },
      ],
      'topic t feeds both x and y',
    ],
  ])('refuses %j', (input, message) => {
    let error: unknown;
    try {
      parseTablesConfig(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).kind).toBe('INVALID_REQUEST');
    expect((error as StorageError).message).toContain(message);
  });
});

describe('applyTablesConfig on embedded ClickHouse', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kch-tables-'));
  let storage: ClickHouseStorage;
  const columnsOf = async (db: string, table: string) =>
    (
      await storage.query(
        `SELECT name, type FROM system.columns WHERE database = '${db}' AND table = '${table}' ORDER BY position`,
      )
    )
      .toString()
      .trim()
      .split('\n');

  beforeAll(async () => {
    storage = clickhouseStorage({ chdb: dir, database: 'kafka' });
    await storage.open();
  });
  afterAll(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates missing tables with the virtual columns and returns the bindings', async () => {
    const bindings = await storage.applyTablesConfig([
      {
        name: 'shop.orders',
        columns: [
          { name: 'id', type: 'UInt64' },
          { name: 'status', type: 'LowCardinality(String)', default: "'new'" },
        ],
        topics: ['orders'],
        group_name: 'orders-sink',
        raw_message: true,
      },
      { name: 'clicks', columns: [{ name: 'url', type: 'String' }], topics: 'clicks', data_format: 'CSV' },
    ]);
    expect(bindings).toEqual([
      {
        topic: 'orders',
        table: 'shop.orders',
        configs: { 'kch.table': 'shop.orders', 'kch.format': 'JSONEachRow' },
        group: 'orders-sink',
      },
      { topic: 'clicks', table: 'clicks', configs: { 'kch.table': 'clicks', 'kch.format': 'CSV' } },
    ]);
    expect(await columnsOf('shop', 'orders')).toEqual([
      'id\tUInt64',
      'status\tLowCardinality(String)',
      '_topic\tLowCardinality(String)',
      '_partition\tUInt32',
      '_offset\tUInt64',
      '_timestamp_ms\tDateTime64(3)',
      '_key\tNullable(String)',
      '_headers.name\tArray(String)',
      '_headers.value\tArray(String)',
      '_leader_epoch\tInt32',
      '_raw_message\tString',
    ]);
    // The clicks table is in the storage's database, without a raw column.
    expect(await columnsOf('kafka', 'clicks')).not.toContain('_raw_message\tString');
    const defaults = await storage.query(
      "SELECT default_expression FROM system.columns WHERE database = 'shop' AND table = 'orders' AND name = 'status'",
    );
    expect(defaults.toString().trim()).toBe("\\'new\\'"); // TabSeparated escapes quotes
  });

  it('leaves an existing table as it is', async () => {
    await storage.query(
      'CREATE TABLE kafka.mine (a UInt8, _partition UInt32, _offset UInt64) ENGINE = MergeTree ORDER BY (_partition, _offset)',
    );
    await storage.applyTablesConfig([
      { name: 'mine', columns: [{ name: 'b', type: 'String' }], topics: ['m'] },
    ]);
    expect(await columnsOf('kafka', 'mine')).toEqual(['a\tUInt8', '_partition\tUInt32', '_offset\tUInt64']);
  });

  it('says which table ClickHouse refused and why', async () => {
    await expect(
      storage.applyTablesConfig([
        { name: 'bad', columns: [{ name: 'a', type: 'NoSuchType' }], topics: ['b'] },
      ]),
    ).rejects.toThrow(/ClickHouse refused to create the table bad of the tables config: .*NoSuchType/);
  });
});
