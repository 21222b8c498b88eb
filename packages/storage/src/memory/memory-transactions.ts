import type { TransactionMetadata, TransactionStore } from '../storage.js';

/** The transaction coordinator's state in process memory: one entry per transactional id. */
export class MemoryTransactionStore implements TransactionStore {
  private readonly states = new Map<string, TransactionMetadata>();

  async list(): Promise<TransactionMetadata[]> {
    return [...this.states.values()].map((s) => structuredClone(s));
  }

  async put(state: TransactionMetadata): Promise<void> {
    this.states.set(state.transactionalId, structuredClone(state));
  }

  async remove(transactionalId: string): Promise<void> {
    this.states.delete(transactionalId);
  }
}
