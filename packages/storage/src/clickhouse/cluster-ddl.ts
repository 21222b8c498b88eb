/**
 * What the storage runs on a ClickHouse cluster instead of one server, derived in one place
 * ({@link clusterDialect}) from the `cluster` option and from what kch's tables turned out to be. The
 * statement builders (./schema.ts, ./statements.ts, ./views.ts, ./tables-config.ts) take the
 * {@link Dialect} and put its pieces where each statement needs them, and ./cluster-transport.ts adds
 * its settings to every call. One server gets {@link SINGLE_SERVER}: no piece, no setting, the SQL it
 * always got.
 *
 * A self-managed cluster (`cluster` option):
 * - every CREATE, ALTER, DROP, RENAME, TRUNCATE (and KILL QUERY) runs `ON CLUSTER '<name>'`, so each
 *   server has the same tables. ClickHouse runs an ALTER of a replicated table once per shard and
 *   lets replication carry it, and runs CREATE and DROP on every server, which is what each needs. A
 *   lightweight DELETE stays local: on a replicated table it is a mutation replication carries, and
 *   ON CLUSTER would make one per replica;
 * - MergeTree-family engines become their Replicated* counterparts with the Keeper path and replica
 *   name of the option; other engines (KeeperMap: already shared through Keeper; Memory, Null...) stay;
 * - inserts wait for a majority of replicas (`insert_quorum`), one at a time per table
 *   (`insert_quorum_parallel = 0`), and reads are sequentially consistent
 *   (`select_sequential_consistency = 1`): a replica answers only if it holds every insert that was
 *   acknowledged, and shows nothing that has no quorum yet. That is what the brokers' fencing needs:
 *   a new leader reading a partition's end on any replica sees every record a former leader had
 *   acknowledged, and a consumer never reads a hole below the high watermark. ClickHouse documents
 *   that sequential reads work only with non-parallel quorum inserts (parallel ones may land on
 *   different majorities); the price is one insert at a time per table (docs/deployment.md).
 *
 * ClickHouse Cloud (tables found to be SharedMergeTree, no option needed): inserts need nothing, as
 * every SharedMergeTree insert is stored in shared storage and Keeper before it is acknowledged, but
 * the replicas behind a Cloud endpoint learn of new parts asynchronously and a broker's requests may
 * reach any of them, so reads get `select_sequential_consistency = 1` too (on SharedMergeTree it
 * makes the replica fetch the current parts from Keeper first, with no quorum involved).
 *
 * The Replicated database engine (which replicates DDL by itself) is not used: see docs/deployment.md.
 */
import type { ClusterConfig } from './cluster-options.js';
import { str } from './sql.js';
import type { Settings } from './transport.js';

/** What kch's tables are: plain MergeTree (one server), Replicated* (a cluster), Shared* (ClickHouse Cloud). */
export type Replication = 'none' | 'replicated' | 'shared';

/** What the dialect is derived from. */
export interface ClusterFacts {
  readonly cluster?: ClusterConfig;
  /**
   * What kch's tables turned out to be, once the first one exists (./replication.ts). Until then,
   * what the option makes them: replicated with a (replicated) cluster, plain otherwise.
   */
  readonly tables?: Replication;
}

/** Settings the storage adds to its calls, by kind of call. */
export interface DialectSettings {
  /** Inserts of rows. */
  readonly insert: Settings;
  /** SELECTs whose result the storage acts on. */
  readonly select: Settings;
  /** Statements without a result: DDL, DELETE, INSERT ... SELECT. */
  readonly command: Settings;
  /** SQL of tools (`kch sql`, views): only what keeps an ON CLUSTER statement within the request's time. */
  readonly query: Settings;
}

export interface Dialect {
  /**
   * ` ON CLUSTER '<name>'`, placed after the object's name in CREATE, ALTER, DROP, RENAME and
   * TRUNCATE (and after QUERY in KILL QUERY); '' on one server.
   */
  readonly onCluster: string;
  /** The engine clause of a table the storage creates, from the one-server clause (`MergeTree`, `ReplacingMergeTree(version)`). */
  engine(clause: string): string;
  /** The MergeTree setting by which a table remembers insert tokens, so that a retried insert is dropped. */
  readonly deduplicationWindowSetting: string;
  /**
   * An insert whose answer was lost may become visible after a read found nothing of it (a part
   * waiting for its quorum, which sequential reads hide): clean-ups delete without counting first.
   */
  readonly insertsMayLandLate: boolean;
  readonly settings: DialectSettings;
}

