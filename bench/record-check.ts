/**
 * What a `kch.schema` check costs per record, apart from the rest of a Produce: the check the broker
 * runs (UTF-8 decode, JSON.parse, schema validation) and the validation alone, on a valid and on an
 * invalid order-like value, with a schema without formats and with a date-time format, against
 * JSON.parse alone. Single-threaded, in this process, no broker.
 *
 *   pnpm exec tsx --conditions=source bench/record-check.ts [--records 200000] [--rounds 5] [--module <file>]
 *
 * Prints nanoseconds per record for each case: the fastest round (the least disturbed by other work on
 * the machine) and the median round. `--module` measures
 * another value-schemas.ts (a copy of an earlier version, to compare before and after a change).
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type * as ValueSchemas from '../packages/broker/src/ingest/value-schemas.js';
import { INVALID_ORDER, ORDER, ORDER_SCHEMA } from './lib/orders.js';

const { values: flags } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '5' },
    module: { type: 'string' },
  },
});
const records = Number(flags.records);
const rounds = Number(flags.rounds);
const { compileJsonSchema, valueSchemaCheck }: typeof ValueSchemas = await import(
  flags.module ? pathToFileURL(flags.module).href : '../packages/broker/src/ingest/value-schemas.js'
);

/** The same with a format, whose check (a parse of the date and time) costs more than the rest. */
const WITH_DATE_TIME = {
  ...ORDER_SCHEMA,
  properties: { ...ORDER_SCHEMA.properties, placed_at: { type: 'string', format: 'date-time' } },
};
const VALID = Buffer.from(JSON.stringify(ORDER));
const INVALID = Buffer.from(JSON.stringify(INVALID_ORDER));
const record = (value: Buffer) => ({ key: null, value, headers: [] });

/** Nanoseconds per call of `run`: the fastest round and the median (after one warm-up round). */
function nsPer(run: () => unknown): { min: number; median: number } {
  const times: number[] = [];
  for (let r = 0; r <= rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < records; i++) run();
    if (r > 0) times.push(((performance.now() - start) * 1e6) / records);
  }
  times.sort((a, b) => a - b);
  return { min: Math.round(times[0]!), median: Math.round(times[Math.floor(times.length / 2)]!) };
}

function print(rows: Record<string, { min: number; median: number }>): void {
  for (const [name, { min, median }] of Object.entries(rows))
    console.log(`  ${name.padEnd(34)} ${String(min).padStart(6)} ${String(median).padStart(6)}`);
}

console.log(
  `${VALID.length}-byte value, ${records} records x ${rounds} rounds, ns/record (fastest round, median):`,
);
print({ 'JSON.parse alone': nsPer(() => JSON.parse(VALID.toString('utf8'))) });
const validValue = JSON.parse(VALID.toString('utf8'));
const invalidValue = JSON.parse(INVALID.toString('utf8'));
for (const [name, document] of Object.entries({
  'schema without formats': ORDER_SCHEMA,
  'schema with a date-time format': WITH_DATE_TIME,
})) {
  const schema = compileJsonSchema(JSON.stringify(document));
  const check = valueSchemaCheck(schema, 'kch.schema');
  const validRecord = record(VALID);
  const invalidRecord = record(INVALID);
  if (check(validRecord) !== null || check(invalidRecord) === null)
    throw new Error('the schema does not tell the two values apart');
  const validate = schema['~standard'].validate;
  console.log(`${name}:`);
  print({
    'validation alone, valid value': nsPer(() => validate(validValue)),
    'validation alone, invalid value': nsPer(() => validate(invalidValue)),
    'check, valid value': nsPer(() => check(validRecord)),
    'check, invalid value': nsPer(() => check(invalidRecord)),
  });
  console.log(`  the invalid value's message: ${check(invalidRecord)}`);
}
