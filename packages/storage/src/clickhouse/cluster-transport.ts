/**
 * The transport as the storage uses it: every call carries the settings of the dialect in force
 * (./cluster-ddl.ts: quorum inserts, sequentially consistent reads, bounded waits of ON CLUSTER
 * statements), and a stuck insert is killed on whichever server of the cluster runs it. With no
 * setting to add (one server) each call passes through untouched.
 *
 * It also refuses a DDL statement that would run on one server of a cluster: a statement builder
 * that forgot the dialect would otherwise leave that server's schema apart from the others', found
 * much later; refusing shows it at the first open against a cluster.
 */
import { StorageError } from '../storage.js';
import type { Dialect } from './cluster-ddl.js';
import { killQuery } from './statements.js';
import type { ClickHouseTransport, InsertOptions, Settings } from './transport.js';

const DDL = /^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE|EXCHANGE)\b/i;
/** A quoted or bare name, as ./sql.ts writes them (`db`.`t`). */
const NAME = '(?:`(?:[^`\\\\]|\\\\.)*`|[\\w$]+)';
/**
 * `ALTER TABLE <t> UPDATE|DELETE`: a mutation of rows, not of the schema. The cluster store's
 * compare-and-set on KeeperMap tables (./cluster-store.ts) must run once, on one server (ON CLUSTER
 * would run it on each, all but the first failing their check); on a replicated table replication
 * carries a mutation to the other replicas.
 */
const MUTATION = new RegExp(
  `^\\s*ALTER\\s+TABLE\\s+${NAME}(?:\\s*\\.\\s*${NAME})?\\s+(UPDATE|DELETE)\\b`,
  'i',
);

/** Whether `sql` changes a schema, so must run ON CLUSTER on a cluster (what the guard below checks). */
export function isSchemaChange(sql: string): boolean {
  return DDL.test(sql) && !MUTATION.test(sql);
}

/** `settings` under the caller's own (which win); the caller's object itself when there is nothing to add. */
function withSettings(added: Settings, own: Settings | undefined): Settings | undefined {
  return Object.keys(added).length === 0 ? own : { ...added, ...own };
}

export function dialectTransport(inner: ClickHouseTransport, dialect: () => Dialect): ClickHouseTransport {
  const query = inner.query?.bind(inner);
  const kill = inner.killQuery?.bind(inner);
  return {
    location: inner.location,
    remote: inner.remote,
    rawBytes: inner.rawBytes,
    command(sql: string, settings?: Settings): Promise<void> {
      const d = dialect();
      if (d.onCluster !== '' && isSchemaChange(sql) && !sql.includes(d.onCluster)) {
        return Promise.reject(
          new StorageError(
            'INTERNAL',
            `kch bug: a DDL statement without${d.onCluster} would change one server of the cluster only, so it was not run: ${sql.slice(0, 300)}`,
            false,
          ),
        );
      }
      return inner.command(sql, withSettings(d.settings.command, settings));
    },
    selectBytes(sql: string, settings?: Settings): Promise<Buffer> {
      return inner.selectBytes(sql, withSettings(dialect().settings.select, settings));
    },
    insertBytes(table, columns, chunks, options?: InsertOptions): Promise<void> {
      const settings = withSettings(dialect().settings.insert, options?.settings);
      return inner.insertBytes(table, columns, chunks, settings ? { ...options, settings } : options);
    },
    ...(query
      ? {
          query: (sql: string, format: string, settings?: Settings) =>
            query(sql, format, withSettings(dialect().settings.query, settings)),
        }
      : {}),
    ...(kill
      ? {
          // Behind a load balancer the insert may run on any server: look for it on all of them.
          killQuery: (queryId: string) => {
            const d = dialect();
            return d.onCluster === ''
              ? kill(queryId)
              : inner.command(killQuery(queryId, d), withSettings(d.settings.command, undefined));
          },
        }
      : {}),
    close: () => inner.close(),
  };
}
