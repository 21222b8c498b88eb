/**
 * A ClusterStore in process memory: brokers in one process over one storage (tests, embedding), and
 * the reference the contract suite holds the ClickHouse one to. Its clock is the process's.
 */
import { nodeIdInUse } from '../cluster-member.js';
import type { ClusterMember, ClusterStore, ClusterView, Ownership } from '../storage.js';

interface Registration extends ClusterMember {
  expiresAt: number;
}

export class MemoryClusterStore implements ClusterStore {
  readonly manyBrokers = true;
  private readonly members = new Map<number, Registration>();
  private readonly owned = new Map<string, Ownership>();

  constructor(private readonly clock: () => number = Date.now) {}

  async register(
    member: Omit<ClusterMember, 'nodeId'> & { nodeId: number | null },
    ttlMs: number,
  ): Promise<number> {
    const now = this.clock();
    const free = (id: number) => {
      const held = this.members.get(id);
      return held === undefined || held.expiresAt < now;
    };
    let nodeId = member.nodeId;
    if (nodeId === null) {
      nodeId = 1;
      while (!free(nodeId)) nodeId++;
    } else if (!free(nodeId)) {
      throw nodeIdInUse(nodeId, this.members.get(nodeId)!);
    }
    this.members.set(nodeId, { ...member, nodeId, expiresAt: now + ttlMs });
    return nodeId;
  }

  async renew(nodeId: number, instance: string, ttlMs: number): Promise<boolean> {
    const m = this.members.get(nodeId);
    if (m?.instance !== instance) return false;
    m.expiresAt = this.clock() + ttlMs;
    return true;
  }

  async leave(nodeId: number, instance: string): Promise<void> {
    if (this.members.get(nodeId)?.instance === instance) this.members.delete(nodeId);
  }

  async view(): Promise<ClusterView> {
    const now = this.clock();
    const members = [...this.members.values()]
      .filter((m) => m.expiresAt >= now)
      .sort((a, b) => a.nodeId - b.nodeId)
      .map((m) => ({ ...m }));
    return { now, members };
  }

  async fence(nodeId: number, instance: string, now: number): Promise<boolean> {
    const m = this.members.get(nodeId);
    if (m?.instance !== instance) return true;
    if (m.expiresAt >= now) return false;
    this.members.delete(nodeId);
    return true;
  }

  async owners(): Promise<Ownership[]> {
    return [...this.owned.values()].map((o) => ({ ...o, epochStarts: [...o.epochStarts] }));
  }

  async setOwner(expectedEpoch: number | null, next: Ownership): Promise<boolean> {
    const current = this.owned.get(next.key);
    if ((current?.epoch ?? null) !== expectedEpoch) return false;
    this.owned.set(next.key, { ...next, epochStarts: [...next.epochStarts] });
    return true;
  }

  async dropOwners(keys: readonly string[]): Promise<void> {
    for (const k of keys) this.owned.delete(k);
  }
}
