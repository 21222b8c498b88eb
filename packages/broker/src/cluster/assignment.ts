/**
 * Where each held thing should be: balanced over the live brokers, and sticky, so that a broker
 * joining or leaving moves only what balance needs (a broker that leaves moves its own share, not
 * everyone's). Every broker computes it from what it read of the cluster; brokers that read a moment
 * apart may disagree for a moment, which costs a delay, never safety: ownership changes only by
 * compare-and-set, and only from an owner that released or died (./leadership.ts).
 */

/** A set of things balanced among themselves: a topic's partitions, or the coordinator slots. */
export interface Domain {
  /** The things, in a fixed order (partition index, slot number). */
  readonly keys: readonly string[];
  /** Where a domain's new things start round the brokers, so that small topics spread out. */
  readonly spread: number;
}

/**
 * The broker each key should be with. Within a domain every live broker gets ⌊k/n⌋ or ⌈k/n⌉ of its k
 * things; a thing stays with its live owner while that owner is within its share; the rest go to the
 * brokers with the fewest, the tie broken round the brokers from the domain's `spread`.
 */
export function assign(
  domains: readonly Domain[],
  nodes: readonly number[],
  ownerOf: (key: string) => number | undefined,
): Map<string, number> {
  const wanted = new Map<string, number>();
  if (nodes.length === 0) return wanted;
  const sorted = [...nodes].sort((a, b) => a - b);
  const live = new Set(sorted);
  for (const domain of domains) {
    const { keys } = domain;
    const floor = Math.floor(keys.length / sorted.length);
    let extras = keys.length % sorted.length;
    const count = new Map<number, number>(sorted.map((n) => [n, 0]));
    const unplaced: string[] = [];
    // Things stay where they are while their owner holds no more than its share: ⌊k/n⌋ for all, and
    // one more for as many brokers as the division leaves over.
    const keep = (owner: number | undefined): boolean => {
      if (owner === undefined || !live.has(owner)) return false;
      const c = count.get(owner)!;
      if (c < floor) {
        count.set(owner, c + 1);
        return true;
      }
      if (c === floor && extras > 0) {
        extras--;
        count.set(owner, c + 1);
        return true;
      }
      return false;
    };
    for (const key of keys) {
      const owner = ownerOf(key);
      if (keep(owner)) wanted.set(key, owner!);
      else unplaced.push(key);
    }
    const start = domain.spread % sorted.length;
    for (const key of unplaced) {
      let best = -1;
      for (let i = 0; i < sorted.length; i++) {
        const node = sorted[(start + i) % sorted.length]!;
        if (best === -1 || count.get(node)! < count.get(best)!) best = node;
      }
      count.set(best, count.get(best)! + 1);
      wanted.set(key, best);
    }
  }
  return wanted;
}
