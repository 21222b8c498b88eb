/**
 * Choosing a partition for a record, as Kafka's Java producer does, so that `kch produce` and Java
 * producers put the same key in the same partition.
 *
 * kch's own rather than @platformatic/kafka's: the library's murmur2 is Java's too, but computes in
 * BigInt (several allocations a key, about 3.5 µs against a few dozen ns here), and `kch produce`
 * hashes every keyed line it reads.
 *
 * - With a key: `toPositive(murmur2(key)) % partitions` (BuiltInPartitioner.partitionForKey).
 * - Without a key: "sticky" (KIP-480): every keyless record of one batch goes to one partition, and the
 *   next batch moves on to the next partition, round-robin. Batches stay large (one produce request
 *   carries one batch per partition) while load still spreads over all partitions.
 */

/** Kafka's Utils.murmur2 (MurmurHash2, seed 0x9747b28c), as a signed 32-bit integer. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  const r = 24;
  let h = (0x9747b28c ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = length & ~3;
  switch (length % 4) {
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: the fall-through is MurmurHash2's
    case 3:
      h ^= data[tail + 2]! << 16;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: the fall-through is MurmurHash2's
    case 2:
      h ^= data[tail + 1]! << 8;
    case 1:
      h ^= data[tail]!;
      h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition of a keyed record: Kafka's `Utils.toPositive(Utils.murmur2(key)) % numPartitions`. */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

/** Keyless records: one partition per batch, moving round-robin from batch to batch. */
export class StickyPartitioner {
  private current: number;

  constructor(
    private partitions: number,
    start = Math.floor(Math.random() * partitions),
  ) {
    this.current = start % partitions;
  }

  /** The partition for keyless records of the current batch. */
  partition(): number {
    return this.current;
  }

  /** Moves on to the next partition (after a batch was sent). */
  nextBatch(): void {
    this.current = (this.current + 1) % this.partitions;
  }

  /** The topic now has this many partitions. */
  resize(partitions: number): void {
    this.partitions = partitions;
    this.current %= partitions;
  }
}
