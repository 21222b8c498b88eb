/** librdkafka through kcat: metadata, produce and consume with every codec, against a real broker over TCP. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBroker, startBroker } from './helpers/broker.js';
import { run } from './helpers/run.js';
import { skipEachUnless } from './helpers/skip.js';
import { kcat } from './helpers/tools.js';

describe('kcat', () => {
  skipEachUnless(kcat);
  let b: RunningBroker;
  beforeAll(async () => {
    if (kcat.available) b = await startBroker();
  });
  afterAll(async () => {
    await b?.close();
  });

  it('lists metadata with this broker as the leader of an auto-created topic', async () => {
    const r = await run('kcat', ['-b', b.bootstrap, '-L', '-J', '-t', 'kcat-meta'], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(0);
    const meta = JSON.parse(r.stdout);
    expect(meta.brokers).toEqual([{ id: 1, name: `${b.host}:${b.port}` }]);
    expect(meta.topics).toEqual([
      expect.objectContaining({
        topic: 'kcat-meta',
        partitions: [expect.objectContaining({ partition: 0, leader: 1 })],
      }),
    ]);
  });

  for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
    it(`produces and consumes with compression ${codec}, keys and headers intact, offsets dense`, async () => {
      const topic = `kcat-${codec}`;
      const lines = Array.from({ length: 50 }, (_, i) => `key-${i}:value-${i}-${'x'.repeat(i * 10)}`);
      const produced = await run(
        'kcat',
        ['-b', b.bootstrap, '-P', '-t', topic, '-K:', '-z', codec, '-H', 'origin=kcat', '-X', 'linger.ms=5'],
        { input: `${lines.join('\n')}\n`, timeoutMs: 30_000 },
      );
      expect(produced.code, produced.stderr).toBe(0);
      const consumed = await run(
        'kcat',
        ['-b', b.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-f', '%o|%k|%s|%h\\n'],
        { timeoutMs: 30_000 },
      );
      expect(consumed.code, consumed.stderr).toBe(0);
      const rows = consumed.stdout.trim().split('\n');
      expect(rows).toHaveLength(50);
      rows.forEach((row, i) => {
        expect(row).toBe(`${i}|key-${i}|value-${i}-${'x'.repeat(i * 10)}|origin=kcat`);
      });
    });
  }

  it('consumes from an offset in the middle of a batch', async () => {
    const topic = 'kcat-middle';
    const input = `${Array.from({ length: 10 }, (_, i) => `m${i}`).join('\n')}\n`;
    expect(
      (await run('kcat', ['-b', b.bootstrap, '-P', '-t', topic, '-X', 'linger.ms=50'], { input })).code,
    ).toBe(0);
    const r = await run('kcat', ['-b', b.bootstrap, '-C', '-t', topic, '-o', '7', '-e', '-f', '%o:%s\\n']);
    expect(r.stdout.trim().split('\n')).toEqual(['7:m7', '8:m8', '9:m9']);
  });
});