/** The option's default, for tables found replicated without it (refused at open: ./replication.ts). */
const DEFAULT_QUORUM_TIMEOUT_MS = 15_000;
const NONE: Settings = Object.freeze({});

/** The SQL of one server, unchanged. */
export const SINGLE_SERVER: Dialect = clusterDialect({});

/** The dialect of the storage, from the `cluster` option and what its tables are. */
export function clusterDialect(facts: ClusterFacts): Dialect {
  const { cluster } = facts;
  const replicatedTables = cluster?.replicated === true;
  const tables = facts.tables ?? (replicatedTables ? 'replicated' : 'none');
  const keeperArgs = cluster ? [str(cluster.zooKeeperPath), str(cluster.replicaName)] : [];
  const quorum: Settings =
    tables === 'replicated'
      ? {
          insert_quorum: cluster?.insertQuorum ?? 'auto',
          insert_quorum_parallel: 0,
          insert_quorum_timeout: cluster?.insertQuorumTimeoutMs ?? DEFAULT_QUORUM_TIMEOUT_MS,
        }
      : NONE;
  const sequential: Settings = tables === 'none' ? NONE : { select_sequential_consistency: 1 };
  // An ON CLUSTER statement waits for every server at most this long, then answers with a NULL status
  // for the late ones (which run it from the DDL queue when they can) instead of failing after the
  // request itself was given up.
  const ddl: Settings = cluster
    ? {
        distributed_ddl_task_timeout: Math.ceil(cluster.ddlTimeoutMs / 1000),
        distributed_ddl_output_mode: 'null_status_on_timeout',
      }
    : NONE;
  return {
    onCluster: cluster ? ` ON CLUSTER ${str(cluster.name)}` : '',
    engine: replicatedTables ? (clause) => replicatedEngine(clause, keeperArgs) : (clause) => clause,
    deduplicationWindowSetting: replicatedTables
      ? 'replicated_deduplication_window'
      : 'non_replicated_deduplication_window',
    insertsMayLandLate: tables === 'replicated',
    settings: {
      insert: quorum,
      select: sequential,
      command: merged(quorum, sequential, ddl),
      query: ddl,
    },
  };
}

function merged(...all: Settings[]): Settings {
  const nonEmpty = all.filter((s) => Object.keys(s).length > 0);
  return nonEmpty.length === 0 ? NONE : Object.assign({}, ...nonEmpty);
}

/** A MergeTree-family engine name that has a Replicated counterpart (not one already replicated). */
const MERGE_TREE = /^(\s*)([A-Za-z]*MergeTree)(?![A-Za-z0-9_])/;

/**
 * `ReplacingMergeTree(version) ORDER BY k` as `ReplicatedReplacingMergeTree(<path>, <replica>, version)
 * ORDER BY k`: the engine's own arguments follow the Keeper path and replica name, the rest of the
 * clause stays. Anything else (KeeperMap, Memory, an engine already Replicated or Shared, a clause
 * that does not parse) is returned as it is, for ClickHouse to judge.
 */
export function replicatedEngine(clause: string, keeperArgs: readonly string[]): string {
  const m = MERGE_TREE.exec(clause);
  if (!m || /^(Replicated|Shared)/.test(m[2]!)) return clause;
  let rest = m[0].length;
  let own = '';
  const paren = /^\s*\(/.exec(clause.slice(rest));
  if (paren) {
    const open = rest + paren[0].length - 1;
    const close = closingParen(clause, open);
    if (close < 0) return clause;
    own = clause.slice(open + 1, close).trim();
    rest = close + 1;
  }
  const args = [...keeperArgs, ...(own === '' ? [] : [own])].join(', ');
  return `${m[1]}Replicated${m[2]}(${args})${clause.slice(rest)}`;
}

/** The index of the `)` closing the `(` at `open`, past quoted strings and names; -1 when none. */
function closingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === "'" || c === '"' || c === '`') {
      // ClickHouse escapes a quote inside quotes with a backslash (or by doubling it, which this
      // reads as two quoted strings side by side: the same for finding the end).
      for (i++; i < s.length && s[i] !== c; i++) if (s[i] === '\\') i++;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}
