/**
 * The SecurityStore contract on the memory store and on the ClickHouse storage: embedded (chdb, this
 * file's own data directory), over HTTP (chdb behind ./clickhouse-http-shim.ts) and, with CLICKHOUSE_URL
 * set, a server. Then what is particular to
 * ClickHouse: the tables as SQL sees them, migration 3 over a database of an earlier kch, a second
 * storage over the same data, and what the columns cannot hold.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationsTableDdl } from '../src/clickhouse/schema.js';
import {
  type ClickHouseStorage,
  type ClickHouseStorageOptions,
  clickhouseStorage,
  MemorySecurityStore,
  MIGRATIONS,
  type SecurityStore,
  topicTableDdl,
} from '../src/index.js';
import { runSecurityStoreContract } from '../src/testing/index.js';
import { chdbTestDirectory } from './chdb-directory.js';
import { onServer } from './clickhouse-helpers.js';
import { type HttpShim, startHttpShim } from './clickhouse-http-shim.js';

const { dir, query, track } = chdbTestDirectory('kch-security-');

runSecurityStoreContract('memory', () => new MemorySecurityStore());

/** The contract on ClickHouse storages made with `options`, each closed after its test. */
function clickhouseContract(label: string, options: () => ClickHouseStorageOptions): void {
  const opened: ClickHouseStorage[] = [];
  const closeAll = async () => {
    for (const s of opened.splice(0)) await s.close();
  };
  const make = async (): Promise<SecurityStore> => {
    const s = clickhouseStorage(options());
    opened.push(s);
    await s.open();
    return s.security;
  };
  runSecurityStoreContract(label, make, {
    close: closeAll,
    reopen: async () => {
      await closeAll();
      return make();
    },
  });
}

clickhouseContract('clickhouse (chdb)', () => ({ chdb: dir, database: 'kafka_security' }));

// The server transport (TabSeparated bodies, RowBinary responses over HTTP), on this file's directory.
let shim: HttpShim;
beforeAll(async () => {
  shim = await startHttpShim(dir);
});
afterAll(() => shim.close());
clickhouseContract('clickhouse (HTTP)', () => ({ url: shim.url, database: 'kafka_security_http' }));

onServer(
  'security store contract: clickhouse (server at CLICKHOUSE_URL)',
  'the security store contract',
  'kch_security',
  (url, database) =>
    clickhouseContract('clickhouse (server at CLICKHOUSE_URL)', () => ({
      url,
      database,
      requestTimeoutMs: 10_000,
    })),
);

let dbCounter = 0;

async function open(database = `sec_${++dbCounter}`): Promise<ClickHouseStorage> {
  const s = clickhouseStorage({ chdb: dir, database });
  await s.open();
  return track(s);
}

