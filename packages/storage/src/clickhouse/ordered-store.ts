/**
 * A store of metadata rows (./security-store.ts, ./transaction-store.ts) whose writes run one after
 * another, in the order they were called: a check and the row it leads to (or a later write) cannot
 * interleave, and each row takes its version when its turn comes. close() waits for them (`drain`).
 */

import { Turns } from '../turns.js';
import type { Backend } from './backend.js';
import type { MetadataStore } from './metadata-store.js';

export abstract class OrderedStore {
  private readonly turns = new Turns();

  constructor(
    protected readonly backend: Backend,
    protected readonly metadata: MetadataStore,
  ) {}

  /** Resolves once the writes called so far are stored (or failed). */
  drain(): Promise<void> {
    return this.turns.drain();
  }

  /** Runs `f` after the writes called before it have settled (whatever their outcome). */
  protected write<T>(f: () => Promise<T>): Promise<T> {
    this.backend.checkOpen();
    return this.turns.run(f);
  }
}
