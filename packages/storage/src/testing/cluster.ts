/**
 * The ClusterStore contract suite: a store that lets several brokers share data (manyBrokers) runs it
 * with one call, inside a vitest file.
 *
 *   import { runClusterStoreContract } from '@kch/storage/testing';
 *   runClusterStoreContract('my store', async () => [storageA.cluster!, storageB.cluster!]);
 *
 * `make` returns two stores over the same data (two brokers' views of it); the suite checks them
 * against each other. A durable store keeps what earlier tests wrote, so each test uses its own node
 * ids and keys.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ClusterEndpoint, ClusterStore, Ownership } from '../storage.js';

export interface ClusterContractOptions {
  /** Per-test timeout in ms (default 30 s). */
  timeoutMs?: number;
}

let nextNode = 1000 + (process.pid % 1000) * 100;

function endpoint(port: number): ClusterEndpoint[] {
  return [{ listener: 'PLAINTEXT', host: '127.0.0.1', port, securityProtocol: 'PLAINTEXT' }];
}

function member(nodeId: number | null) {
  return { nodeId, instance: randomUUID(), rack: null, endpoints: endpoint(9092) };
}

export function runClusterStoreContract(
  name: string,
  make: () => Promise<[ClusterStore, ClusterStore]>,
  options: ClusterContractOptions = {},
): void {
  const timeout = options.timeoutMs ?? 30_000;
  describe(`${name}: ClusterStore contract`, () => {
    it(
      'registers a broker that the other store then sees live, with its endpoints and rack',
      async () => {
        const [a, b] = await make();
        const id = nextNode++;
        const m = { ...member(id), rack: 'r1' };
        expect(await a.register(m, 60_000)).toBe(id);
        const seen = (await b.view()).members.find((x) => x.nodeId === id);
        expect(seen).toMatchObject({ nodeId: id, instance: m.instance, rack: 'r1', endpoints: m.endpoints });
        await a.leave(id, m.instance);
        expect((await b.view()).members.some((x) => x.nodeId === id)).toBe(false);
      },
      timeout,
    );

    it(
      'refuses a node id a live broker holds, saying who holds it',
      async () => {
        const [a, b] = await make();
        const id = nextNode++;
        const first = member(id);
        await a.register(first, 60_000);
        await expect(b.register(member(id), 60_000)).rejects.toThrow(
          `node.id ${id} is in use by a live broker at 127.0.0.1:9092`,
        );
        await a.leave(id, first.instance);
      },
      timeout,
    );

    it(
      'gives a broker without a node id the lowest free one',
      async () => {
        const [a, b] = await make();
        const taken = new Set((await a.view()).members.map((m) => m.nodeId));
        const first = member(null);
        const id = await a.register(first, 60_000);
        let expected = 1;
        while (taken.has(expected)) expected++;
        expect(id).toBe(expected);
        const second = member(null);
        const id2 = await b.register(second, 60_000);
        expect(id2).not.toBe(id);
        await a.leave(id, first.instance);
        await b.leave(id2, second.instance);
      },
      timeout,
    );

    it(
      'lets a registration expire; fencing it stops its broker from renewing, and frees its node id',
      async () => {
        const [a, b] = await make();
        const id = nextNode++;
        const old = member(id);
        await a.register(old, 1);
        let view = await b.view();
        // Polled until the store's clock passed the expiry (a millisecond or so), with a bound.
        const deadline = Date.now() + 5_000;
        while (view.members.some((m) => m.nodeId === id) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 5));
          view = await b.view();
        }
        expect(view.members.some((m) => m.nodeId === id)).toBe(false);
        expect(await b.fence(id, old.instance, view.now)).toBe(true);
        expect(await a.renew(id, old.instance, 60_000)).toBe(false);
        const next = member(id);
        expect(await b.register(next, 60_000)).toBe(id);
        expect(await b.renew(id, next.instance, 60_000)).toBe(true);
        await b.leave(id, next.instance);
      },
      timeout,
    );

    it(
      'does not fence a registration that is still live',
      async () => {
        const [a, b] = await make();
        const id = nextNode++;
        const m = member(id);
        await a.register(m, 60_000);
        const { now } = await b.view();
        expect(await b.fence(id, m.instance, now)).toBe(false);
        expect(await a.renew(id, m.instance, 60_000)).toBe(true);
        await a.leave(id, m.instance);
      },
      timeout,
    );

    it(
      'changes an ownership only from the epoch it was read at: one of two racing writers wins',
      async () => {
        const [a, b] = await make();
        const key = `contract-${randomUUID()}`;
        const first: Ownership = {
          key,
          nodeId: 1,
          instance: 'i1',
          epoch: 0,
          epochStarts: [{ epoch: 0, startOffset: 0 }],
        };
        expect(await a.setOwner(null, first)).toBe(true);
        expect(await b.setOwner(null, { ...first, nodeId: 2 })).toBe(false);
        const toA: Ownership = {
          ...first,
          nodeId: 3,
          instance: 'i3',
          epoch: 1,
          epochStarts: [...first.epochStarts, { epoch: 1, startOffset: 7 }],
        };
        const toB: Ownership = { ...toA, nodeId: 4, instance: 'i4' };
        const wins = await Promise.all([a.setOwner(0, toA), b.setOwner(0, toB)]);
        expect(wins.filter(Boolean)).toHaveLength(1);
        const stored = (await a.owners()).find((o) => o.key === key)!;
        expect(stored).toEqual(wins[0] ? toA : toB);
        expect(await b.setOwner(0, { ...toA, epoch: 2 })).toBe(false);
        await b.dropOwners([key]);
        expect((await a.owners()).some((o) => o.key === key)).toBe(false);
      },
      timeout,
    );
  });
}
