/**
 * The storage contract on embedded ClickHouse (chdb). chdb binds one data directory per process, and
 * vitest runs each file in its own process: this file has its own temporary directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { clickhouseStorage } from '../src/index.js';
import { runStorageContract } from '../src/testing/index.js';

const dir = mkdtempSync(join(tmpdir(), 'kch-chdb-contract-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const create = () => clickhouseStorage({ chdb: dir, database: 'kafka_contract' });

runStorageContract('clickhouse (chdb)', create, {
  transactions: true,
  compaction: true,
  reopen: async (old) => {
    await old.close();
    const next = create();
    await next.open();
    return next;
  },
});
