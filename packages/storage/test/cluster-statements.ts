/**
 * Every statement of the ClickHouse storage that a cluster changes (and the lightweight DELETE, which
 * it must not), built with a given dialect, by name: what ./cluster-ddl.test.ts compares and
 * ./clickhouse-cluster.test.ts hands to ClickHouse's parser. The names are those of
 * ./fixtures/single-server-statements.json.
 */
import type { Dialect } from '../src/clickhouse/cluster-ddl.js';
import { clusterTablesDdl } from '../src/clickhouse/cluster-store.js';
import { MIGRATIONS, migrationsTableDdl, topicTableDdl } from '../src/clickhouse/schema.js';
import { tableName } from '../src/clickhouse/sql.js';
import {
  createDatabase,
  deleteRows,
  dropTable,
  killQuery,
  modifyComment,
  modifyTtl,
  removeTtl,
} from '../src/clickhouse/statements.js';
import { integrationTableDdl, parseTablesConfig } from '../src/clickhouse/tables-config.js';
import { topicTableComment } from '../src/clickhouse/topic-tables.js';
import { dropViewSql, materializedViewDdl } from '../src/clickhouse/views.js';

export const DB = 'kafka';
export const TABLE = tableName(DB, 'orders');
const VIEW = tableName(DB, 'per_customer');
export const [ENTRY] = parseTablesConfig([
  { name: 'events', columns: [{ name: 'id', type: 'UInt64' }], topics: ['events'] },
]);

/** Every DDL statement of the storage (and its other statements that a cluster could change), by name. */
export function statements(d: Dialect): Record<string, string> {
  return {
    createDatabase: createDatabase(DB, d),
    migrationsTable: migrationsTableDdl(DB, d),
    ...Object.fromEntries(
      MIGRATIONS.flatMap((m) =>
        m.statements({ database: DB, dialect: d }).map((s, i) => [`migration${m.version}.${i}`, s]),
      ),
    ),
    topicTable: topicTableDdl(DB, 'orders', null, 1000, undefined, topicTableComment('orders'), d),
    topicTableWithTtl: topicTableDdl(DB, 'orders', 604800000, 500, { merge_selector_base: 20 }, undefined, d),
    modifyTtl: modifyTtl(TABLE, 'timestamp + toIntervalMillisecond(1000)', d),
    removeTtl: removeTtl(TABLE, d),
    deleteRows: deleteRows(TABLE, 'partition = 0 AND offset >= 5'),
    dropTable: dropTable(TABLE, d),
    modifyComment: modifyComment(TABLE, topicTableComment('orders'), d),
    createViewTo: materializedViewDdl(
      VIEW,
      { to: tableName(DB, 'totals') },
      'kch-view:{}',
      `SELECT 1 FROM ${TABLE}`,
      d,
    ),
    createViewEngine: materializedViewDdl(
      VIEW,
      { engine: 'SummingMergeTree ORDER BY k' },
      'kch-view:{}',
      `SELECT 1 FROM ${TABLE}`,
      d,
    ),
    dropView: dropViewSql(VIEW, false, d),
    dropViewIfExists: dropViewSql(VIEW, true, d),
    integrationTable: integrationTableDdl(ENTRY!, DB, d),
    killQuery: killQuery('kch-x-1', d),
    ...Object.fromEntries(
      clusterTablesDdl(DB, d).map((sql, i) => [['keeperMembers', 'keeperOwners', 'keeperCounters'][i]!, sql]),
    ),
  };
}
