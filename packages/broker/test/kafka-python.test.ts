/** kafka-python (python3-kafka): produce and consume with a group. */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBroker, startBroker } from './helpers/broker.js';
import { run } from './helpers/run.js';
import { skipEachUnless } from './helpers/skip.js';
import { kafkaPython, PYTHON } from './helpers/tools.js';

describe('kafka-python', () => {
  skipEachUnless(kafkaPython);
  let b: RunningBroker;
  beforeAll(async () => {
    if (kafkaPython.available) b = await startBroker();
  });
  afterAll(async () => {
    await b?.close();
  });

  it('produces and consumes every record with its key, value, header and offset', async () => {
    const script = fileURLToPath(new URL('./python/kafka_python_roundtrip.py', import.meta.url));
    const r = await run(PYTHON, [script, b.bootstrap, 'kafka-python'], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.offsets).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(out.got).toEqual(Array.from({ length: 100 }, (_, i) => [i, `k${i}`, `v${i}`, [['h', 'x']]]));
  });
});
