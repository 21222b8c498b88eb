import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string, entry = 'index.ts') =>
  fileURLToPath(new URL(`./packages/${pkg}/src/${entry}`, import.meta.url));

// Tests run against the TypeScript sources, so `pnpm test` needs no build step.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@kch\/storage\/testing$/, replacement: src('storage', 'testing/index.ts') },
      { find: /^@kch\/protocol$/, replacement: src('protocol') },
      { find: /^@kch\/storage$/, replacement: src('storage') },
      { find: /^@kch\/broker$/, replacement: src('broker') },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
