/**
 * Whether the storage's options fit the ClickHouse it opens: the cluster named (one shard), and what
 * kch's tables in the database are, read once the first of them exists (`_kch_migrations`). A database made on one server and then opened with the
 * `cluster` option (or the other way round) would get new tables of the other kind beside the old
 * ones: metadata on one server, topics replicated, or the reverse, which brokers over it would read
 * inconsistently. That is refused at open, saying what to do.
 */
import { StorageError } from '../storage.js';
import type { Backend } from './backend.js';
import { clusterDialect, type Dialect, type Replication } from './cluster-ddl.js';
import type { ClusterConfig } from './cluster-options.js';
import { MIGRATIONS_TABLE } from './schema.js';
import { clusterShards, tableEngine } from './statements.js';

/** What a table engine name says of replication (`SharedReplacingMergeTree`: ClickHouse Cloud). */
export function replicationOf(engine: string): Replication {
  if (engine.startsWith('Shared')) return 'shared';
  if (engine.startsWith('Replicated')) return 'replicated';
  return 'none';
}

/** Why tables of `found` kind cannot serve these options, or null when they can. */
export function replicationMismatch(
  found: Replication,
  cluster: ClusterConfig | undefined,
  database: string,
): string | null {
  // ClickHouse Cloud makes every MergeTree a SharedMergeTree, whatever kch asks for.
  if (found === 'shared') return null;
  const expected: Replication = cluster?.replicated ? 'replicated' : 'none';
  if (found === expected) return null;
  if (found === 'replicated')
    return `the tables of database ${database} are replicated (ReplicatedMergeTree): it was made for a ClickHouse cluster, and kch would add tables that are not replicated. Give the cluster option it was made with (kch broker --clickhouse-cluster <name>), or use another database`;
  return `the tables of database ${database} are not replicated (MergeTree): it was made on one server${cluster ? '' : ' or with cluster.replicated = false'}, and kch would add tables of another kind beside them. Use a new database for ${cluster ? 'the cluster' : 'this setup'}, or convert its tables first (docs/deployment.md)`;
}

/**
 * Why the cluster cannot hold kch's tables, or null. Every broker reads and writes whole tables on
 * whichever server it talks to, so every server must hold all rows: replicas of one shard. Rows of a
 * table spread over shards would give each broker a part of each topic, and offsets counted on one.
 */
export function shardsProblem(name: string, shards: number): string | null {
  if (shards === 1) return null;
  if (shards === 0)
    return `ClickHouse knows no cluster ${name} (system.clusters): name one of its remote_servers, the same on every server`;
  return `cluster ${name} has ${shards} shards: kch keeps each topic in one table that every broker reads whole, so the servers of its cluster must be replicas of one shard`;
}

/** Refuses (INVALID_REQUEST) a cluster that is unknown or has several shards, before any DDL runs on it. */
export async function checkCluster(backend: Backend, cluster: ClusterConfig | undefined): Promise<void> {
  // A name with macros ({cluster}) is expanded by each server; system.clusters lists expanded names.
  if (!cluster || cluster.name.includes('{')) return;
  const r = await backend.select('read the shards of the cluster', clusterShards(cluster.name));
  const problem = shardsProblem(cluster.name, r.u64());
  if (problem) throw new StorageError('INVALID_REQUEST', problem, false);
}

/**
 * Reads what the storage's tables are and returns the dialect to go on with; refuses (INVALID_REQUEST)
 * a database made for another setup. Call once `_kch_migrations` exists.
 */
export async function settleDialect(backend: Backend, cluster: ClusterConfig | undefined): Promise<Dialect> {
  const r = await backend.select(
    'read the engine of the migrations table',
    tableEngine(backend.database, MIGRATIONS_TABLE),
  );
  const found = replicationOf(r.done ? '' : r.string());
  const mismatch = replicationMismatch(found, cluster, backend.database);
  if (mismatch) throw new StorageError('INVALID_REQUEST', mismatch, false);
  return clusterDialect({ cluster, tables: found });
}
