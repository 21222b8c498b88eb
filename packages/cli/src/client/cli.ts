/**
 * What the client commands (topics, produce, consume, groups, users, acls, quotas) share: argument
 * parsing that turns mistakes into usage errors, where and how to connect (the bootstrap servers and
 * the security options), the client's lifetime, and one place that turns any failure into a message on
 * stderr and an exit code.
 */
import { ArgumentError, type OptionsConfig, type ParsedArguments, parseArguments } from '../args.js';
import { type CliIO, ExitCode } from '../command.js';
import { CliError, UsageError } from './errors.js';
import type { KafkaTarget } from './kafka.js';
import { DEFAULT_BOOTSTRAP_SERVER } from './kafka-config.js';
import {
  hasSecurityOptions,
  PLAINTEXT,
  SECURITY_OPTIONS,
  SECURITY_USAGE,
  type SecurityFlags,
} from './security-options.js';

/** The options every client command takes: where the broker is, how to connect to it, and --help. */
export const CONNECTION_OPTIONS = {
  'bootstrap-server': { type: 'string', short: 'b' },
  ...SECURITY_OPTIONS,
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionsConfig;

export const CONNECTION_USAGE = `  -b, --bootstrap-server <host:port>
                             the broker to connect to; several as h1:p1,h2:p2
                             (default: $KCH_BOOTSTRAP_SERVER, else ${DEFAULT_BOOTSTRAP_SERVER})
${SECURITY_USAGE}`;

/** Whether an option is one of {@link CONNECTION_OPTIONS}, which every sub-command takes. */
export function isConnectionOption(name: string): boolean {
  return Object.hasOwn(CONNECTION_OPTIONS, name);
}

/**
 * Where and how a command connects: --bootstrap-server, else the properties file's bootstrap.servers,
 * else $KCH_BOOTSTRAP_SERVER, else 127.0.0.1:9092; and the security options, checked. Security
 * properties of the file that kch has no use for are named on stderr.
 */
export async function connectionFrom(
  name: string,
  values: SecurityFlags & { 'bootstrap-server'?: string },
  io: CliIO,
): Promise<KafkaTarget> {
  const given = values['bootstrap-server'];
  if (!hasSecurityOptions(values))
    return { bootstrap: given ?? bootstrapFrom(undefined, io.env), security: PLAINTEXT };
  const { kafkaSecurity, securitySettings } = await import('./security.js');
  const settings = await securitySettings(values, io.env);
  if (settings.ignored.length > 0)
    io.stderr.write(
      `kch ${name}: ignored in ${settings.file} (kch has no use for them): ${settings.ignored.join(', ')}\n`,
    );
  return {
    bootstrap: given ?? settings.bootstrap ?? bootstrapFrom(undefined, io.env),
    security: kafkaSecurity(settings),
  };
}

export type ParsedArgs<O extends OptionsConfig> = ParsedArguments<O>;

/** {@link parseArguments} (negative numbers as values; kch's messages), its errors as {@link UsageError}s. */
export function parseCommandArgs<O extends OptionsConfig>(args: string[], options: O): ParsedArgs<O> {
  try {
    return parseArguments(args, options);
  } catch (e) {
    if (e instanceof ArgumentError) throw new UsageError(e.message);
    throw e;
  }
}

/** `--bootstrap-server`, else $KCH_BOOTSTRAP_SERVER, else 127.0.0.1:9092. */
export function bootstrapFrom(value: string | undefined, env: NodeJS.ProcessEnv): string {
  return value ?? (env.KCH_BOOTSTRAP_SERVER || DEFAULT_BOOTSTRAP_SERVER);
}

/** The sub-command of `kch <command> <sub>`, one of `names`, or a usage error listing them. */
export function subcommandOf<const N extends string>(sub: string | undefined, names: readonly N[]): N {
  const list = `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
  if (sub === undefined) throw new UsageError(`missing command: ${list}`);
  if (!(names as readonly string[]).includes(sub))
    throw new UsageError(`unknown command "${sub}": use ${list}`);
  return sub as N;
}

/** An integer option value within bounds, or a usage error naming the option. */
export function parseInteger(
  option: string,
  value: string,
  bounds: { min?: number; max?: number } = {},
): number {
  const n = /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  const { min, max } = bounds;
  if (!Number.isSafeInteger(n) || (min !== undefined && n < min) || (max !== undefined && n > max)) {
    const range =
      min !== undefined && max !== undefined
        ? ` from ${min} to ${max}`
        : min === 1
          ? ' of 1 or more'
          : min === 0
            ? ' of 0 or more'
            : min !== undefined
              ? ` of at least ${min}`
              : '';
    throw new UsageError(`${option} needs an integer${range}, got "${value}"`);
  }
  return n;
}

/** A 64-bit integer option value (offsets), or a usage error. */
export function parseBigInt(option: string, value: string): bigint {
  if (!/^-?\d+$/.test(value.trim())) throw new UsageError(`${option} needs an integer, got "${value}"`);
  return BigInt(value.trim());
}

/**
 * A point in time: milliseconds since the epoch, or an ISO 8601 date-time (`2024-05-01T12:00:00Z`; without
 * a zone it is local time, as JavaScript's Date reads it).
 */
export function parseTime(option: string, value: string): bigint {
  const s = value.trim();
  if (/^\d+$/.test(s)) return BigInt(s);
  const ms = /^\d{4}-\d{2}-\d{2}/.test(s) ? Date.parse(s) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new UsageError(
      `${option} needs milliseconds since the epoch or an ISO 8601 date-time (e.g. 2024-05-01T12:00:00Z), got "${value}"`,
    );
  }
  return BigInt(ms);
}

/** `k=v` pairs (repeatable options) into a record; a usage error for a pair without "=". */
export function parsePairs(option: string, values: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const i = v.indexOf('=');
    if (i <= 0) throw new UsageError(`${option} needs key=value, got "${v}"`);
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

/** Writes and waits for the stream to take more when it is full (large consume output). */
export function write(stream: NodeJS.WritableStream, data: string | Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    if (stream.write(data)) {
      resolve();
      return;
    }
    // A stream that fails (EPIPE: the reader went away) or closes never drains.
    const done = () => {
      stream.removeListener('drain', done);
      stream.removeListener('error', done);
      stream.removeListener('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('error', done);
    stream.once('close', done);
  });
}

/**
 * Runs a command body and turns what it throws into the exit code: usage errors print the message and
 * the usage (exit 2), other CLI errors their message (their own code), anything else "unexpected".
 */
export async function runCommand(
  name: string,
  usage: string,
  io: CliIO,
  body: () => Promise<number>,
): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`kch ${name}: ${e.message}\n\n${usage}`);
      return ExitCode.USAGE;
    }
    if (e instanceof CliError) {
      io.stderr.write(`kch ${name}: ${e.message}\n`);
      return e.exitCode;
    }
    const message = e instanceof Error ? e.message : String(e);
    io.stderr.write(`kch ${name}: unexpected error: ${message}\n`);
    return ExitCode.FAILURE;
  }
}

/** Left-aligned columns separated by two spaces at least, as kafka-consumer-groups.sh prints them. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 1)))
      .join(' ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** JSON for --json output: bigints as numbers when safe, else strings. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(
    value,
    (_k, v) =>
      typeof v === 'bigint'
        ? v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
          ? Number(v)
          : v.toString()
        : v,
    2,
  )}\n`;
}
