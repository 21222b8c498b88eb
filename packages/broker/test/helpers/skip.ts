import { beforeEach } from 'vitest';

/** Something tests need that may be missing where they run: a tool, a server. */
export interface Requirement {
  available: boolean;
  /** Why it is missing and how to get it; empty when available. */
  reason: string;
}

/**
 * Skips each test of the calling describe, saying why, when `needed` is missing. The reason goes to
 * `ctx.skip(reason)`, whose note vitest's default reporter prints next to each skipped test
 * (`↓ kcat > lists metadata … [kcat is not installed (apt-get install kcat)]`); with
 * `describe.skipIf` it prints a count of skipped tests and no reason. beforeAll hooks still run, so
 * they check `needed.available` before starting what only the tests would use.
 */
export function skipEachUnless(needed: Requirement): void {
  beforeEach((ctx) => ctx.skip(!needed.available, needed.reason));
}
