/**
 * Generates the message codecs in src/generated from Apache Kafka's message definitions.
 *
 *   pnpm gen                          # reads ../shared/kafka-messages (or $KAFKA_MESSAGES_DIR)
 *   pnpm gen --input <dir>            # e.g. clients/src/main/resources/common/message of a Kafka checkout
 *   pnpm gen --check                  # exits 1 when the committed files differ from what would be generated
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { emitAll, type GeneratedFile } from './codegen/emit.js';
import { readDefinitions, selectForBroker } from './codegen/schema.js';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_OUTPUT_DIR = join(packageDir, 'src', 'generated');

/** Where the definitions are looked for when no --input is given. */
export function defaultDefinitionsDir(): string {
  return process.env.KAFKA_MESSAGES_DIR ?? resolve(packageDir, '..', '..', '..', 'shared', 'kafka-messages');
}

export function generate(inputDir: string): GeneratedFile[] {
  return emitAll(selectForBroker(readDefinitions(inputDir)));
}

function listFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

/** Paths that differ between what would be generated and what is in `outputDir`. */
export function diffGenerated(files: GeneratedFile[], outputDir: string): string[] {
  const expected = new Map(files.map((f) => [f.path, f.content]));
  const problems: string[] = [];
  for (const [path, content] of expected) {
    const full = join(outputDir, path);
    if (!existsSync(full)) problems.push(`missing: ${path}`);
    else if (readFileSync(full, 'utf8') !== content) problems.push(`differs: ${path}`);
  }
  for (const path of listFiles(outputDir)) if (!expected.has(path)) problems.push(`not generated: ${path}`);
  return problems.sort();
}

function main(): void {
  const { values } = parseArgs({
    options: {
      input: { type: 'string', short: 'i' },
      out: { type: 'string', short: 'o' },
      check: { type: 'boolean', default: false },
    },
  });
  const input = resolve(values.input ?? defaultDefinitionsDir());
  const out = resolve(values.out ?? DEFAULT_OUTPUT_DIR);
  if (!existsSync(input)) {
    console.error(
      `Kafka message definitions not found at ${input}. Pass --input <dir> or set KAFKA_MESSAGES_DIR to a folder of *Request.json/*Response.json files (in a Kafka checkout: clients/src/main/resources/common/message).`,
    );
    process.exit(2);
  }
  const files = generate(input);
  if (values.check) {
    const problems = diffGenerated(files, out);
    if (problems.length > 0) {
      console.error(`Generated code in ${out} is out of date; run \`pnpm gen\`:\n  ${problems.join('\n  ')}`);
      process.exit(1);
    }
    console.log(`Generated code in ${out} matches ${input} (${files.length} files).`);
    return;
  }
  rmSync(out, { recursive: true, force: true });
  for (const f of files) {
    const full = join(out, f.path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, f.content);
  }
  console.log(`Wrote ${files.length} files to ${out} from ${input}.`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
