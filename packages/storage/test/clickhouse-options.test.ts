/** clickhouseStorage() options, and what happens when chdb is asked for but not installed. */
import { describe, expect, it, vi } from 'vitest';
import { clickhouseStorage, StorageError } from '../src/index.js';

describe('clickhouseStorage options', () => {
  it('needs exactly one of url, chdb and client', () => {
    expect(() => clickhouseStorage({} as never)).toThrow(/exactly one of url/);
    expect(() => clickhouseStorage({ chdb: './data', url: 'http://localhost:8123' })).toThrow(StorageError);
  });

  it('validates values and fills in defaults', () => {
    expect(() => clickhouseStorage({ chdb: './data', lingerMs: -1 })).toThrow(/lingerMs/);
    expect(() => clickhouseStorage({ url: 'not a url' })).toThrow(/url/);
    const s = clickhouseStorage({ url: 'http://user:secret@localhost:8123' });
    expect(s.config).toMatchObject({ database: 'kafka', lingerMs: 5, insertRetries: 2 });
    expect(s.location).toBe('ClickHouse at http://localhost:8123, database kafka');
    expect(s.location).not.toContain('secret');
  });

  it('says how to install chdb when it is missing', async () => {
    vi.doMock('chdb', () => {
      throw Object.assign(new Error("Cannot find package 'chdb'"), { code: 'ERR_MODULE_NOT_FOUND' });
    });
    try {
      const err = await clickhouseStorage({ chdb: './never-created' })
        .open()
        .catch((e) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect(err.message).toContain('npm install chdb');
      expect(err.retriable).toBe(false);
    } finally {
      vi.doUnmock('chdb');
    }
  });
});
