/**
 * `pnpm bench`'s arguments, parsed by node:util parseArgs (strict) as the kch CLI parses its own; the
 * usage text is the header comment of bench/run.ts.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PAYLOADS, type Payload } from './lib/payloads.js';

export interface Args {
  quick: boolean;
  cpuProf: boolean;
  sustained: number;
  sustainedRate: number;
  only: Set<string>;
  sizes: number[];
  /** The kinds of value every produce and consume phase runs with (printable only with --quick). */
  payloads: Payload[];
  partitions: number;
  /** Storages to run the client scenarios against (default both). */
  storages: ('chdb' | 'memory')[];
  /** Fixed rates (records/s, one per size) for the "half" phases instead of half of the measured max. */
  rates: number[];
  /** Only the produce phases of the client suites (no tail or cold consume). */
  produceOnly: boolean;
  out: string;
  keep: boolean;
  /** Rewrite results.md and the charts of an earlier run (its directory), run nothing. */
  report: string;
}

const OPTIONS = {
  quick: { type: 'boolean' },
  'cpu-prof': { type: 'boolean' },
  sustained: { type: 'string' },
  'sustained-rate': { type: 'string' },
  only: { type: 'string' },
  sizes: { type: 'string' },
  payloads: { type: 'string' },
  partitions: { type: 'string' },
  storages: { type: 'string' },
  rates: { type: 'string' },
  'produce-only': { type: 'boolean' },
  out: { type: 'string' },
  keep: { type: 'boolean' },
  report: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * The groups that run unless --only names others (`sustained` joins them with --sustained). `mock` and
 * `engine-peer` are of a full run but not of --quick's (CI's `bench --quick` keeps its length), unless
 * --only names them.
 */
const DEFAULT_GROUPS = [
  'limits',
  'rdkafka',
  'kafkajs',
  'latency',
  'security',
  'transactions',
  'mock',
  'engine-peer',
];
const NOT_QUICK = new Set(['mock', 'engine-peer']);

/**
 * The arguments of a run; prints the usage (`usageOf`'s file header) and exits on --help. A `--`
 * (which pnpm passes through from `pnpm bench -- --quick`) is skipped, as before parseArgs.
 */
export function parseBenchArgs(argv: readonly string[], usageOf: URL): Args {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true }>>['values'];
  try {
    ({ values } = parseArgs({ args: argv.filter((a) => a !== '--'), options: OPTIONS, strict: true }));
  } catch (e) {
    throw new Error(inOwnWords(e as Error & { code?: string }));
  }
  if (values.help) {
    process.stdout.write(`${usage(usageOf)}\n`);
    process.exit(0);
  }
  const numbers = (list: string) => list.split(',').map(Number);
  const args: Args = {
    quick: values.quick ?? false,
    cpuProf: values['cpu-prof'] ?? false,
    sustained: values.sustained === undefined ? 0 : Number(values.sustained),
    sustainedRate: values['sustained-rate'] === undefined ? 0 : Number(values['sustained-rate']),
    only: new Set(
      values.only === undefined
        ? DEFAULT_GROUPS.filter((g) => !(values.quick && NOT_QUICK.has(g)))
        : values.only.split(','),
    ),
    sizes: values.sizes === undefined ? [100, 1024] : numbers(values.sizes),
    payloads: payloadsOf(values.payloads, values.quick ?? false),
    partitions: values.partitions === undefined ? 4 : Number(values.partitions),
    storages: (values.storages?.split(',') ?? ['chdb', 'memory']) as Args['storages'],
    rates: values.rates === undefined ? [] : numbers(values.rates),
    produceOnly: values['produce-only'] ?? false,
    out: values.out ?? '',
    keep: values.keep ?? false,
    report: values.report ?? '',
  };
  if (args.sustained > 0 && values.only === undefined) args.only.add('sustained');
  const sustained = args.only.has('sustained') || args.only.has('sustained-http');
  if (sustained && args.sustained <= 0) args.sustained = args.quick ? 10 : 60;
  return args;
}

/** --payloads' list in its order; all of them by default, printable alone with --quick (CI's run). */
function payloadsOf(list: string | undefined, quick: boolean): Payload[] {
  if (list === undefined) return quick ? ['printable'] : [...PAYLOADS];
  const names = [...new Set(list.split(','))];
  const unknown = names.filter((p) => !PAYLOADS.includes(p as Payload));
  if (unknown.length || names.length === 0)
    throw new Error(`--payloads takes ${PAYLOADS.join(', ')}, not ${unknown.join(', ') || list}`);
  return names as Payload[];
}

/** parseArgs' errors in the words the bench always used: `unknown option --x (see --help)`. */
function inOwnWords(e: Error & { code?: string }): string {
  // parseArgs quotes the argument first: "Unknown option '--x'", "Option '--sizes <value>' argument missing".
  const argument = /'([^' ]+)/.exec(e.message)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unknown option ${argument} (see --help)`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return e.message.includes('does not take an argument')
        ? `${argument} takes no value`
        : `${argument} needs a value`;
    default:
      return e.message;
  }
}

/** The header comment of `file`, without its comment marks. */
function usage(file: URL): string {
  return readFileSync(file, 'utf8')
    .split('*/')[0]!
    .replace(/^\/\*\*?|^ \* ?/gm, '');
}
