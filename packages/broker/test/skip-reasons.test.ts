/**
 * A test skipped for a missing tool says why in `pnpm test`'s output: vitest's default reporter, run in
 * a child process on fixture files (./fixtures/skip-reasons), prints each test that skipEachUnless
 * skips with its reason.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { run } from './helpers/run.js';

const root = fileURLToPath(new URL('./fixtures/skip-reasons/', import.meta.url));
const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

it('the default reporter prints each skipped test with its reason', async () => {
  // The child is a vitest of its own, not a worker of this one: this run's VITEST* variables stay out.
  const env: NodeJS.ProcessEnv = { NO_COLOR: '1', FORCE_COLOR: '0' };
  for (const k of Object.keys(process.env)) if (k.startsWith('VITEST')) env[k] = undefined;
  const r = await run(
    process.execPath,
    [vitest, 'run', '--root', root, '--config', `${root}vitest.config.ts`],
    {
      env,
      timeoutMs: 60_000,
    },
  );
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const reason = '[fixture-tool is not installed (apt-get install fixture-tool)]';
  const lines = r.stdout.split('\n').map((l) => l.trim());
  expect(lines.filter((l) => l.includes(reason))).toEqual([
    `↓ needs a tool > first ${reason}`,
    `↓ needs a tool > second ${reason}`,
  ]);
  expect(r.stdout).toMatch(/Tests\s+1 passed \| 2 skipped \(3\)/);
});
