/**
 * `kch produce <topic>`: stdin lines to records, as kcat -P and kafka-console-producer.sh do.
 */
import { z } from 'zod';
import {
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  connectionFrom,
  parseCommandArgs,
  parseInteger,
  runCommand,
  write,
} from '../client/cli.js';
import { CliError, UsageError } from '../client/errors.js';
import { withKafka } from '../client/kafka.js';
import { type Acks, type Compression, type ProduceRecord, Producer } from '../client/producer.js';
import { type CliIO, type Command, ExitCode } from '../command.js';

const USAGE = `Usage: kch produce <topic> [options] < records.txt

Produces the lines of stdin to <topic>, one record per line (like kcat -P and
kafka-console-producer.sh). Prints nothing on success unless --verbose.

Options:
${CONNECTION_USAGE}
  -K, --key-separator <sep>  each line is <key><sep><value>, split at the first <sep>
                             (as kcat -K); a line without <sep> is an error
  -H, --header <key=value>   a header on every record (repeatable)
  -Z, --null-empty           an empty value, and with -K an empty key, is sent as
                             null (as kcat -Z): "<key>:" with -K : is a tombstone
  --null-marker <s>          a key or value equal to <s> is sent as null (as
                             kafka-console-producer.sh's null.marker), e.g. NULL
  -p, --partition <n>        the partition of every record (default: see below)
  -z, --compression <codec>  none, gzip, snappy, lz4 or zstd (default none)
  --acks <acks>              all (or -1), 1 or 0 (default all)
  -v, --verbose              print <topic>-<partition>@<offset> for every record
  -h, --help                 this text

Records:
  A line ends at \\n; a \\r before it is dropped. An empty line is a record with an
  empty value (a null value with -Z). A null value is a tombstone: a changelog's, or a
  compacted topic's, way to say the key was deleted. Keys, values and headers are the
  bytes as read (no re-encoding). Every record gets the current time as its timestamp
  (CreateTime). Records are sent as soon as they are read, in order, one batch per
  partition per request.

Partitioning (as Kafka's Java producer):
  With a key: murmur2(key) % partitions, the partition a Java producer picks, so kch
  and Java producers agree. Without a key: "sticky" (KIP-480): the records read in
  one go from stdin go to one partition, the next ones to the next partition,
  round-robin.

Delivery:
  With acks=all the producer is idempotent (as Java's is by default): retriable errors
  are retried without duplicating records. A topic that does not exist is created
  when the broker auto-creates topics (as any producer's metadata request does).

Exit status: 0 when every record was acknowledged; 1 when the broker refused one
(its error is printed; the records before it were produced); 2 for bad arguments;
69 when the broker cannot be reached.

Examples:
  echo 'hello' | kch produce greetings
  printf 'user1:{"n":1}\\nuser2:{"n":2}\\n' | kch produce events -K : -z zstd -v
  printf 'user1:\\n' | kch produce users -K : -Z          # a tombstone for user1
  printf 'user2:NULL\\n' | kch produce users -K : --null-marker NULL
`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  'key-separator': { type: 'string', short: 'K' },
  header: { type: 'string', short: 'H', multiple: true },
  'null-empty': { type: 'boolean', short: 'Z' },
  'null-marker': { type: 'string' },
  partition: { type: 'string', short: 'p' },
  compression: { type: 'string', short: 'z' },
  acks: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
} as const;

const CODECS: Record<string, Compression> = {
  none: 'none',
  gzip: 'gzip',
  snappy: 'snappy',
  lz4: 'lz4',
  zstd: 'zstd',
};

const ACKS: Record<string, Acks> = { all: -1, '-1': -1, '1': 1, '0': 0 };

/** --null-marker: compared with whole keys and values, which never hold a line break. */
const nullMarkerSchema = z
  .string()
  .min(1, { error: '--null-marker must not be empty (-Z sends empty values as null)' })
  .refine((m) => !/[\r\n]/.test(m), {
    error: '--null-marker cannot hold a line break: each line is a record',
  });

const NEWLINE = 0x0a;
const CR = 0x0d;

