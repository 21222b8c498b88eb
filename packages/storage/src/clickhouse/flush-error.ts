import type { StorageError } from '../storage.js';

/**
 * Failure of one group-commit insert, with the query ids that might still be running on a server
 * (the storage stops them before it cleans up what they may have written).
 */
export class FlushError extends Error {
  constructor(
    readonly error: StorageError,
    readonly queryIds: string[],
  ) {
    super(error.message);
  }
}
