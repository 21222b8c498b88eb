/**
 * `kch consume <topic>`: prints records, as kcat -C and kafka-console-consumer.sh do, alone or as a
 * member of a consumer group.
 */
import { isUtf8 } from 'node:buffer';
import {
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  connectionFrom,
  parseBigInt,
  parseCommandArgs,
  parseInteger,
  parseTime,
  runCommand,
  write,
} from '../client/cli.js';
import { consume as consumeLoop, type StartPosition } from '../client/consumer.js';
import { UsageError } from '../client/errors.js';
import type { FetchedRecord } from '../client/fetcher.js';
import { Kafka } from '../client/kafka.js';
import { REQUEST_TIMEOUT_MS } from '../client/kafka-config.js';
import { type CliIO, type Command, ExitCode } from '../command.js';
import { onStopSignals, SIGNAL_GRACE_MS } from '../signals.js';

const USAGE = `Usage: kch consume <topic> [options]

Prints the records of <topic> (like kcat -C and kafka-console-consumer.sh) until
Ctrl-C, --max-messages, or with --exit-at-end the end of every partition.

Options:
${CONNECTION_USAGE}
  --from-beginning           start at the earliest offset (default: the end, so
                             only records produced from now on are printed)
  -o, --offset <n>           start at offset n of each partition read;
                             -o -n starts n records before the end (as kcat)
  --timestamp <ms|ISO>       start at the first record at or after this time
                             (ms since the epoch, or e.g. 2024-05-01T12:00:00Z)
  -p, --partition <n>        read only this partition (repeatable; default all)
  -g, --group <id>           consume as a member of this consumer group (below)
  -n, --max-messages <n>     stop after n records
  -e, --exit-at-end          stop at the end of every partition (like kcat -e)
  -f, --format <format>      value (default) or json (below)
  -K, --key-separator <sep>  value format: print <key><sep><value>
  -v, --verbose              report joins, offset resets and partition ends on stderr
  -h, --help                 this text

Formats:
  value  the value's bytes as stored, then a newline (nothing for a null value).
  json   one JSON object per line:
         {"topic","partition","offset","timestamp","timestampType","key","value","headers"}
         with headers as [{"key","value"}]. A key or value (or header value) is a
         string when its bytes are valid UTF-8 and null when absent; other bytes are
         base64, marked by "keyEncoding":"base64" / "valueEncoding":"base64" beside
         them (on the header for header values).

Groups (--group):
  Joins the group (classic protocol, "range" assignor, as a Java consumer) and reads
  the partitions the group assigns, from the group's committed offsets; partitions
  without one start at the earliest offset with --from-beginning, else at the end.
  Offsets are committed every 5 s, before a rebalance and on exit, and the member
  leaves the group on exit. --offset, --timestamp and --partition do not combine
  with --group.

Ctrl-C (or SIGTERM) stops cleanly (a group member commits and leaves its group) and
exits 0; a second one exits at once, unless it comes within ${SIGNAL_GRACE_MS / 1000} s of the first (the same
Ctrl-C, passed on by a wrapper such as pnpm). "Processed a total of <n> messages"
goes to stderr at the end, as kafka-console-consumer.sh prints it.

Examples:
  kch consume orders --from-beginning --exit-at-end
  kch consume orders -g billing -f json | jq .value
`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  'from-beginning': { type: 'boolean' },
  offset: { type: 'string', short: 'o' },
  timestamp: { type: 'string' },
  partition: { type: 'string', short: 'p', multiple: true },
  group: { type: 'string', short: 'g' },
  'max-messages': { type: 'string', short: 'n' },
  'exit-at-end': { type: 'boolean', short: 'e' },
  format: { type: 'string', short: 'f' },
  'key-separator': { type: 'string', short: 'K' },
  verbose: { type: 'boolean', short: 'v' },
} as const;

/** A record as --format json prints it (see the usage). */
export function recordToJson(r: FetchedRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    topic: r.topic,
    partition: r.partition,
    offset: Number(r.offset),
    timestamp: Number(r.timestamp),
    timestampType: r.timestampType,
  };
  const key = bytesToJson(r.key);
  out.key = key.value;
  if (key.encoding) out.keyEncoding = key.encoding;
  const value = bytesToJson(r.value);
  out.value = value.value;
  if (value.encoding) out.valueEncoding = value.encoding;
  out.headers = r.headers.map((h) => {
    const v = bytesToJson(h.value);
    return v.encoding
      ? { key: h.key, value: v.value, valueEncoding: v.encoding }
      : { key: h.key, value: v.value };
  });
  return out;
}

function bytesToJson(b: Buffer | null): { value: string | null; encoding?: 'base64' } {
  if (b === null) return { value: null };
  return isUtf8(b) ? { value: b.toString('utf8') } : { value: b.toString('base64'), encoding: 'base64' };
}

const NEWLINE = Buffer.from('\n');

