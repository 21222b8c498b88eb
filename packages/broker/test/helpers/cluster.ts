/** Several in-process brokers over one storage and one cluster store (many brokers over one database). */
import type { MemoryClusterStore, Storage } from '@kch/storage';

/** One storage seen by several in-process brokers: each may close its view without closing the data. */
export function shared(storage: Storage, cluster: MemoryClusterStore): Storage {
  return new Proxy(storage, {
    get(target, key) {
      if (key === 'cluster') return cluster;
      if (key === 'close' || key === 'open') return async () => undefined;
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Polls until `check` passes: leadership moves at the brokers' next look at the cluster (≤ 3 s). */
export async function eventually<T>(
  read: () => Promise<T>,
  check: (t: T) => boolean,
  what: string,
): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`${what} did not happen within 15 s: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
