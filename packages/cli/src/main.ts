import { main } from './run.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`kch: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
