/**
 * The storage's ClusterStore on a ClickHouse with Keeper: registrations and ownerships in two KeeperMap
 * tables, `_kch_cluster_members` and `_kch_cluster_owners`; and counters that brokers reserve ranges of
 * (producer id blocks, ./producer-ids.ts) in a third, `_kch_cluster_counters`. KeeperMap writes go to
 * Keeper, which orders them all (linearizable); with `keeper_map_strict_mode` an insert of an existing
 * key fails and an ALTER ... UPDATE/DELETE checks the version of every row it read, so "change it if it
 * is still what I read" is a real compare-and-set. Expiry compares with ClickHouse's clock (`now64()` in the statement),
 * never a broker's, so brokers' clocks need not agree.
 *
 * A ClickHouse without Keeper (no `keeper_map_path_prefix` in its config) refuses KeeperMap tables;
 * the storage then uses ./single-broker.ts instead.
 */
import { randomUUID } from 'node:crypto';
import { casBackoff, type Pause } from '../cas-backoff.js';
import { nodeIdInUse } from '../cluster-member.js';
import type { ClusterMember, ClusterStore, ClusterView, LeaderEpochStart, Ownership } from '../storage.js';
import type { Backend } from './backend.js';
import type { Dialect } from './cluster-ddl.js';
import type { RowBinaryReader } from './rowbinary.js';
import { int, str, tableName } from './sql.js';
import { NOW_MS } from './statements.js';
import { backendFailure } from './transport.js';

export const MEMBERS_TABLE = '_kch_cluster_members';
export const OWNERS_TABLE = '_kch_cluster_owners';
export const COUNTERS_TABLE = '_kch_cluster_counters';
/** The counter of `_kch_cluster_counters` holding the end of the last block of producer ids reserved. */
export const PRODUCER_IDS_COUNTER = 'producer_ids';
const STRICT = 'SETTINGS keeper_map_strict_mode = 1';
/** KEEPER_EXCEPTION: an insert of an existing key, or a row changed since it was read. */
const KEEPER_EXCEPTION = 999;
/** BAD_ARGUMENTS: what ClickHouse answers for a KeeperMap table when it has no Keeper. */
const BAD_ARGUMENTS = 36;

/**
 * The KeeperMap tables' DDL. Their Keeper path is under the server's `keeper_map_path_prefix` and
 * names the database, so brokers of one database find the same rows through any ClickHouse replica.
 *
 * On a self-managed cluster they are created ON CLUSTER (`dialect.onCluster`): a table is a definition
 * in each server's catalog, and a broker may query any server, so every server needs it; the rows are
 * not copied per server, as every server's KeeperMap table with the same path reads and writes the
 * same Keeper nodes. The engine stays KeeperMap (`dialect.engine` leaves it), never Replicated*: the
 * data is in Keeper already, where writes are linearized. The changes of rows (INSERT, ALTER ...
 * UPDATE, DELETE) are not DDL and run on one server only: once is what a compare-and-set must run.
 */
export function clusterTablesDdl(database: string, dialect: Dialect): string[] {
  const path = (what: string) => str(`kch/${database}/${what}`);
  const table = (name: string) => `${tableName(database, name)}${dialect.onCluster}`;
  return [
    `CREATE TABLE IF NOT EXISTS ${table(MEMBERS_TABLE)} (
  node_id Int32, instance String, rack String, endpoints String, expires_at Int64
) ENGINE = ${dialect.engine(`KeeperMap(${path('members')})`)} PRIMARY KEY node_id`,
    `CREATE TABLE IF NOT EXISTS ${table(OWNERS_TABLE)} (
  key String, node_id Int32, instance String, epoch Int32, epoch_starts String
) ENGINE = ${dialect.engine(`KeeperMap(${path('owners')})`)} PRIMARY KEY key`,
    // holder: who set the value last, so that a broker knows whether its own compare-and-set took.
    `CREATE TABLE IF NOT EXISTS ${table(COUNTERS_TABLE)} (
  name String, value Int64, holder String
) ENGINE = ${dialect.engine(`KeeperMap(${path('counters')})`)} PRIMARY KEY name`,
  ];
}

/**
 * Creates the KeeperMap tables; resolves false when this ClickHouse has no Keeper. Other failures
 * (Keeper configured but down) are errors: a broker must not run alone on data others may share.
 */
export async function openKeeperTables(backend: Backend): Promise<boolean> {
  for (const ddl of clusterTablesDdl(backend.database, backend.dialect)) {
    try {
      await backend.t.command(ddl);
    } catch (e) {
      const f = backendFailure(e);
      if (f.code === BAD_ARGUMENTS && /keeper_map_path_prefix/.test(f.message)) return false;
      throw backend.unavailable('create the cluster tables (KeeperMap)', f, e);
    }
  }
  return true;
}

export class KeeperClusterStore implements ClusterStore {
  readonly manyBrokers = true;

