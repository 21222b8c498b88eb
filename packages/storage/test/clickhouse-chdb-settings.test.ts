/**
 * `chdbSettings`: server settings of the embedded engine reach it (they bound its memory, its merge
 * threads...), and wrong ones are refused with a message that names them. The engine reads them when
 * the process first opens a data directory, so this file opens none before.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clickhouseStorage, StorageError } from '../src/index.js';
import { testTopic } from '../src/testing/index.js';
import { batch } from './clickhouse-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kch-chdb-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LIMIT = 3 * 1024 * 1024 * 1024;

describe('chdbSettings', () => {
  it('configures the embedded engine', async () => {
    const s = clickhouseStorage({
      chdb: dir,
      chdbSettings: { max_server_memory_usage: LIMIT, background_pool_size: 3 },
    });
    await s.open();
    try {
      const t = testTopic(1);
      await s.createTopic(t);
      // an append takes an insert session: a connection of its own on the same directory
      const records = [1, 2, 3].map((i) => ({ key: null, value: Buffer.from(`v${i}`), headers: [] }));
      await s.append({ topic: t.name, partition: 0 }, [await batch({ baseOffset: 0n, records })]);
      const rows = (
        await s.query(
          "SELECT name, value FROM system.server_settings WHERE name IN ('max_server_memory_usage', 'background_pool_size') ORDER BY name",
        )
      ).toString();
      expect(rows).toBe(`background_pool_size\t3\nmax_server_memory_usage\t${LIMIT}\n`);
    } finally {
      await s.close();
    }
  });

  it('are refused without chdb, and with names that are not setting names', () => {
    expect(() =>
      clickhouseStorage({ url: 'http://localhost:8123', chdbSettings: { max_server_memory_usage: 1 } }),
    ).toThrow(/chdbSettings configure embedded ClickHouse/);
    expect(() => clickhouseStorage({ chdb: dir, chdbSettings: { 'a b': 1 } })).toThrow(
      /server setting names/,
    );
  });
});

describe('a value the engine cannot take', () => {
  it('fails the open with the settings named', async () => {
    const s = clickhouseStorage({
      chdb: join(dir, 'other'),
      chdbSettings: { max_server_memory_usage: 'lots' },
    });
    const failure = await s.open().then(
      () => null,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(StorageError);
    expect((failure as Error).message).toMatch(/chdbSettings: --max_server_memory_usage=lots/);
  });
});