describe('security metadata in ClickHouse', () => {
  it('keeps salted keys as exact bytes in _kch_scram_credentials, the latest row per key', async () => {
    const s = await open('sec_sql');
    const first = {
      user: "o'dd\tuser",
      mechanism: 'SCRAM-SHA-256' as const,
      salt: Buffer.from([0x00, 0x5c, 0x09, 0x0a, 0x27, 0xc3, 0x28, 0xff]),
      iterations: 4096,
      storedKey: randomBytes(32),
      serverKey: randomBytes(32),
    };
    await s.security.putScramCredential(first);
    const second = { ...first, salt: randomBytes(24), iterations: 8192 };
    await s.security.putScramCredential(second);
    const hex = (b: Buffer) => b.toString('hex').toUpperCase();
    expect(
      await query(
        'SELECT user, mechanism, hex(salt), iterations, hex(stored_key), hex(server_key), deleted FROM sec_sql._kch_scram_credentials FINAL',
      ),
    ).toBe(
      `o\\'dd\\tuser\tSCRAM-SHA-256\t${hex(second.salt)}\t8192\t${hex(second.storedKey)}\t${hex(second.serverKey)}\t0\n`,
    );
    // Both versions are rows until a merge; a deletion adds a third without key material.
    expect(await s.security.deleteScramCredential(first.user, first.mechanism)).toBe(true);
    expect(
      await query(
        'SELECT iterations, deleted, length(salt) + length(stored_key) + length(server_key) FROM sec_sql._kch_scram_credentials ORDER BY version',
      ),
    ).toBe('4096\t0\t72\n8192\t0\t88\n0\t1\t0\n');
  });

  it('keeps ACLs and quotas as rows SQL can read', async () => {
    const s = await open('sec_rows');
    await s.security.addAcls([
      {
        resourceType: 2,
        resourceName: 'orders',
        patternType: 4,
        principal: 'User:alice',
        host: '*',
        operation: 3,
        permissionType: 3,
      },
    ]);
    await s.security.alterClientQuota({ user: 'alice', 'client-id': null }, { producer_byte_rate: 1048576 });
    expect(
      await query(
        'SELECT resource_type, resource_name, pattern_type, principal, host, operation, permission_type FROM sec_rows._kch_acls FINAL WHERE deleted = 0',
      ),
    ).toBe('2\torders\t4\tUser:alice\t*\t3\t3\n');
    expect(
      await query('SELECT entity, quota_key, value FROM sec_rows._kch_client_quotas FINAL WHERE deleted = 0'),
    ).toBe("[('client-id',NULL),('user','alice')]\tproducer_byte_rate\t1048576\n");
  });

  it('stores quota values exactly, also the ones Float64 spells specially', async () => {
    const s = await open();
    const values = [Infinity, -Infinity, Number.NaN, -0, 5e-324, 2 ** 53 + 2, 1 / 3];
    const changes = Object.fromEntries(values.map((v, i) => [`k${i}`, v]));
    await s.security.alterClientQuota({ ip: '10.0.0.1' }, changes);
    const [quota] = await s.security.listClientQuotas();
    for (const [i, v] of values.entries()) expect(Object.is(quota!.values[`k${i}`], v)).toBe(true);
  });

  it('lists what another storage over the same data wrote', async () => {
    const a = await open('sec_shared');
    const b = await open('sec_shared');
    const acl = {
      resourceType: 4,
      resourceName: 'kafka-cluster',
      patternType: 3,
      principal: 'User:*',
      host: '*',
      operation: 2,
      permissionType: 2,
    };
    await a.security.addAcls([acl]);
    expect(await b.security.listAcls()).toEqual([acl]);
    await b.security.deleteAcls([acl]);
    expect(await a.security.listAcls()).toEqual([]);
  });

  it('writes versions after the highest stored, also one of another clock', async () => {
    const db = 'sec_versions';
    let s = await open(db);
    await s.security.addAcls([]);
    await s.close();
    // A binding stored by a broker whose clock ran a day ahead.
    await query(
      `INSERT INTO ${db}._kch_acls VALUES (2, 'ahead', 3, 'User:a', '*', 3, 3, 0, toUInt64(now64(6)) * 1000000 + 86400000000)`,
    );
    s = await open(db);
    const acl = {
      resourceType: 2,
      resourceName: 'ahead',
      patternType: 3,
      principal: 'User:a',
      host: '*',
      operation: 3,
      permissionType: 3,
    };
    expect(await s.security.listAcls()).toEqual([acl]);
    await s.security.deleteAcls([acl]);
    expect(await s.security.listAcls()).toEqual([]);
  });

  it('refuses what its columns cannot hold, and calls before open', async () => {
    const s = await open();
    const acl = {
      resourceType: 2,
      resourceName: 't',
      patternType: 3,
      principal: 'User:a',
      host: '*',
      operation: 300,
      permissionType: 3,
    };
    await expect(s.security.addAcls([acl])).rejects.toMatchObject({ kind: 'INVALID_REQUEST' });
    const credential = {
      user: 'u',
      mechanism: 'SCRAM-SHA-512' as const,
      salt: Buffer.alloc(8),
      iterations: 1.5,
      storedKey: Buffer.alloc(64),
      serverKey: Buffer.alloc(64),
    };
    await expect(s.security.putScramCredential(credential)).rejects.toMatchObject({
      kind: 'INVALID_REQUEST',
    });
    expect(await s.security.listAcls()).toEqual([]);
    expect(await s.security.listScramCredentials()).toEqual([]);
    const closed = clickhouseStorage({ chdb: dir, database: 'sec_never_opened' });
    await expect(closed.security.listAcls()).rejects.toMatchObject({ kind: 'UNAVAILABLE' });
  });
});

describe('migrations 3 (security metadata), 4 (broker leases), 5 (transactions), 6 (dynamic broker configs) and 7 (log cleaner states)', () => {
  it('are applied over a database an earlier kch migrated to 2, keeping its topics', async () => {
    const db = 'sec_upgrade';
    await query(`CREATE DATABASE ${db}`);
    await query(migrationsTableDdl(db));
    for (const m of MIGRATIONS.filter((m) => m.version <= 2)) {
      for (const sql of m.statements({ database: db })) await query(sql);
      await query(`INSERT INTO ${db}._kch_migrations (version, name) VALUES (${m.version}, '${m.name}')`);
    }
    await query(
      `INSERT INTO ${db}._kch_topics (name, topic_id, partition_count, configs, created_at, deleted, version) VALUES ('before', 'id', 1, [], 1, 0, 1)`,
    );
    await query(topicTableDdl(db, 'before', null));
    const s = await open(db);
    expect(await query(`SELECT version, name FROM ${db}._kch_migrations ORDER BY version`)).toBe(
      '1\tmetadata tables\n2\ttopic table identities\n3\tsecurity metadata\n4\tbroker leases\n5\ttransactions\n6\tdynamic broker configs\n7\tlog cleaner states\n',
    );
    expect(
      await query(
        `SELECT name FROM system.tables WHERE database = '${db}' AND name IN ('_kch_txn_batches', '_kch_transactions') ORDER BY name`,
      ),
    ).toBe('_kch_transactions\n_kch_txn_batches\n');
    expect(
      await query(
        `SELECT name FROM system.tables WHERE database = '${db}' AND name IN ('_kch_scram_credentials', '_kch_acls', '_kch_client_quotas') ORDER BY name`,
      ),
    ).toBe('_kch_acls\n_kch_client_quotas\n_kch_scram_credentials\n');
    expect((await s.listTopics()).map((t) => t.name)).toEqual(['before']);
    await s.security.alterClientQuota({ user: null }, { request_percentage: 50 });
    expect(await s.security.listClientQuotas()).toEqual([
      { entity: { user: null }, values: { request_percentage: 50 } },
    ]);
  });
});