  constructor(private readonly backend: Backend) {}

  private get members(): string {
    return this.backend.table(MEMBERS_TABLE);
  }

  private get ownersTable(): string {
    return this.backend.table(OWNERS_TABLE);
  }

  async register(
    member: Omit<ClusterMember, 'nodeId'> & { nodeId: number | null },
    ttlMs: number,
  ): Promise<number> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const view = await this.rows();
      let nodeId = member.nodeId;
      if (nodeId === null) {
        nodeId = 1;
        while (view.live.has(nodeId)) nodeId++;
      } else {
        const holder = view.live.get(nodeId);
        if (holder && holder.instance !== member.instance) throw nodeIdInUse(nodeId, holder);
      }
      const stale = view.all.get(nodeId);
      if (stale && !(await this.fence(nodeId, stale.instance, view.now))) continue;
      const row = `${int(nodeId)}, ${str(member.instance)}, ${str(member.rack ?? '')}, ${str(JSON.stringify(member.endpoints))}, ${NOW_MS} + ${int(ttlMs)}`;
      if (
        await insertIfAbsent(this.backend, `INSERT INTO ${this.members} ${STRICT} SELECT ${row}`, 'register')
      )
        return nodeId;
    }
    throw this.backend.unavailable(
      'register this broker',
      { message: 'other brokers kept taking the node id first', transient: true },
      undefined,
    );
  }

  async renew(nodeId: number, instance: string, ttlMs: number): Promise<boolean> {
    await casCommand(
      this.backend,
      'renew this broker',
      `ALTER TABLE ${this.members} UPDATE expires_at = ${NOW_MS} + ${int(ttlMs)} WHERE node_id = ${int(nodeId)} AND instance = ${str(instance)} ${STRICT}`,
    );
    return (await this.memberInstance(nodeId)) === instance;
  }

  async leave(nodeId: number, instance: string): Promise<void> {
    await casCommand(
      this.backend,
      'remove this broker',
      `DELETE FROM ${this.members} WHERE node_id = ${int(nodeId)} AND instance = ${str(instance)} ${STRICT}`,
    );
  }

  async view(): Promise<ClusterView> {
    const { now, live } = await this.rows();
    return { now, members: [...live.values()].sort((a, b) => a.nodeId - b.nodeId) };
  }

  async fence(nodeId: number, instance: string, now: number): Promise<boolean> {
    await casCommand(
      this.backend,
      'fence an expired broker',
      `DELETE FROM ${this.members} WHERE node_id = ${int(nodeId)} AND instance = ${str(instance)} AND expires_at < ${int(now)} ${STRICT}`,
    );
    return (await this.memberInstance(nodeId)) !== instance;
  }

  async owners(): Promise<Ownership[]> {
    const r = await this.backend.select(
      'read partition leaders and coordinators',
      `SELECT key, node_id, instance, epoch, epoch_starts FROM ${this.ownersTable}`,
    );
    const out: Ownership[] = [];
    while (!r.done) out.push(readOwnership(r));
    return out;
  }

  async setOwner(expectedEpoch: number | null, next: Ownership): Promise<boolean> {
    const starts = str(JSON.stringify(next.epochStarts.map((s) => [s.epoch, s.startOffset])));
    if (expectedEpoch === null) {
      return insertIfAbsent(
        this.backend,
        `INSERT INTO ${this.ownersTable} ${STRICT} VALUES (${str(next.key)}, ${int(next.nodeId)}, ${str(next.instance)}, ${int(next.epoch)}, ${starts})`,
        'set an owner',
      );
    }
    await casCommand(
      this.backend,
      'change an owner',
      `ALTER TABLE ${this.ownersTable} UPDATE node_id = ${int(next.nodeId)}, instance = ${str(next.instance)}, epoch = ${int(next.epoch)}, epoch_starts = ${starts} WHERE key = ${str(next.key)} AND epoch = ${int(expectedEpoch)} ${STRICT}`,
    );
    const r = await this.backend.select(
      'read an owner',
      `SELECT key, node_id, instance, epoch, epoch_starts FROM ${this.ownersTable} WHERE key = ${str(next.key)}`,
    );
    if (r.done) return false;
    const stored = readOwnership(r);
    return (
      stored.nodeId === next.nodeId &&
      stored.instance === next.instance &&
      stored.epoch === next.epoch &&
      JSON.stringify(stored.epochStarts) === JSON.stringify(next.epochStarts)
    );
  }

  async dropOwners(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await casCommand(
      this.backend,
      'remove owners',
      `DELETE FROM ${this.ownersTable} WHERE key IN (${keys.map(str).join(', ')}) ${STRICT}`,
    );
  }

  /** Every registration, and the live ones by node id, with ClickHouse's clock. */
  private async rows(): Promise<{
    now: number;
    all: Map<number, ClusterMember & { expiresAt: number }>;
    live: Map<number, ClusterMember & { expiresAt: number }>;
  }> {
    // The clock is read first: registrations that expire while the rows are read still count as live.
    const now = await this.backend.now();
    const r = await this.backend.select(
      'read the brokers',
      `SELECT node_id, instance, rack, endpoints, expires_at FROM ${this.members}`,
    );
    const all = new Map<number, ClusterMember & { expiresAt: number }>();
    while (!r.done) {
      const nodeId = r.i32();
      const instance = r.string();
      const rack = r.string();
      const endpoints = JSON.parse(r.string()) as ClusterMember['endpoints'];
      const expiresAt = r.i64();
      all.set(nodeId, { nodeId, instance, rack: rack === '' ? null : rack, endpoints, expiresAt });
    }
    const live = new Map([...all].filter(([, m]) => m.expiresAt >= now));
    return { now, all, live };
  }

  private async memberInstance(nodeId: number): Promise<string | null> {
    const r = await this.backend.select(
      'read a broker',
      `SELECT instance FROM ${this.members} WHERE node_id = ${int(nodeId)}`,
    );
    return r.done ? null : r.string();
  }
}

