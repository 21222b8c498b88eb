import { defineConfig } from 'vitest/config';

// In this repository, `pnpm test` at the root runs this example against the packages' TypeScript
// sources. Run on its own (`pnpm --filter @kch/example-validated-ingest test`), the "source" export
// condition does the same; a copy of this example outside the repository uses the published packages.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: { testTimeout: 60_000 },
});
