/**
 * Builds the JavaScript the `kch` command runs: packages/cli/bin/kch.js imports dist/main.js, which
 * imports @kch/broker, @kch/storage and @kch/protocol through their package exports (dist/index.js).
 * The root package's `prepare` script runs this on `pnpm install`, so a fresh clone has a working
 * node_modules/.bin/kch; `pnpm build:kch` runs it after changing the sources.
 *
 * JavaScript only, ES modules only, no source maps: `pnpm build` (type declarations, CommonJS) takes
 * about 40 s, which an install should not; this takes about a second. Each package is bundled on its
 * own with every package import left external, as `pnpm build` (tsup) does, so the two builds write the
 * same layout and either one's output runs `kch`. tsconfig.json is not read: its `paths` point the
 * packages at each other's sources, which would bundle them into one another.
 */
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const packages = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Package, entry points (name -> source) and whether it code-splits (the CLI loads each command lazily). */
const TARGETS = [
  { pkg: 'protocol', entries: { index: 'src/index.ts' } },
  { pkg: 'storage', entries: { index: 'src/index.ts' } },
  { pkg: 'broker', entries: { index: 'src/index.ts' } },
  { pkg: 'cli', entries: { main: 'src/main.ts', index: 'src/index.ts' }, splitting: true },
];

// The CLI's chunks are named by content hash: remove the JavaScript of an earlier build, or every
// change would leave its old chunks behind. (Type declarations and CommonJS files of `pnpm build` stay.)
const cliDist = join(packages, 'cli', 'dist');
try {
  for (const f of readdirSync(cliDist)) if (/\.js(\.map)?$/.test(f)) rmSync(join(cliDist, f));
} catch (e) {
  if (e.code !== 'ENOENT') throw e;
}

const started = performance.now();
await Promise.all(
  TARGETS.map(({ pkg, entries, splitting = false }) =>
    build({
      absWorkingDir: join(packages, pkg),
      entryPoints: entries,
      outdir: 'dist',
      bundle: true,
      splitting,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      tsconfigRaw: { compilerOptions: { target: 'ES2022', useDefineForClassFields: true } },
      logLevel: 'warning',
    }),
  ),
);
process.stderr.write(
  `kch: built packages/{protocol,storage,broker,cli}/dist for the kch command in ${Math.round(performance.now() - started)} ms\n`,
);