/**
 * A counter in `_kch_cluster_counters` that only grows, from which brokers reserve ranges no other
 * broker gets: a reservation is a compare-and-set of the value it read, in Keeper.
 */
export class KeeperCounter {
  constructor(
    private readonly backend: Backend,
    private readonly name: string,
    /** How to wait between lost attempts (tests observe it instead of sleeping). */
    private readonly pause?: Pause,
  ) {}

  private get table(): string {
    return this.backend.table(COUNTERS_TABLE);
  }

  /**
   * Reserves `size` values for the caller alone and returns the first: the range starts at the
   * counter, or at `floor` when that is higher (values handed out before the counter existed).
   */
  async reserve(what: string, size: number, floor: number): Promise<number> {
    for (let attempt = 0; attempt < 100; attempt++) {
      // Another broker reserved between our read and write: pause a random while, or brokers that
      // reserve at once keep colliding in step.
      if (attempt > 0) await casBackoff(attempt, this.pause);
      // Fresh for each attempt: seeing it in the row afterwards proves that this attempt's write took.
      // Comparing values would not do: two brokers that read the same value would write the same end.
      const token = randomUUID();
      const current = await this.read(what);
      const start = Math.max(current?.value ?? 0, floor);
      const end = start + size;
      if (current === null) {
        const row = `${str(this.name)}, ${int(end)}, ${str(token)}`;
        if (await insertIfAbsent(this.backend, `INSERT INTO ${this.table} ${STRICT} VALUES (${row})`, what))
          return start;
        continue;
      }
      // The value only grows, so `value = read` matches nothing once another broker has moved it on;
      // and strict mode fails the update (KEEPER_EXCEPTION) when it moved between read and write.
      await casCommand(
        this.backend,
        what,
        `ALTER TABLE ${this.table} UPDATE value = ${int(end)}, holder = ${str(token)} WHERE name = ${str(this.name)} AND value = ${int(current.value)} ${STRICT}`,
      );
      if ((await this.read(what))?.holder === token) return start;
    }
    throw this.backend.unavailable(
      what,
      { message: 'other brokers kept reserving first', transient: true },
      undefined,
    );
  }

  private async read(what: string): Promise<{ value: number; holder: string } | null> {
    const r = await this.backend.select(
      what,
      `SELECT value, holder FROM ${this.table} WHERE name = ${str(this.name)}`,
    );
    return r.done ? null : { value: r.i64(), holder: r.string() };
  }
}

/** A strict-mode insert, which fails when the key exists: resolves false then. */
async function insertIfAbsent(backend: Backend, sql: string, what: string): Promise<boolean> {
  try {
    await backend.t.command(sql);
    return true;
  } catch (e) {
    const f = backendFailure(e);
    if (f.code === KEEPER_EXCEPTION && /Node exists/i.test(f.message)) return false;
    throw backend.unavailable(what, f, e);
  }
}

/** A checked update or delete: a row changed under it is not an error, the caller reads what won. */
async function casCommand(backend: Backend, what: string, sql: string): Promise<void> {
  try {
    await backend.t.command(sql);
  } catch (e) {
    const f = backendFailure(e);
    if (f.code === KEEPER_EXCEPTION) return;
    throw backend.unavailable(what, f, e);
  }
}

function readOwnership(r: RowBinaryReader): Ownership {
  const key = r.string();
  const nodeId = r.i32();
  const instance = r.string();
  const epoch = r.i32();
  const epochStarts: LeaderEpochStart[] = (JSON.parse(r.string()) as [number, number][]).map(
    ([epoch, startOffset]) => ({ epoch, startOffset }),
  );
  return { key, nodeId, instance, epoch, epochStarts };
}
