/**
 * The `cluster` option against real engines.
 *
 * - Always, on embedded ClickHouse without the option: the storage runs the very DDL one server always
 *   got, and the dialect it settles on adds no setting (./cluster-ddl.test.ts checks the SQL itself).
 * - With CLICKHOUSE_URL and CLICKHOUSE_CLUSTER set (a server of a self-managed cluster with Keeper,
 *   and the cluster's name in its remote_servers): the storage contract with the option, and the
 *   tables it made, replicated on the cluster. chdb cannot stand in: its replicated tables take no
 *   inserts.
 */
import { readFileSync } from 'node:fs';
import { createClient } from '@clickhouse/client';
import { afterAll, describe, expect, it } from 'vitest';
import { clusterDialect, type Dialect } from '../src/clickhouse/cluster-ddl.js';
import { clusterOptionsSchema } from '../src/clickhouse/cluster-options.js';
import { str } from '../src/clickhouse/sql.js';
import { type ClickHouseStorage, type ClickHouseTransport, clickhouseStorage } from '../src/index.js';
import { runStorageContract, testTopic } from '../src/testing/index.js';
import { chdbTestDirectory } from './chdb-directory.js';
import { statements } from './cluster-statements.js';

const { dir, query, track } = chdbTestDirectory('kch-cluster-');

/** What the storage settled on at open (private to it: read here only to show it adds nothing). */
const dialectOf = (s: ClickHouseStorage) =>
  (s as unknown as { backend: { dialect: Dialect } }).backend.dialect;

describe('embedded ClickHouse, no cluster option', () => {
  it('runs the DDL of one server, byte for byte, and adds no setting to any call', async () => {
    const before: Record<string, string> = JSON.parse(
      readFileSync(new URL('./fixtures/single-server-statements.json', import.meta.url), 'utf8'),
    );
    // What reaches the transport, below the dialect (as ClickHouse gets it).
    const commands: string[] = [];
    const settings: unknown[] = [];
    const s = track(
      clickhouseStorage({
        chdb: dir,
        database: 'kafka',
        wrapTransport: (inner): ClickHouseTransport => ({
          location: inner.location,
          remote: inner.remote,
          command: (sql, given) => {
            commands.push(sql);
            settings.push(given);
            return inner.command(sql, given);
          },
          selectBytes: (sql, given) => {
            settings.push(given);
            return inner.selectBytes(sql, given);
          },
          insertBytes: (table, columns, chunks, options) => {
            // Inserts carry their deduplication token, as they always did; nothing else is added.
            settings.push(
              options?.settings === undefined
                ? undefined
                : Object.keys(options.settings).filter((k) => !k.startsWith('insert_dedup')),
            );
            return inner.insertBytes(table, columns, chunks, options);
          },
          query: inner.query?.bind(inner),
          killQuery: inner.killQuery?.bind(inner),
          close: () => inner.close(),
        }),
      }),
    );
    await s.open();
    const migrations = Object.keys(before).filter((k) => /^migration\d/.test(k));
    expect(commands.slice(0, 2 + migrations.length)).toEqual([
      before.createDatabase,
      before.migrationsTable,
      ...migrations.map((k) => before[k]),
    ]);
    const d = dialectOf(s);
    expect(d.onCluster).toBe('');
    expect(d.settings).toEqual({ insert: {}, select: {}, command: {}, query: {} });

    await s.createTopic({ ...testTopic(1), name: 'orders' });
    await s.commitOffsets('g', [
      { topic: 'orders', partition: 0, offset: 0, leaderEpoch: -1, metadata: null, commitTimestamp: 0 },
    ]);
    const create = commands.find((c) => c.startsWith('CREATE TABLE `kafka`.`orders`'));
    expect(create?.split('\n')[0]).toBe(before.topicTable!.split('\n')[0]);
    expect(create?.split('\n').slice(-4)).toEqual(before.topicTable!.split('\n').slice(-4));
    expect(settings.length).toBeGreaterThan(10);
    expect(settings.filter((x) => x !== undefined && !(Array.isArray(x) && x.length === 0))).toEqual([]);
  });
});

