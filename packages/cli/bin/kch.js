#!/usr/bin/env node
// The `kch` command. A committed file rather than dist/main.js itself: pnpm links a package's bin only
// when the file exists at link time, and in a fresh clone dist/ is built after linking (by the root
// package's prepare script). It runs in the process the bin shim execs, so a signal sent to the
// process a supervisor started reaches the broker.
try {
  await import('../dist/main.js');
} catch (e) {
  // A package's dist/ is missing: not built yet (the published package always has it).
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !/\/dist\//.test(String(e.message))) throw e;
  process.stderr.write(
    `kch: kch has not been built (${e.message}). In a clone, run \`npx -y pnpm@10.34.8 install\` or \`npx -y pnpm@10.34.8 build:kch\` at its root.\n`,
  );
  process.exitCode = 1;
}
