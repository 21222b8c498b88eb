/**
 * Work that must not interleave, run in turns: each call starts once the calls made before it have
 * settled, whatever their outcome (a failed turn does not stop the next). `Turns` is one line of
 * turns; `KeyedTurns` one line per key (a partition, a transactional id), forgotten when it empties.
 */

export class Turns {
  private last: Promise<unknown> = Promise.resolve();

  /** Runs `f` after every earlier turn has settled. */
  run<T>(f: () => Promise<T>): Promise<T> {
    const next = this.last.then(f, f);
    this.last = next.catch(() => {});
    return next;
  }

  /** Resolves once the turns begun so far have settled. */
  async drain(): Promise<void> {
    await this.last;
  }
}

export class KeyedTurns<K> {
  private readonly tails = new Map<K, Promise<unknown>>();

  /** Runs `f` after every earlier turn of `key` has settled. */
  run<T>(key: K, f: () => Promise<T>): Promise<T> {
    const next = (this.tails.get(key) ?? Promise.resolve()).then(f, f);
    const tail = next.catch(() => {});
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