describe("a cluster's statements, read by ClickHouse's own parser", () => {
  // chdb runs no DDL worker (ON CLUSTER is refused there) and its replicated tables take no writes,
  // but its parser is ClickHouse's: each statement parses, with ON CLUSTER where ClickHouse reads it.
  const d = clusterDialect({ cluster: clusterOptionsSchema.parse({ name: 'kch' }) });
  const all = Object.entries(statements(d));

  it.each(all)('%s', async (name, sql) => {
    // TabSeparated escapes the quotes' backslashes: none of these statements has one of its own.
    const formatted = (await query(`SELECT formatQuerySingleLine(${str(sql)})`)).trim().replaceAll('\\', '');
    if (name === 'deleteRows') expect(formatted).not.toContain('ON CLUSTER');
    else if (name === 'killQuery') expect(formatted).toMatch(/^KILL QUERY ON CLUSTER kch WHERE /);
    else
      expect(formatted).toMatch(
        /^(CREATE|ALTER|DROP) [A-Z ]+ (IF (NOT )?EXISTS )?[a-z_]+(\.[a-z_]+)? ON CLUSTER kch( |$)/,
      );
    if (/ENGINE = \w*MergeTree/.test(sql))
      expect(formatted).toMatch(
        /ENGINE = Replicated\w*MergeTree\('\/clickhouse\/tables\/\{uuid\}\/\{shard\}', '\{replica\}'/,
      );
  });
});

const url = process.env.CLICKHOUSE_URL;
const clusterName = process.env.CLICKHOUSE_CLUSTER;

if (!url || !clusterName) {
  describe('a self-managed ClickHouse cluster (CLICKHOUSE_URL, CLICKHOUSE_CLUSTER)', () => {
    it('the storage contract with the cluster option, its tables replicated', (ctx) =>
      ctx.skip(
        !url
          ? 'CLICKHOUSE_URL is not set: point it at a server of a ClickHouse cluster with Keeper, and CLICKHOUSE_CLUSTER at the cluster name'
          : 'CLICKHOUSE_CLUSTER is not set: name a cluster of the server at CLICKHOUSE_URL (its remote_servers), whose servers share a Keeper',
      ));
  });
} else {
  const database = `kch_cluster_${process.pid}_${Date.now().toString(36)}`;
  const cluster = { name: clusterName };
  const create = () => clickhouseStorage({ url, database, cluster, requestTimeoutMs: 30_000 });
  afterAll(async () => {
    const client = createClient({ url });
    await client.command({
      query: `DROP DATABASE IF EXISTS \`${database}\` ON CLUSTER '${clusterName.replace(/[\\']/g, '\\$&')}' SYNC`,
    });
    await client.close();
  });

  runStorageContract('clickhouse (cluster at CLICKHOUSE_CLUSTER)', create, {
    reopen: async (old) => {
      await old.close();
      const next = create();
      await next.open();
      return next;
    },
  });

  describe('clickhouse (cluster at CLICKHOUSE_CLUSTER): the tables', () => {
    it('makes every table of kch replicated, on every server of the cluster', async () => {
      const s = create();
      await s.open();
      try {
        await s.createTopic({ ...testTopic(1), name: 'replicated' });
        const engines = (
          await s.query(
            `SELECT hostName() AS host, name, engine FROM clusterAllReplicas('${clusterName}', system.tables) WHERE database = '${database}' FORMAT TabSeparated`,
          )
        )
          .toString('utf8')
          .trim()
          .split('\n')
          .map((l) => l.split('\t'));
        const hosts = new Set(engines.map(([host]) => host));
        expect(hosts.size).toBeGreaterThan(0);
        for (const host of hosts) {
          const mine = engines.filter(([h]) => h === host);
          expect(mine.map(([, name]) => name)).toEqual(
            expect.arrayContaining(['_kch_migrations', '_kch_topics', 'replicated']),
          );
          for (const [, name, engine] of mine)
            expect([name, engine]).toEqual([name, expect.stringMatching(/^Replicated/)]);
        }
      } finally {
        await s.close();
      }
    });

    it('refuses to open the database without the cluster option', async () => {
      const s = clickhouseStorage({ url, database });
      await expect(s.open()).rejects.toThrow(/made for a ClickHouse cluster/);
      await s.close();
    });
  });
}
