/**
 * The `cluster` option of the ClickHouse storage (./options.ts): a self-managed ClickHouse cluster,
 * what it may say and its defaults. What the storage makes of it is ./cluster-ddl.ts's.
 */
import { z } from 'zod';

/**
 * Where each replicated table keeps its replication log in Keeper: ClickHouse's own default
 * (`default_replica_path`). `{uuid}` gives every table a path of its own, also a table dropped and
 * made again under the same name (a deleted and re-created topic), whose old path may outlive it while
 * a replica that held it is down; ON CLUSTER gives the table the same UUID on every server.
 */
export const DEFAULT_ZOOKEEPER_PATH = '/clickhouse/tables/{uuid}/{shard}';

/** Values spliced into SQL as quoted strings, which chdb and ClickHouse end at a NUL. */
const noNul = (what: string) =>
  [(s: string) => !s.includes('\u0000'), { error: `${what} cannot contain NUL` }] as const;

/**
 * A self-managed ClickHouse cluster: servers that share a Keeper (or ZooKeeper), listed under one name
 * in their `remote_servers`. What the storage then runs is derived by ./cluster-ddl.ts and explained in
 * docs/deployment.md. Not for ClickHouse Cloud, which replicates by itself (SharedMergeTree), nor for
 * embedded ClickHouse.
 */
export const clusterOptionsSchema = z
  .object({
    /** The cluster every DDL statement of the storage runs on (`ON CLUSTER '<name>'`); macros allowed. */
    name: z
      .string()
      .min(1)
      .max(200)
      .refine(...noNul('cluster names')),
    /**
     * MergeTree tables become their Replicated* counterparts (the data itself replicated through
     * Keeper). false keeps plain MergeTree on every server: each server then holds only what was
     * written to it, so every broker must use the same one.
     */
    replicated: z.boolean().default(true),
    /** The Keeper path of each replicated table; must tell tables apart (`{uuid}` or `{table}`). */
    zooKeeperPath: z
      .string()
      .startsWith('/', { error: 'must be an absolute Keeper path, starting with /' })
      .refine(...noNul('Keeper paths'))
      .refine((p) => p.includes('{uuid}') || p.includes('{table}'), {
        error: 'must contain {uuid} or {table}: every table needs a path of its own',
      })
      .default(DEFAULT_ZOOKEEPER_PATH),
    /** The replica's name under that path: `{replica}`, a macro each server defines. */
    replicaName: z
      .string()
      .min(1)
      .refine(...noNul('replica names'))
      .default('{replica}'),
    /**
     * How many replicas hold an insert before it is acknowledged (`insert_quorum`): `auto` is a
     * majority, so a new leader reading any replica sees every acknowledged record.
     */
    insertQuorum: z.union([z.literal('auto'), z.number().int().min(2).max(1000)]).default('auto'),
    /** How long an insert waits for its quorum (`insert_quorum_timeout`), below `requestTimeoutMs`. */
    insertQuorumTimeoutMs: z.number().int().min(1000).default(15_000),
    /**
     * How long an ON CLUSTER statement waits for every server (`distributed_ddl_task_timeout`, whole
     * seconds), below `requestTimeoutMs`; a server that is slower or down runs it when it comes back.
     */
    ddlTimeoutMs: z.number().int().min(1000).default(15_000),
  })
  .strict();

export type ClusterOptions = z.input<typeof clusterOptionsSchema>;
export type ClusterConfig = z.output<typeof clusterOptionsSchema>;
