/**
 * The SQL the ClickHouse storage runs on a self-managed cluster (the `cluster` option), statement by
 * statement, and proof that without the option every statement is byte for byte what one server
 * always got (./fixtures/single-server-statements.json was written from the builders before the
 * option existed). Embedded chdb cannot run replicated tables (its inserts hang), so the cluster's
 * side is checked here by its SQL; ./clickhouse-cluster.test.ts runs it where a cluster is given.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  type ClusterFacts,
  clusterDialect,
  replicatedEngine,
  SINGLE_SERVER,
} from '../src/clickhouse/cluster-ddl.js';
import { type ClusterOptions, clusterOptionsSchema } from '../src/clickhouse/cluster-options.js';
import { dialectTransport, isSchemaChange } from '../src/clickhouse/cluster-transport.js';
import { replicationMismatch, replicationOf, shardsProblem } from '../src/clickhouse/replication.js';
import { MIGRATIONS, migrationsTableDdl, topicTableDdl } from '../src/clickhouse/schema.js';
import { str } from '../src/clickhouse/sql.js';
import { createDatabase } from '../src/clickhouse/statements.js';
import { integrationTableDdl } from '../src/clickhouse/tables-config.js';
import { topicTableComment } from '../src/clickhouse/topic-tables.js';
import type { ClickHouseTransport, Settings } from '../src/clickhouse/transport.js';
import { clickhouseStorage, StorageError } from '../src/index.js';
import { DB, ENTRY, statements, TABLE } from './cluster-statements.js';

const cluster = (o: Partial<ClusterOptions> = {}) => clusterOptionsSchema.parse({ name: 'kch', ...o });
const dialect = (o: Partial<ClusterOptions> = {}, facts: Omit<ClusterFacts, 'cluster'> = {}) =>
  clusterDialect({ cluster: cluster(o), ...facts });

const KEEPER = "'/clickhouse/tables/{uuid}/{shard}', '{replica}'";

describe('one server: nothing changes', () => {
  const before: Record<string, string> = JSON.parse(
    readFileSync(new URL('./fixtures/single-server-statements.json', import.meta.url), 'utf8'),
  );

  it('builds every statement byte for byte as before the cluster option', () => {
    expect(statements(SINGLE_SERVER)).toEqual(before);
    // ... also through the defaults the public builders keep for callers that give no dialect.
    expect(migrationsTableDdl(DB)).toBe(before.migrationsTable);
    expect(topicTableDdl(DB, 'orders', null, 1000, undefined, topicTableComment('orders'))).toBe(
      before.topicTable,
    );
    expect(MIGRATIONS[0]!.statements({ database: DB })[0]).toBe(before['migration1.0']);
    expect(integrationTableDdl(ENTRY!, DB)).toBe(before.integrationTable);
  });

  it('is what the storage derives without the option, for plain tables, and adds no setting', () => {
    for (const d of [clusterDialect({}), clusterDialect({ tables: 'none' })]) {
      expect(statements(d)).toEqual(before);
      expect(d.settings).toEqual({ insert: {}, select: {}, command: {}, query: {} });
      expect(d.insertsMayLandLate).toBe(false);
    }
  });

  it('passes every call through untouched, the caller’s settings object itself', async () => {
    const { transport, calls } = recorder();
    const t = dialectTransport(transport, () => SINGLE_SERVER);
    const own: Settings = { insert_deduplication_token: 'x' };
    await t.command('CREATE TABLE `kafka`.`t` (x UInt8) ENGINE = MergeTree ORDER BY x');
    await t.selectBytes('SELECT 1');
    await t.insertBytes(TABLE, ['a'], [Buffer.from('1\n')], { settings: own });
    await t.query!('SELECT 1', 'TabSeparated');
    await t.killQuery!('q1');
    expect(calls).toEqual([
      ['command', 'CREATE TABLE `kafka`.`t` (x UInt8) ENGINE = MergeTree ORDER BY x', undefined],
      ['selectBytes', 'SELECT 1', undefined],
      ['insertBytes', TABLE, own],
      ['query', 'SELECT 1', undefined],
      ['killQuery', 'q1', undefined],
    ]);
    expect(calls[2]![2]).toBe(own);
  });
});

describe('a self-managed cluster: DDL', () => {
  const sql = statements(dialect());

  it('creates the database on every server', () => {
    expect(sql.createDatabase).toBe("CREATE DATABASE IF NOT EXISTS `kafka` ON CLUSTER 'kch'");
  });

  it('creates the metadata tables on every server, replicated, with their engine arguments after the Keeper path', () => {
    expect(
      sql.migrationsTable,
    ).toBe(`CREATE TABLE IF NOT EXISTS \`kafka\`.\`_kch_migrations\` ON CLUSTER 'kch' (
  version UInt32,
  name String,
  applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplicatedMergeTree(${KEEPER}) ORDER BY version`);
    expect(sql['migration1.0']).toContain(
      "CREATE TABLE IF NOT EXISTS `kafka`.`_kch_topics` ON CLUSTER 'kch' (",
    );
    expect(sql['migration1.0']).toMatch(
      new RegExp(
        `\\) ENGINE = ReplicatedReplacingMergeTree\\(${regexText(KEEPER)}, version\\) ORDER BY name$`,
      ),
    );
    expect(sql['migration1.3']).toContain(`ENGINE = ReplicatedMergeTree(${KEEPER}) ORDER BY block_end`);
    expect(sql['migration3.1']).toContain(
      `ENGINE = ReplicatedReplacingMergeTree(${KEEPER}, version)\nORDER BY (resource_type,`,
    );
    // Migration 4: the leases of brokers over a ClickHouse without KeeperMap, replicated as the rest.
    expect(sql['migration4.0']).toContain(
      "CREATE TABLE IF NOT EXISTS `kafka`.`_kch_broker_leases` ON CLUSTER 'kch' (",
    );
    expect(sql['migration4.0']).toContain(
      `) ENGINE = ReplicatedReplacingMergeTree(${KEEPER}, version) ORDER BY instance\nTTL `,
    );
    // Migration 5: the side table of transactions and the coordinator's state, replicated as the rest.
    expect(sql['migration5.0']).toContain(
      "CREATE TABLE IF NOT EXISTS `kafka`.`_kch_txn_batches` ON CLUSTER 'kch' (",
    );
    expect(sql['migration5.0']).toContain(
      `) ENGINE = ReplicatedReplacingMergeTree(${KEEPER}, version) ORDER BY (topic_id, partition, base_offset, leader_epoch)`,
    );
    expect(sql['migration5.1']).toContain(
      "CREATE TABLE IF NOT EXISTS `kafka`.`_kch_transactions` ON CLUSTER 'kch' (",
    );
    expect(sql['migration5.1']).toContain(
      `) ENGINE = ReplicatedReplacingMergeTree(${KEEPER}, version) ORDER BY transactional_id`,
    );
    const creates = Object.entries(sql).filter(([k]) => /^migration[1345]\./.test(k));
    expect(creates).toHaveLength(10);
    for (const [, s] of creates) {
      expect(s).toMatch(/^CREATE TABLE IF NOT EXISTS `kafka`\.`_kch_\w+` ON CLUSTER 'kch' \(/);
      expect(s).toMatch(
        /ENGINE = Replicated(Replacing)?MergeTree\('\/clickhouse\/tables\/\{uuid\}\/\{shard\}', '\{replica\}'/,
      );
    }
  });

  it('alters the metadata tables on every server', () => {
    expect(sql['migration2.0']).toBe(
      "ALTER TABLE `kafka`.`_kch_topics` ON CLUSTER 'kch' ADD COLUMN IF NOT EXISTS table_name String DEFAULT ''",
    );
    expect(sql['migration2.1']).toBe(
      "ALTER TABLE `kafka`.`_kch_topics` ON CLUSTER 'kch' ADD COLUMN IF NOT EXISTS table_uuid String DEFAULT ''",
    );
  });

  it('creates topic tables on every server, replicated, deduplicating within the replicated window', () => {
    const lines = sql.topicTable!.split('\n');
    expect(lines[0]).toBe("CREATE TABLE `kafka`.`orders` ON CLUSTER 'kch' (");
    expect(lines.slice(-4)).toEqual([
      `ENGINE = ReplicatedMergeTree(${KEEPER})`,
      'ORDER BY (partition, offset)',
      'SETTINGS replicated_deduplication_window = 1000, merge_selector_base = 20, index_granularity_bytes = 1048576, max_compress_block_size = 262144',
      `COMMENT ${str(topicTableComment('orders'))}`,
    ]);
    expect(sql.topicTableWithTtl).toContain(
      'TTL timestamp + toIntervalMillisecond(604800000)\nSETTINGS replicated_deduplication_window = 500, merge_selector_base = 20',
    );
    expect(sql.topicTable).not.toContain('non_replicated');
  });

  it('alters, comments and drops topic tables on every server', () => {
    expect(sql.modifyTtl).toBe(
      "ALTER TABLE `kafka`.`orders` ON CLUSTER 'kch' MODIFY TTL timestamp + toIntervalMillisecond(1000)",
    );
    expect(sql.removeTtl).toBe("ALTER TABLE `kafka`.`orders` ON CLUSTER 'kch' REMOVE TTL");
    expect(sql.modifyComment).toBe(
      `ALTER TABLE \`kafka\`.\`orders\` ON CLUSTER 'kch' MODIFY COMMENT ${str(topicTableComment('orders'))}`,
    );
    expect(sql.dropTable).toBe("DROP TABLE IF EXISTS `kafka`.`orders` ON CLUSTER 'kch' SYNC");
  });

  it('deletes rows on one server: replication carries the mutation', () => {
    expect(sql.deleteRows).toBe('DELETE FROM `kafka`.`orders` WHERE partition = 0 AND offset >= 5');
  });

  it('creates and drops materialized views on every server, the table a view keeps replicated', () => {
    expect(sql.createViewTo).toBe(
      "CREATE MATERIALIZED VIEW `kafka`.`per_customer` ON CLUSTER 'kch' TO `kafka`.`totals`\nCOMMENT 'kch-view:{}'\nAS SELECT 1 FROM `kafka`.`orders`",
    );
    expect(sql.createViewEngine).toBe(
      `CREATE MATERIALIZED VIEW \`kafka\`.\`per_customer\` ON CLUSTER 'kch' ENGINE = ReplicatedSummingMergeTree(${KEEPER}) ORDER BY k\nCOMMENT 'kch-view:{}'\nAS SELECT 1 FROM \`kafka\`.\`orders\``,
    );
    expect(sql.dropView).toBe("DROP VIEW `kafka`.`per_customer` ON CLUSTER 'kch' SYNC");
    expect(sql.dropViewIfExists).toBe("DROP VIEW IF EXISTS `kafka`.`per_customer` ON CLUSTER 'kch' SYNC");
  });

  it('creates the tables of a tables config on every server, replicated', () => {
    expect(sql.integrationTable).toMatch(
      /^CREATE TABLE IF NOT EXISTS `kafka`\.`events` ON CLUSTER 'kch'\n\(\n/,
    );
    expect(sql.integrationTable).toMatch(
      new RegExp(
        `\\nENGINE = ReplicatedMergeTree\\(${regexText(KEEPER)}\\) ORDER BY \\(_topic, _partition, _offset\\)$`,
      ),
    );
  });

  it('kills a stuck insert on whichever server runs it', () => {
    expect(sql.killQuery).toBe("KILL QUERY ON CLUSTER 'kch' WHERE query_id = 'kch-x-1' SYNC");
  });

  it('creates the cluster store’s KeeperMap tables on every server, unreplicated (their rows are in Keeper already)', () => {
    expect(sql.keeperMembers).toBe(
      "CREATE TABLE IF NOT EXISTS `kafka`.`_kch_cluster_members` ON CLUSTER 'kch' (\n  node_id Int32, instance String, rack String, endpoints String, expires_at Int64\n) ENGINE = KeeperMap('kch/kafka/members') PRIMARY KEY node_id",
    );
    expect(sql.keeperOwners).toMatch(
      /^CREATE TABLE IF NOT EXISTS `kafka`\.`_kch_cluster_owners` ON CLUSTER 'kch' \(.*\) ENGINE = KeeperMap\('kch\/kafka\/owners'\) PRIMARY KEY key$/s,
    );
    expect(sql.keeperCounters).toMatch(
      /^CREATE TABLE IF NOT EXISTS `kafka`\.`_kch_cluster_counters` ON CLUSTER 'kch' \(.*\) ENGINE = KeeperMap\('kch\/kafka\/counters'\) PRIMARY KEY name$/s,
    );
  });

  it('quotes the cluster name, Keeper path and replica name as strings, macros kept for the servers', () => {
    const d = dialect({
      name: "{cluster}'s",
      zooKeeperPath: '/ch/{table}/{shard}',
      replicaName: '{replica}-x',
    });
    expect(createDatabase(DB, d)).toBe("CREATE DATABASE IF NOT EXISTS `kafka` ON CLUSTER '{cluster}\\'s'");
    expect(migrationsTableDdl(DB, d)).toContain(
      "ENGINE = ReplicatedMergeTree('/ch/{table}/{shard}', '{replica}-x') ORDER BY",
    );
  });

  it('with replicated: false, runs DDL on every server but keeps plain MergeTree and its window', () => {
    const d = dialect({ replicated: false });
    const s = statements(d);
    expect(s.createDatabase).toBe("CREATE DATABASE IF NOT EXISTS `kafka` ON CLUSTER 'kch'");
    expect(s.migrationsTable).toContain(') ENGINE = MergeTree ORDER BY version');
    expect(s.topicTable).toContain('ENGINE = MergeTree\n');
    expect(s.topicTable).toContain('SETTINGS non_replicated_deduplication_window = 1000');
    expect(s.createViewEngine).toContain('ENGINE = SummingMergeTree ORDER BY k');
  });
});

describe('replicatedEngine', () => {
  const args = ["'/p'", "'r'"];
  it.each([
    ['MergeTree', "ReplicatedMergeTree('/p', 'r')"],
    ['MergeTree()', "ReplicatedMergeTree('/p', 'r')"],
    ['MergeTree ORDER BY (a, b)', "ReplicatedMergeTree('/p', 'r') ORDER BY (a, b)"],
    ['ReplacingMergeTree(version) ORDER BY k', "ReplicatedReplacingMergeTree('/p', 'r', version) ORDER BY k"],
    [
      'ReplacingMergeTree ( ver , is_deleted ) ORDER BY k',
      "ReplicatedReplacingMergeTree('/p', 'r', ver , is_deleted) ORDER BY k",
    ],
    ['CollapsingMergeTree(sign) ORDER BY k', "ReplicatedCollapsingMergeTree('/p', 'r', sign) ORDER BY k"],
    ['AggregatingMergeTree ORDER BY k', "ReplicatedAggregatingMergeTree('/p', 'r') ORDER BY k"],
    [
      "GraphiteMergeTree('rollup (1)') ORDER BY k",
      "ReplicatedGraphiteMergeTree('/p', 'r', 'rollup (1)') ORDER BY k",
    ],
    [
      "SummingMergeTree((a, b)) ORDER BY k SETTINGS x = ')'",
      "ReplicatedSummingMergeTree('/p', 'r', (a, b)) ORDER BY k SETTINGS x = ')'",
    ],
    ['  MergeTree ORDER BY k', "  ReplicatedMergeTree('/p', 'r') ORDER BY k"],
  ])('%s', (clause, expected) => {
    expect(replicatedEngine(clause, args)).toBe(expected);
  });

  it.each([
    "ReplicatedMergeTree('/x', 'y') ORDER BY k",
    'SharedMergeTree ORDER BY k',
    "KeeperMap('/kch') PRIMARY KEY k",
    'Memory',
    'Null',
    'MergeTreeish',
    'mergetree ORDER BY k',
    'MergeTree(unclosed ORDER BY k',
  ])('leaves %s as it is', (clause) => {
    expect(replicatedEngine(clause, args)).toBe(clause);
  });
});

describe('a self-managed cluster: settings', () => {
  it('inserts wait for a majority, one at a time; reads are sequentially consistent', () => {
    const d = dialect();
    expect(d.settings.insert).toEqual({
      insert_quorum: 'auto',
      insert_quorum_parallel: 0,
      insert_quorum_timeout: 15000,
    });
    expect(d.settings.select).toEqual({ select_sequential_consistency: 1 });
    expect(d.settings.command).toEqual({
      ...d.settings.insert,
      ...d.settings.select,
      distributed_ddl_task_timeout: 15,
      distributed_ddl_output_mode: 'null_status_on_timeout',
    });
    expect(d.settings.query).toEqual({
      distributed_ddl_task_timeout: 15,
      distributed_ddl_output_mode: 'null_status_on_timeout',
    });
    expect(d.insertsMayLandLate).toBe(true);
  });

  it('takes the quorum and the waits from the option', () => {
    const d = dialect({ insertQuorum: 3, insertQuorumTimeoutMs: 5000, ddlTimeoutMs: 2500 });
    expect(d.settings.insert).toEqual({
      insert_quorum: 3,
      insert_quorum_parallel: 0,
      insert_quorum_timeout: 5000,
    });
    expect(d.settings.query.distributed_ddl_task_timeout).toBe(3);
  });

  it('without replicated tables, adds only the bounded wait of ON CLUSTER statements', () => {
    const d = dialect({ replicated: false });
    expect(d.settings.insert).toEqual({});
    expect(d.settings.select).toEqual({});
    expect(d.settings.command).toEqual(d.settings.query);
    expect(d.insertsMayLandLate).toBe(false);
  });

  it('on ClickHouse Cloud (SharedMergeTree found), reads only: inserts reach Keeper and shared storage before they are acknowledged', () => {
    for (const d of [clusterDialect({ tables: 'shared' }), dialect({}, { tables: 'shared' })]) {
      expect(d.settings.insert).toEqual({});
      expect(d.settings.select).toEqual({ select_sequential_consistency: 1 });
      expect(d.insertsMayLandLate).toBe(false);
    }
    // No option: the SQL is one server's; Cloud makes its tables shared by itself.
    expect(clusterDialect({ tables: 'shared' }).onCluster).toBe('');
  });

  it('the transport adds them under the caller’s own settings, which win', async () => {
    const { transport, calls } = recorder();
    const d = dialect();
    const t = dialectTransport(transport, () => d);
    await t.insertBytes(TABLE, ['a'], [Buffer.from('1\n')], {
      settings: { insert_deduplication_token: 'x', insert_quorum: 2 },
    });
    await t.selectBytes('SELECT 1');
    await t.command(createDatabase(DB, d));
    await t.query!('SELECT 1', 'JSONEachRow');
    await t.killQuery!('q1');
    expect(calls).toEqual([
      ['insertBytes', TABLE, { ...d.settings.insert, insert_deduplication_token: 'x', insert_quorum: 2 }],
      ['selectBytes', 'SELECT 1', d.settings.select],
      ['command', "CREATE DATABASE IF NOT EXISTS `kafka` ON CLUSTER 'kch'", d.settings.command],
      ['query', 'SELECT 1', d.settings.query],
      ['command', "KILL QUERY ON CLUSTER 'kch' WHERE query_id = 'q1' SYNC", d.settings.command],
    ]);
  });

  it('the transport refuses DDL that would change one server only', async () => {
    const { transport, calls } = recorder();
    const t = dialectTransport(transport, () => dialect());
    for (const ddl of [
      'CREATE TABLE `kafka`.`x` (a UInt8) ENGINE = Memory',
      '  alter table `kafka`.`x` DROP COLUMN a',
      'DROP TABLE `kafka`.`x`',
      'RENAME TABLE `kafka`.`x` TO `kafka`.`y`',
      'TRUNCATE TABLE `kafka`.`x`',
    ]) {
      const e = await t.command(ddl).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(StorageError);
      expect((e as StorageError).message).toContain("without ON CLUSTER 'kch'");
    }
    await t.command('DELETE FROM `kafka`.`x` WHERE a = 1');
    expect(calls.map((c) => c[1])).toEqual(['DELETE FROM `kafka`.`x` WHERE a = 1']);
  });

  it('the transport runs every statement the storage builds, and the cluster store’s changes of rows on one server', async () => {
    const { transport, calls } = recorder();
    const d = dialect();
    const t = dialectTransport(transport, () => d);
    const built = Object.values(statements(d));
    // The compare-and-set statements of ./cluster-store.ts on its KeeperMap tables: mutations of rows,
    // which must run once (ON CLUSTER would run each on every server, all but one failing their check).
    const keeperChanges = [
      "ALTER TABLE `kafka`.`_kch_cluster_members` UPDATE expires_at = toUnixTimestamp64Milli(now64(3)) + 10000 WHERE node_id = 1 AND instance = 'i' SETTINGS keeper_map_strict_mode = 1",
      "ALTER TABLE `kafka`.`_kch_cluster_owners` UPDATE node_id = 2, instance = 'j', epoch = 3, epoch_starts = '[]' WHERE key = 'p:t:0' AND epoch = 2 SETTINGS keeper_map_strict_mode = 1",
      "alter table kafka._kch_cluster_counters delete where name = 'producer_ids'",
      "DELETE FROM `kafka`.`_kch_cluster_members` WHERE node_id = 1 AND instance = 'i' SETTINGS keeper_map_strict_mode = 1",
      "INSERT INTO `kafka`.`_kch_cluster_owners` SETTINGS keeper_map_strict_mode = 1 VALUES ('t:x', -1, 'id', 1, '[]')",
    ];
    for (const sql of [...built, ...keeperChanges]) await t.command(sql);
    expect(calls.map((c) => c[1])).toEqual([...built, ...keeperChanges]);
    for (const sql of keeperChanges) expect(isSchemaChange(sql)).toBe(false);
    // A table named like a mutation keyword is still altered in its schema.
    expect(isSchemaChange('ALTER TABLE `kafka`.`update` MODIFY TTL x')).toBe(true);
  });
});

describe('the cluster option', () => {
  const url = 'http://localhost:8123';

  it('fills in its defaults', () => {
    expect(cluster()).toEqual({
      name: 'kch',
      replicated: true,
      zooKeeperPath: '/clickhouse/tables/{uuid}/{shard}',
      replicaName: '{replica}',
      insertQuorum: 'auto',
      insertQuorumTimeoutMs: 15000,
      ddlTimeoutMs: 15000,
    });
  });

  it('makes inserts of a table go one at a time with replicated tables', () => {
    expect(clickhouseStorage({ url, cluster: { name: 'kch' } }).config.insertsInFlight).toBe(1);
    expect(
      clickhouseStorage({ url, cluster: { name: 'kch' }, insertsInFlight: 4 }).config.insertsInFlight,
    ).toBe(1);
    expect(
      clickhouseStorage({ url, cluster: { name: 'kch', replicated: false } }).config.insertsInFlight,
    ).toBe(2);
    expect(clickhouseStorage({ url }).config.insertsInFlight).toBe(2);
  });

  it.each([
    [{ chdb: './data', cluster: { name: 'kch' } }, /cluster: .*embedded ClickHouse/],
    [{ url, cluster: { name: '' } }, /cluster\.name/],
    [{ url, cluster: { name: 'kch', zooKeeperPath: 'clickhouse/{uuid}' } }, /absolute Keeper path/],
    [{ url, cluster: { name: 'kch', zooKeeperPath: '/clickhouse/tables/{shard}' } }, /\{uuid\} or \{table\}/],
    [{ url, cluster: { name: 'kch', insertQuorum: 1 } }, /insertQuorum/],
    [{ url, cluster: { name: 'kch', insertQuorum: 'all' } }, /insertQuorum/],
    [{ url, cluster: { name: 'kch', nmae: 'x' } }, /nmae/],
    [{ url, requestTimeoutMs: 10_000, cluster: { name: 'kch' } }, /below requestTimeoutMs/],
    [{ url, cluster: { name: 'kch', replicaName: 'a\u0000b' } }, /cannot contain NUL/],
  ])('refuses %j', (options, message) => {
    expect(() => clickhouseStorage(options as never)).toThrow(message);
  });
});

describe('what the tables turned out to be', () => {
  it('reads replication from the engine', () => {
    expect(replicationOf('MergeTree')).toBe('none');
    expect(replicationOf('ReplicatedMergeTree')).toBe('replicated');
    expect(replicationOf('SharedMergeTree')).toBe('shared');
    expect(replicationOf('')).toBe('none');
  });

  it('takes a cluster of one shard only, whose every server holds every row', () => {
    expect(shardsProblem('kch', 1)).toBeNull();
    expect(shardsProblem('kch', 0)).toMatch(/knows no cluster kch/);
    expect(shardsProblem('kch', 2)).toMatch(/cluster kch has 2 shards: .*replicas of one shard/);
  });

  it('refuses a database made for another setup, saying what to do', () => {
    expect(replicationMismatch('none', undefined, DB)).toBeNull();
    expect(replicationMismatch('replicated', cluster(), DB)).toBeNull();
    expect(replicationMismatch('none', cluster({ replicated: false }), DB)).toBeNull();
    expect(replicationMismatch('shared', undefined, DB)).toBeNull();
    expect(replicationMismatch('shared', cluster(), DB)).toBeNull();
    expect(replicationMismatch('replicated', undefined, DB)).toMatch(
      /made for a ClickHouse cluster.*--clickhouse-cluster/,
    );
    expect(replicationMismatch('none', cluster(), DB)).toMatch(
      /not replicated.*made on one server.*new database/,
    );
    expect(replicationMismatch('replicated', cluster({ replicated: false }), DB)).toMatch(/are replicated/);
  });
});

/** A transport that records what reaches it (a stand-in below the one under test). */
function recorder(): { transport: ClickHouseTransport; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const transport: ClickHouseTransport = {
    location: 'recorder',
    remote: true,
    command: async (sql, settings) => void calls.push(['command', sql, settings]),
    selectBytes: async (sql, settings) => {
      calls.push(['selectBytes', sql, settings]);
      return Buffer.alloc(0);
    },
    insertBytes: async (table, _columns, _chunks, options) =>
      void calls.push(['insertBytes', table, options?.settings]),
    query: async (sql, _format, settings) => {
      calls.push(['query', sql, settings]);
      return Buffer.alloc(0);
    },
    killQuery: async (id) => void calls.push(['killQuery', id, undefined]),
    close: async () => {},
  };
  return { transport, calls };
}

function regexText(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
