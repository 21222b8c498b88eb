/**
 * The ClusterStore of a ClickHouse without Keeper: it cannot give many brokers the linearizable writes
 * they need, so it makes sure there is one. Each broker keeps a lease row in `_kch_broker_leases`
 * (migration 4), renewed like a registration; a broker that finds another's live lease refuses to
 * start. A broker is admitted when, after writing its lease, it reads no other: one that writes later
 * then sees it and refuses. Two that see each other (they wrote at once) both withdraw and try again
 * after a random pause, so that one of them goes first.
 */

import { memberAddress } from '../cluster-member.js';
import {
  type ClusterMember,
  type ClusterStore,
  type ClusterView,
  type Ownership,
  StorageError,
} from '../storage.js';
import type { Backend } from './backend.js';
import { BROKER_LEASES_TABLE } from './schema.js';
import { int, str } from './sql.js';
import { NOW_MS } from './statements.js';

/** How often a starting broker looks again at a lease it waits out (renewals come every few seconds). */
const RENEWAL_POLL_MS = 500;
/** How many times brokers that started at once withdraw and try again before one gives up. */
const CONTENDED_ATTEMPTS = 10;
/** The longest random pause before such a retry (ms). */
const CONTENDED_PAUSE_MS = 300;

interface Lease extends ClusterMember {
  registeredAt: number;
  expiresAt: number;
}

export class SingleBrokerStore implements ClusterStore {
  readonly manyBrokers = false;
  private registeredAt = 0;
  private member: ClusterMember | undefined;
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly backend: Backend) {}

  async register(
    member: Omit<ClusterMember, 'nodeId'> & { nodeId: number | null },
    ttlMs: number,
  ): Promise<number> {
    const self: ClusterMember = { ...member, nodeId: member.nodeId ?? 1 };
    for (let attempt = 1; ; attempt++) {
      await this.waitForEarlierSelf(self);
      this.registeredAt = await this.backend.now();
      this.member = self;
      await this.write(ttlMs);
      // Another broker may have written its lease between our read and our write. Admitting the one
      // registered first would not do: its lease may become visible only after the other looked.
      const rival = (await this.others(self.instance))[0];
      if (!rival) return self.nodeId;
      await this.leave(self.nodeId, self.instance);
      if (attempt === CONTENDED_ATTEMPTS) throw secondBroker(this.backend, rival);
      await new Promise((r) => setTimeout(r, 1 + Math.random() * CONTENDED_PAUSE_MS));
    }
  }

  /**
   * A broker restarted after a crash finds the lease of its earlier life (same node id) still live for
   * up to its TTL: it waits for it to expire, as Kafka's broker waits for its old session. A lease that
   * is renewed meanwhile, or one of another node id, is another broker: refused.
   */
  private async waitForEarlierSelf(self: ClusterMember): Promise<void> {
    let seen = new Map<string, number>();
    for (;;) {
      const live = await this.others(self.instance);
      if (live.length === 0) return;
      const other = live.find(
        (l) => l.nodeId !== self.nodeId || (seen.get(l.instance) ?? l.expiresAt) !== l.expiresAt,
      );
      if (other) throw secondBroker(this.backend, other);
      seen = new Map(live.map((l) => [l.instance, l.expiresAt]));
      const now = await this.backend.now();
      const wait = Math.max(...live.map((l) => l.expiresAt)) - now + 1;
      // Polled, so that a lease renewed meanwhile (a live broker) is seen well before it would expire.
      await new Promise((r) => setTimeout(r, Math.min(Math.max(wait, 1), RENEWAL_POLL_MS)));
    }
  }

  async renew(_nodeId: number, instance: string, ttlMs: number): Promise<boolean> {
    if (this.member?.instance !== instance) return false;
    await this.write(ttlMs);
    return true;
  }

  async leave(_nodeId: number, instance: string): Promise<void> {
    if (this.member?.instance !== instance) return;
    await this.write(null);
    this.member = undefined;
  }

  async view(): Promise<ClusterView> {
    const now = await this.backend.now();
    const members = this.member ? [{ ...this.member, expiresAt: now }] : [];
    return { now, members };
  }

  async fence(): Promise<boolean> {
    return false;
  }

  async owners(): Promise<Ownership[]> {
    return [];
  }

  async setOwner(): Promise<boolean> {
    throw new StorageError(
      'INVALID_REQUEST',
      'one broker serves this database: there is no owner to set',
      false,
    );
  }

  async dropOwners(): Promise<void> {}

  /**
   * Writes this broker's lease: live for `ttlMs`, or ended (null). Writes go one after the other, so a
   * renewal still running when the broker leaves cannot land after its leaving.
   */
  private write(ttlMs: number | null): Promise<void> {
    const m = this.member!;
    const next = this.writes.then(() => this.insertLease(m, ttlMs));
    this.writes = next.catch(() => undefined);
    return next;
  }

  private async insertLease(m: ClusterMember, ttlMs: number | null): Promise<void> {
    const expires = ttlMs === null ? '0' : `${NOW_MS} + ${int(ttlMs)}`;
    await this.backend.command(
      'renew the broker lease',
      `INSERT INTO ${this.backend.table(BROKER_LEASES_TABLE)} (instance, node_id, endpoints, registered_at, expires_at, version) SELECT ${str(m.instance)}, ${int(m.nodeId)}, ${str(JSON.stringify(m.endpoints))}, ${int(this.registeredAt)}, ${expires}, toUnixTimestamp64Micro(now64(6))`,
    );
  }

  /** Live leases of other brokers, the earliest registered first. */
  private async others(instance: string): Promise<Lease[]> {
    const r = await this.backend.select(
      'read the broker leases',
      `SELECT instance, node_id, endpoints, registered_at, expires_at FROM ${this.backend.table(BROKER_LEASES_TABLE)} FINAL
WHERE expires_at >= ${NOW_MS} AND instance != ${str(instance)} ORDER BY registered_at, instance`,
    );
    const out: Lease[] = [];
    while (!r.done) {
      const inst = r.string();
      const nodeId = r.i32();
      const endpoints = JSON.parse(r.string()) as ClusterMember['endpoints'];
      const registeredAt = r.i64();
      const expiresAt = r.i64();
      out.push({ instance: inst, nodeId, endpoints, rack: null, registeredAt, expiresAt });
    }
    return out;
  }
}

function secondBroker(backend: Backend, holder: Lease): StorageError {
  return new StorageError(
    'INVALID_REQUEST',
    `another kch broker (node.id ${holder.nodeId}${memberAddress(holder)}) serves ${backend.location}, and this ClickHouse has no Keeper, so only one broker may: stop that broker, or give ClickHouse a Keeper (keeper_map_path_prefix in its config) to run several (docs/deployment.md)`,
    false,
  );
}
