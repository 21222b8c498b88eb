/**
 * packages/broker/README.md's example runs from a clone as the README says: saved as embed.ts in
 * examples/embedded-in-tests and run there with tsx, on the TypeScript sources (`--conditions=source`)
 * and on the built packages (dist/, which `pnpm build` makes: CI builds before it tests; elsewhere the
 * second test skips while dist/ is missing or older than the sources).
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  normalize,
  outputMatches,
  planDoc,
  REPO_ROOT,
  runShell,
  type SessionCommand,
  userEnv,
} from './doc-runner.js';

const README = 'packages/broker/README.md';
const steps = planDoc(readFileSync(join(REPO_ROOT, README), 'utf8'));
const example = steps.find((s) => s.kind === 'file' && s.name === 'embed.ts');
const commands = steps.flatMap((s) => (s.kind === 'session' ? s.commands : []));
const sourceRun = commands.find((c) => c.command.includes('--conditions=source embed.ts'));
const distRun = commands.find((c) => /exec tsx embed\.ts$/.test(c.command));

/** The example under a name of this run's own, so that concurrent runs do not share the file. */
const file = `embed-doc-test-${process.pid}.ts`;
const dir = join(REPO_ROOT, 'examples', 'embedded-in-tests');
afterAll(() => rmSync(join(dir, file), { force: true }));

async function runAsDocumented(c: SessionCommand): Promise<void> {
  writeFileSync(join(dir, file), `${example!.block.lines.join('\n')}\n`);
  const r = await runShell(c.command.replace(/\bembed\.ts\b/, file), { cwd: REPO_ROOT, env: userEnv() });
  const expected = normalize(c.expected.join('\n'));
  const actual = normalize(r.output).replace(/\n$/, '');
  expect(outputMatches(expected, actual), `${README}:${c.line}: ${c.command}\nprinted:\n${r.output}`).toBe(
    true,
  );
  expect(r.code).toBe(0);
}

/** Why dist/ cannot be used: missing, or older than a source file; '' when it is up to date. */
function distStale(): string {
  for (const pkg of ['protocol', 'storage', 'broker']) {
    const built = join(REPO_ROOT, 'packages', pkg, 'dist', 'index.js');
    if (!existsSync(built)) return `packages/${pkg}/dist is missing (run npx -y pnpm@10.34.8 build)`;
    const builtAt = statSync(built).mtimeMs;
    const src = join(REPO_ROOT, 'packages', pkg, 'src');
    const newer = readdirSync(src, { recursive: true, encoding: 'utf8' }).find(
      (f) => f.endsWith('.ts') && statSync(join(src, f)).mtimeMs > builtAt,
    );
    if (newer) return `packages/${pkg}/dist is older than src/${newer} (run npx -y pnpm@10.34.8 build)`;
  }
  return '';
}

describe(`${README}: the embedding example`, () => {
  it('is in the README with the commands that run it', () => {
    expect(example, 'a ts block after <!-- doc-test: file embed.ts -->').toBeDefined();
    expect(sourceRun, 'a session running it with --conditions=source').toBeDefined();
    expect(distRun, 'a session running it on the built packages').toBeDefined();
    expect(example!.block.lang).toBe('ts');
    expect(example!.block.lines.join('\n')).toContain('groupInitialRebalanceDelayMs: 0');
  });

  it('runs on the TypeScript sources as documented', async () => {
    await runAsDocumented(sourceRun!);
  }, 120_000);

  it('runs on the built packages as documented', async (ctx) => {
    const stale = distStale();
    if (stale && process.env.CI) throw new Error(`${stale}; CI builds before it tests (.ci/run)`);
    ctx.skip(stale !== '', stale);
    await runAsDocumented(distRun!);
  }, 120_000);
});
