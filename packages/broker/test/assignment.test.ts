/**
 * The placement of partitions and coordinator slots over live brokers: balanced within each domain,
 * sticky (a broker leaving moves only its share, one joining takes only what balance needs), and the
 * same on every broker that read the same cluster.
 */
import { describe, expect, it } from 'vitest';
import { assign, type Domain } from '../src/cluster/assignment.js';

const keys = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

function counts(wanted: Map<string, number>, domain: Domain): Map<number, number> {
  const c = new Map<number, number>();
  for (const k of domain.keys) c.set(wanted.get(k)!, (c.get(wanted.get(k)!) ?? 0) + 1);
  return c;
}

function spreadOf(c: Map<number, number>, nodes: number[]): number {
  const values = nodes.map((n) => c.get(n) ?? 0);
  return Math.max(...values) - Math.min(...values);
}

describe('assign', () => {
  it('balances each domain within one over the live brokers, whatever the counts', () => {
    for (const [k, nodes] of [
      [6, [1, 2, 3]],
      [7, [1, 2, 3]],
      [1, [1, 2, 3]],
      [50, [2, 5]],
      [4, [1, 2, 3, 4, 5]],
    ] as [number, number[]][]) {
      const domain = { keys: keys('p', k), spread: 7 };
      const wanted = assign([domain], nodes, () => undefined);
      expect(wanted.size).toBe(k);
      expect(spreadOf(counts(wanted, domain), nodes)).toBeLessThanOrEqual(1);
      for (const node of wanted.values()) expect(nodes).toContain(node);
    }
  });

  it('starts small domains at their own point round the brokers', () => {
    const placed = [0, 1, 2].map((spread) =>
      assign([{ keys: ['only'], spread }], [1, 2, 3], () => undefined).get('only'),
    );
    expect(new Set(placed).size).toBe(3);
  });

  it('moves only the leaving broker’s share when one leaves', () => {
    const domain = { keys: keys('p', 12), spread: 0 };
    const before = assign([domain], [1, 2, 3], () => undefined);
    const after = assign([domain], [1, 3], (k) => (before.get(k) === 2 ? undefined : before.get(k)));
    for (const k of domain.keys) if (before.get(k) !== 2) expect(after.get(k)).toBe(before.get(k));
    expect(spreadOf(counts(after, domain), [1, 3])).toBeLessThanOrEqual(1);
  });

  it('moves only what balance needs when one joins, from the fullest brokers', () => {
    const domain = { keys: keys('p', 12), spread: 0 };
    const before = assign([domain], [1, 3], () => undefined);
    const after = assign([domain], [1, 2, 3], (k) => before.get(k));
    const moved = domain.keys.filter((k) => after.get(k) !== before.get(k));
    expect(moved).toHaveLength(4);
    for (const k of moved) expect(after.get(k)).toBe(2);
    expect(spreadOf(counts(after, domain), [1, 2, 3])).toBe(0);
  });

  it('gives the same answer for the same view, in any order of the nodes', () => {
    const domains = [
      { keys: keys('a', 5), spread: 3 },
      { keys: keys('g', 50), spread: 0 },
    ];
    const owners = new Map([
      ['a1', 9],
      ['a2', 2],
      ['g7', 2],
    ]);
    const one = assign(domains, [2, 1, 3], (k) => owners.get(k));
    const two = assign(domains, [3, 2, 1], (k) => owners.get(k));
    expect([...one]).toEqual([...two]);
    expect(one.get('a2')).toBe(2);
    // An owner that is not live (9) keeps nothing.
    expect([1, 2, 3]).toContain(one.get('a1'));
  });
});
