/**
 * The pause between attempts of a compare-and-set that lost to another writer. Without it, brokers
 * that lost go again at once and tend to collide again in step (each round costs a Keeper read and a
 * write); a random wait spreads them out, growing with each loss ("full jitter"), capped so that a
 * change still settles within a fraction of a client's request timeout.
 */

/** Upper bound of the first pause (ms); doubles per lost attempt up to {@link CAS_MAX_PAUSE_MS}. */
const FIRST_PAUSE_MS = 4;
export const CAS_MAX_PAUSE_MS = 100;

export type Pause = (ms: number) => Promise<void>;

const sleep: Pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits before attempt `lost + 1`, after `lost` (≥ 1) lost attempts: a random time below
 * min(FIRST_PAUSE_MS · 2^(lost-1), CAS_MAX_PAUSE_MS). `pause` and `random` are for tests.
 */
export function casBackoff(
  lost: number,
  pause: Pause = sleep,
  random: () => number = Math.random,
): Promise<void> {
  const bound = Math.min(FIRST_PAUSE_MS * 2 ** Math.min(lost - 1, 16), CAS_MAX_PAUSE_MS);
  return pause(random() * bound);
}
