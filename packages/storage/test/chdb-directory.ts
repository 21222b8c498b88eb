/**
 * The chdb data directory of one test file (chdb binds one per process): made before the file's tests,
 * removed after them, with a second connection to it for `query`, as an analyst's would be, and the
 * storages handed to `track` closed after each test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { type ClickHouseStorage, type ClickHouseStorageOptions, clickhouseStorage } from '../src/index.js';

export interface ChdbTestDirectory {
  dir: string;
  /** Runs SQL on the second connection; the result as TabSeparated text. */
  query(text: string): Promise<string>;
  /** Closes `storage` after the current test; returns it. */
  track(storage: ClickHouseStorage): ClickHouseStorage;
  /**
   * A storage over `database` in the directory, opened and closed after the current test: one broker
   * of several sharing the data. No checkpoint on a timer: a test writes the ends it needs.
   */
  broker(database: string, options?: Partial<ClickHouseStorageOptions>): Promise<ClickHouseStorage>;
}

export function chdbTestDirectory(prefix: string): ChdbTestDirectory {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let sql: Session;
  const open: ClickHouseStorage[] = [];
  beforeAll(() => {
    sql = new Session(dir);
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });
  afterAll(() => {
    sql.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const track = (storage: ClickHouseStorage) => {
    open.push(storage);
    return storage;
  };
  return {
    dir,
    query: async (text) => (await sql.queryAsync(text, { format: 'TabSeparated' })).text(),
    track,
    broker: async (database, options) => {
      const s = track(
        clickhouseStorage({ chdb: dir, database, checkpointIntervalMs: 3_600_000, ...options }),
      );
      await s.open();
      return s;
    },
  };
}