/**
 * Runs `kch consume` with a signal that stops it (the command itself stops on SIGINT and SIGTERM);
 * for embedding and tests.
 */
export async function runConsume(args: string[], io: CliIO, signal?: AbortSignal): Promise<number> {
  return runCommand('consume', USAGE, io, async () => {
    const { values, positionals } = parseCommandArgs(args, OPTIONS);
    if (values.help) {
      await write(io.stdout, USAGE);
      return ExitCode.OK;
    }
    if (positionals.length === 0) throw new UsageError('missing the topic to consume');
    if (positionals.length > 1) throw new UsageError(`one topic only, got ${positionals.join(' ')}`);
    const topic = positionals[0]!;
    const starts = [
      values['from-beginning'] ? '--from-beginning' : null,
      values.offset !== undefined ? '--offset' : null,
      values.timestamp !== undefined ? '--timestamp' : null,
    ].filter((s) => s !== null);
    if (starts.length > 1) throw new UsageError(`${starts.join(' and ')} both say where to start: give one`);
    if (values.group !== undefined) {
      if (values.group === '') throw new UsageError('--group needs a group id');
      for (const o of ['offset', 'timestamp', 'partition'] as const) {
        if (values[o] !== undefined) {
          throw new UsageError(
            `--${o} does not combine with --group: a group member reads the partitions the group assigns, from its committed offsets`,
          );
        }
      }
    }
    let start: StartPosition = { kind: 'latest' };
    if (values['from-beginning']) start = { kind: 'earliest' };
    if (values.offset !== undefined) {
      const o = parseBigInt('--offset', values.offset);
      start = o < 0n ? { kind: 'fromEnd', count: -o } : { kind: 'offset', offset: o };
    }
    if (values.timestamp !== undefined)
      start = { kind: 'timestamp', timestamp: parseTime('--timestamp', values.timestamp) };
    const partitions = values.partition?.map((p) => parseInteger('--partition', p, { min: 0 }));
    const maxMessages =
      values['max-messages'] === undefined
        ? undefined
        : parseInteger('--max-messages', values['max-messages'], { min: 1 });
    const format = (values.format ?? 'value').toLowerCase();
    if (format !== 'value' && format !== 'json') {
      throw new UsageError(`--format must be value or json, got "${values.format}"`);
    }
    const separator = values['key-separator'];
    if (separator !== undefined && format === 'json') {
      throw new UsageError('--key-separator applies to --format value (json has the key as a field)');
    }
    const sep = separator === undefined ? null : Buffer.from(separator, 'utf8');
    const verbose = values.verbose === true;

    const target = await connectionFrom('consume', values, io);
    const kafka = new Kafka(target.bootstrap, REQUEST_TIMEOUT_MS, target.security);
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let forced: (code: number) => void = () => {};
    const forcedExit = new Promise<number>((resolve) => {
      forced = resolve;
    });
    const disposeSignals = onStopSignals({
      stop: () => stop.abort(),
      force: (signal) => {
        io.stderr.write('kch consume: interrupted again, exiting without leaving the group\n');
        // Not kafka.close(): that would leave the group first.
        kafka.abandon();
        // 128 + the signal number, as shells report a death by that signal.
        forced(signal === 'SIGTERM' ? 143 : 130);
      },
    });
    // The reader went away (`kch consume t | head -1`): stop quietly, as kcat does.
    const onOutputError = () => stop.abort();
    io.stdout.on('error', onOutputError);
    try {
      const consumed = consumeLoop(kafka, {
        topic,
        partitions,
        start,
        group: values.group,
        maxMessages,
        exitAtEnd: values['exit-at-end'] === true,
        signal: stop.signal,
        onNotice: verbose ? (m) => io.stderr.write(`kch consume: ${m}\n`) : undefined,
        onRecord: async (r) => {
          if (format === 'json') {
            await write(io.stdout, `${JSON.stringify(recordToJson(r))}\n`);
            return;
          }
          const parts: Buffer[] = [];
          if (sep) parts.push(r.key ?? Buffer.alloc(0), sep);
          if (r.value) parts.push(r.value);
          parts.push(NEWLINE);
          await write(io.stdout, Buffer.concat(parts));
        },
      });
      const result = await Promise.race([consumed, forcedExit]);
      if (typeof result === 'number') {
        consumed.catch(() => {});
        return result;
      }
      if (verbose && result.reason === 'end')
        io.stderr.write('kch consume: reached the end of every partition\n');
      io.stderr.write(`Processed a total of ${result.count} messages\n`);
      return ExitCode.OK;
    } finally {
      disposeSignals();
      io.stdout.removeListener('error', onOutputError);
      signal?.removeEventListener('abort', onAbort);
      await kafka.close();
    }
  });
}

const consume: Command = {
  name: 'consume',
  usage: USAGE,
  run: (args: string[], io: CliIO) => runConsume(args, io),
};

export default consume;