const produce: Command = {
  name: 'produce',
  usage: USAGE,
  run(args: string[], io: CliIO): Promise<number> {
    return runCommand('produce', USAGE, io, async () => {
      const { values, positionals } = parseCommandArgs(args, OPTIONS);
      if (values.help) {
        await write(io.stdout, USAGE);
        return ExitCode.OK;
      }
      if (positionals.length === 0) throw new UsageError('missing the topic to produce to');
      if (positionals.length > 1) throw new UsageError(`one topic only, got ${positionals.join(' ')}`);
      const topic = positionals[0]!;
      const separator = values['key-separator'];
      if (separator === '') throw new UsageError('--key-separator must not be empty');
      const headers = (values.header ?? []).map((h) => {
        const i = h.indexOf('=');
        if (i <= 0) throw new UsageError(`--header needs key=value, got "${h}"`);
        return { key: h.slice(0, i), value: Buffer.from(h.slice(i + 1), 'utf8') };
      });
      const partition =
        values.partition === undefined
          ? undefined
          : parseInteger('--partition', values.partition, { min: 0 });
      const codecName = (values.compression ?? 'none').toLowerCase();
      const compression = CODECS[codecName];
      if (compression === undefined) {
        throw new UsageError(
          `--compression must be none, gzip, snappy, lz4 or zstd, got "${values.compression}"`,
        );
      }
      const acks = ACKS[(values.acks ?? 'all').toLowerCase()];
      if (acks === undefined) throw new UsageError(`--acks must be all, -1, 1 or 0, got "${values.acks}"`);
      const sep = separator === undefined ? null : Buffer.from(separator, 'utf8');
      let marker: Buffer | null = null;
      if (values['null-marker'] !== undefined) {
        const parsed = nullMarkerSchema.safeParse(values['null-marker']);
        if (!parsed.success) throw new UsageError(parsed.error.issues[0]!.message);
        marker = Buffer.from(parsed.data, 'utf8');
      }
      const nullEmpty = values['null-empty'] === true;
      /** A key or value read from a line as sent: null when empty with -Z, or equal to the marker. */
      const orNull = (bytes: Buffer): Buffer | null =>
        (nullEmpty && bytes.length === 0) || marker?.equals(bytes) ? null : Buffer.from(bytes);

      return withKafka(await connectionFrom('produce', values, io), async (kafka) => {
        const producer = await Producer.create(kafka, { topic, acks, compression });
        if (partition !== undefined && partition >= producer.partitions) {
          throw new CliError(
            `topic "${topic}" has no partition ${partition}: it has ${producer.partitions} (0-${producer.partitions - 1})`,
          );
        }
        let lineNumber = 0;
        const toRecord = (line: Buffer): ProduceRecord => {
          lineNumber++;
          if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
          let key: Buffer | null = null;
          let value = line;
          if (sep) {
            const i = line.indexOf(sep);
            if (i < 0) {
              throw new CliError(
                `line ${lineNumber} has no key separator "${separator}"` +
                  (lineNumber > 1 ? ' (the lines before it were produced)' : '') +
                  '; give every line as <key><separator><value>, or leave out --key-separator',
              );
            }
            key = orNull(line.subarray(0, i));
            value = line.subarray(i + sep.length);
          }
          return { key, value: orNull(value), headers, partition };
        };
        const send = async (records: ProduceRecord[]) => {
          if (records.length === 0) return;
          const deliveries = await producer.send(records);
          if (values.verbose) {
            await write(
              io.stdout,
              deliveries
                .map((d) => `${topic}-${d.partition}@${d.offset < 0n ? 'unknown (acks=0)' : d.offset}\n`)
                .join(''),
            );
          }
        };

        let carry: Buffer = Buffer.alloc(0);
        for await (const chunk of io.stdin) {
          const data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
          const buf = carry.length > 0 ? Buffer.concat([carry, data]) : data;
          const records: ProduceRecord[] = [];
          let start = 0;
          for (;;) {
            const i = buf.indexOf(NEWLINE, start);
            if (i < 0) break;
            try {
              records.push(toRecord(buf.subarray(start, i)));
            } catch (e) {
              // The lines before the bad one are still produced, as a line-by-line producer would.
              await send(records);
              throw e;
            }
            start = i + 1;
          }
          carry = Buffer.from(buf.subarray(start));
          await send(records);
        }
        if (carry.length > 0) await send([toRecord(carry)]);
        return ExitCode.OK;
      });
    });
  },
};

export default produce;
