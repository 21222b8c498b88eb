/**
 * The fence condition of many brokers, run by ClickHouse itself: rows a deposed leader wrote at or
 * past the start of a later epoch are invisible, every other row stays.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import { afterAll, describe, expect, it } from 'vitest';
import { ownPartitionRows, visibleUnderFences } from '../src/clickhouse/statements.js';

const dir = mkdtempSync(join(tmpdir(), 'kch-fences-'));
const session = new Session(dir);
afterAll(() => {
  session.close();
  rmSync(dir, { recursive: true, force: true });
});

/** (offset, epoch) rows left visible by `where`, in order. */
async function visible(rows: [number, number][], where: string): Promise<[number, number][]> {
  const values = rows.map(([o, e]) => `(0, ${o}, ${e})`).join(', ');
  const r = await session.queryAsync(
    `SELECT offset, batch_leader_epoch FROM values('partition Int32, offset Int64, batch_leader_epoch Int32', ${values}) WHERE ${where} ORDER BY offset, batch_leader_epoch`,
    { format: 'JSONCompactEachRow' },
  );
  return Buffer.from(r.bytes())
    .toString()
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as [number, number]);
}

describe('fences', () => {
  it('hide the late rows of a deposed leader at or past the next epoch start', async () => {
    // Epoch 0 wrote 0..3, but epoch 1 began at 2: the epoch-0 rows at 2 and 3 came too late.
    const rows: [number, number][] = [
      [0, 0],
      [1, 0],
      [2, 0],
      [3, 0],
      [2, 1],
      [3, 1],
      [4, 1],
    ];
    const fences = [
      { epoch: 0, startOffset: 0 },
      { epoch: 1, startOffset: 2 },
    ];
    expect(await visible(rows, visibleUnderFences(fences))).toEqual([
      [0, 0],
      [1, 0],
      [2, 1],
      [3, 1],
      [4, 1],
    ]);
  });

  it('bind each row by the first epoch after its own, over several changes of leader', async () => {
    const rows: [number, number][] = [
      [0, 0],
      [1, 0],
      [1, 1],
      [2, 1],
      [3, 1],
      [2, 3],
      [3, 3],
      [4, 3],
    ];
    // Epoch 2 began at 2 and wrote nothing before epoch 3 also began at 2.
    const fences = [
      { epoch: 3, startOffset: 2 },
      { epoch: 1, startOffset: 1 },
      { epoch: 2, startOffset: 2 },
    ];
    expect(await visible(rows, visibleUnderFences(fences))).toEqual([
      [0, 0],
      [1, 1],
      [2, 3],
      [3, 3],
      [4, 3],
    ]);
  });

  it('leave a partition of one broker as it is: no fences, no condition', async () => {
    expect(ownPartitionRows(3).where).toBe('partition = 3');
    const rows: [number, number][] = [
      [0, 0],
      [1, 0],
    ];
    expect(await visible(rows, ownPartitionRows(0, [{ epoch: 0, startOffset: 0 }]).where)).toEqual(rows);
  });
});
