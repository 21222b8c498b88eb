import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string, entry = 'index.ts') =>
  fileURLToPath(new URL(`./packages/${pkg}/src/${entry}`, import.meta.url));

// Tests run against the TypeScript sources, so `pnpm test` needs no build step.
const alias = [
  { find: /^@kch\/storage\/testing$/, replacement: src('storage', 'testing/index.ts') },
  { find: /^@kch\/protocol$/, replacement: src('protocol') },
  { find: /^@kch\/storage$/, replacement: src('storage') },
  { find: /^@kch\/broker$/, replacement: src('broker') },
  { find: /^@kch\/kafka-connection$/, replacement: src('kafka-connection') },
];

/** The broker tests that drive real clients over TCP run twice: on memory storage and on embedded ClickHouse. */
const CLIENT_TESTS = [
  'packages/broker/test/kcat.test.ts',
  'packages/broker/test/kafkajs.test.ts',
  'packages/broker/test/confluent-kafka.test.ts',
  'packages/broker/test/kafka-python.test.ts',
  'packages/broker/test/produce-fetch.test.ts',
  'packages/broker/test/groups-long-run.test.ts',
  'packages/broker/test/dead-letters-clients.test.ts',
  'packages/broker/test/transactions-protocol.test.ts',
  'packages/broker/test/transactions-kafkajs.test.ts',
  'packages/broker/test/compaction-clients.test.ts',
  'packages/broker/test/log-cleaner.test.ts',
];

export default defineConfig({
  resolve: { alias },
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'memory',
          include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          pool: 'forks',
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'chdb',
          include: CLIENT_TESTS,
          env: { KCH_TEST_STORAGE: 'chdb' },
          testTimeout: 90_000,
          hookTimeout: 120_000,
          pool: 'forks',
        },
      },
    ],
  },
});
