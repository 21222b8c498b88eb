/**
 * Lost compare-and-sets pause a random, growing, capped while before trying again
 * (../src/cas-backoff.ts): the producer-id counter of `_kch_cluster_counters` over a fake backend whose
 * counter another broker always moves first, with the pauses observed instead of slept.
 */
import { describe, expect, it } from 'vitest';
import { CAS_MAX_PAUSE_MS, casBackoff } from '../src/cas-backoff.js';
import type { Backend } from '../src/clickhouse/backend.js';
import { KeeperCounter } from '../src/clickhouse/cluster-store.js';
import { StorageError } from '../src/index.js';

/**
 * A backend whose counter row another broker moves on before every update of ours, until `winFrom`
 * (the attempt, from 0, whose update takes).
 */
function racedBackend(winFrom: number) {
  let value = 10;
  let holder = 'other';
  let updates = 0;
  const backend = {
    table: (name: string) => `db.${name}`,
    // The counter's row, read as KeeperCounter reads it (value, then holder).
    select: async () => ({ done: false, i64: () => value, string: () => holder }),
    t: {
      command: async (sql: string) => {
        if (updates++ < winFrom) {
          value += 3;
          holder = 'other';
          return;
        }
        value = Number(/value = (\d+)/.exec(sql)![1]);
        holder = /holder = '([^']+)'/.exec(sql)![1]!;
      },
    },
    unavailable: (what: string, f: { message: string }) =>
      new StorageError('UNAVAILABLE', `${what}: ${f.message}`, true),
  };
  return backend as unknown as Backend;
}

describe('backoff between lost compare-and-sets', () => {
  it('pauses a random while below a bound that doubles per loss, up to the cap', async () => {
    const bounds: number[] = [];
    for (let lost = 1; lost <= 8; lost++)
      await casBackoff(
        lost,
        async (ms) => void bounds.push(ms),
        () => 0.999999,
      );
    expect(bounds[1]! / bounds[0]!).toBeCloseTo(2);
    expect(bounds.every((ms, i) => i === 0 || ms >= bounds[i - 1]!)).toBe(true);
    expect(Math.max(...bounds)).toBeLessThanOrEqual(CAS_MAX_PAUSE_MS);
    expect(bounds.at(-1)).toBeCloseTo(CAS_MAX_PAUSE_MS, 0);
  });

  it('a producer-id block reservation pauses before each attempt after a loss, never before the first', async () => {
    const pauses: number[] = [];
    const counter = new KeeperCounter(racedBackend(3), 'producer_ids', async (ms) => {
      pauses.push(ms);
    });
    expect(await counter.reserve('reserve producer ids', 5, 0)).toBe(19);
    expect(pauses).toHaveLength(3);
    expect(pauses.every((ms) => ms >= 0 && ms <= CAS_MAX_PAUSE_MS)).toBe(true);
  });

  it('gives up after its attempts, having paused between each, at random', async () => {
    const pauses: number[] = [];
    const counter = new KeeperCounter(racedBackend(Number.POSITIVE_INFINITY), 'producer_ids', async (ms) => {
      pauses.push(ms);
    });
    await expect(counter.reserve('reserve producer ids', 5, 0)).rejects.toMatchObject({
      kind: 'UNAVAILABLE',
    });
    expect(pauses).toHaveLength(99);
    expect(new Set(pauses).size).toBeGreaterThan(50);
  });
});
