/**
 * `kch transactions`: list and describe transactions, the producers of a partition, and abort a
 * hanging transaction, printing what kafka-transactions.sh prints.
 */
import {
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  connectionFrom,
  type ParsedArgs,
  parseBigInt,
  parseCommandArgs,
  parseInteger,
  runCommand,
  subcommandOf,
  table,
  toJson,
  write,
} from '../client/cli.js';
import { CliError, UsageError } from '../client/errors.js';
import { withKafka } from '../client/kafka.js';
import {
  describeProducers,
  describeTransaction,
  listTransactions,
  writeTxnMarker,
} from '../client/transactions-admin.js';
import { type CliIO, type Command, ExitCode } from '../command.js';

const USAGE = `Usage: kch transactions <command> [options]

Lists and describes transactions, and aborts a hanging one, as kafka-transactions.sh does.

Commands:
  list                       the transactional ids: TransactionalId ProducerId
                             TransactionState
  describe <transactional-id>
                             its producer, epoch, state, timeout, start time,
                             duration and partitions
  describe-producers         the producers of --topic's --partition, with the first
                             offset of each one's open transaction
  abort                      aborts the open transaction that starts at --start-offset
                             of --topic's --partition (an ABORT marker; kch aborts a
                             transaction its coordinator still knows through it)

Options:
${CONNECTION_USAGE}
  --state <state>            list: only transactions in this state (Ongoing,
                             PrepareCommit, CompleteAbort, ...; repeatable)
  --producer-id <id>         list: only this producer's (repeatable)
  --duration-ms <ms>         list: only transactions open longer than this
  -t, --topic <topic>        describe-producers, abort: the topic
  -p, --partition <n>        describe-producers, abort: the partition
  --start-offset <offset>    abort: the first offset of the transaction to abort (see
                             describe-producers' CurrentTransactionStartOffset)
  --json                     list, describe, describe-producers: JSON output
  -h, --help                 this text

Examples:
  kch transactions list --state Ongoing
  kch transactions describe-producers --topic payments --partition 0
  kch transactions abort --topic payments --partition 0 --start-offset 42
`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  state: { type: 'string', multiple: true },
  'producer-id': { type: 'string', multiple: true },
  'duration-ms': { type: 'string' },
  topic: { type: 'string', short: 't' },
  partition: { type: 'string', short: 'p' },
  'start-offset': { type: 'string' },
  json: { type: 'boolean' },
} as const;

type Values = ParsedArgs<typeof OPTIONS>['values'];
const SUBCOMMANDS = ['list', 'describe', 'describe-producers', 'abort'] as const;
type Sub = (typeof SUBCOMMANDS)[number];

const ALLOWED: Record<Sub, readonly (keyof Values)[]> = {
  list: ['state', 'producer-id', 'duration-ms', 'json'],
  describe: ['json'],
  'describe-producers': ['topic', 'partition', 'json'],
  abort: ['topic', 'partition', 'start-offset'],
};

const transactions: Command = {
  name: 'transactions',
  usage: USAGE,
  run(args: string[], io: CliIO): Promise<number> {
    return runCommand('transactions', USAGE, io, async () => {
      const { values, positionals } = parseCommandArgs(args, OPTIONS);
      if (values.help) {
        await write(io.stdout, USAGE);
        return ExitCode.OK;
      }
      const [given, ...rest] = positionals;
      const sub = subcommandOf(given, SUBCOMMANDS);
      for (const key of Object.keys(values) as (keyof Values)[]) {
        if (!(key in CONNECTION_OPTIONS) && !ALLOWED[sub].includes(key))
          throw new UsageError(`--${key} does not apply to "transactions ${sub}"`);
      }
      if (sub === 'describe' ? rest.length !== 1 : rest.length > 0)
        throw new UsageError(
          sub === 'describe'
            ? '"transactions describe" takes one transactional id'
            : `"transactions ${sub}" takes no arguments besides its options (got "${rest.join(' ')}")`,
        );
      const partition = sub === 'describe-producers' || sub === 'abort' ? partitionOf(values, sub) : null;
      const startOffset = sub === 'abort' ? startOffsetOf(values) : null;
      const json = values.json === true;
      const target = await connectionFrom('transactions', values, io);
      return withKafka(target, async (kafka) => {
        switch (sub) {
          case 'list': {
            const listed = await listTransactions(kafka, {
              states: values.state ?? [],
              producerIds: (values['producer-id'] ?? []).map((p) => parseBigInt('--producer-id', p)),
              durationMs:
                values['duration-ms'] === undefined
                  ? -1n
                  : parseBigInt('--duration-ms', values['duration-ms']),
            });
            listed.sort((a, b) => (a.transactionalId < b.transactionalId ? -1 : 1));
            await write(
              io.stdout,
              json
                ? toJson(listed)
                : table(
                    ['TransactionalId', 'ProducerId', 'TransactionState'],
                    listed.map((t) => [t.transactionalId, String(t.producerId), t.transactionState]),
                  ),
            );
            return ExitCode.OK;
          }
          case 'describe': {
            const t = await describeTransaction(kafka, rest[0]!);
            const now = BigInt(Date.now());
            const started = t.transactionStartTimeMs;
            const partitions = t.topics.flatMap((x) => x.partitions.map((p) => `${x.topic}-${p}`));
            if (json) await write(io.stdout, toJson(t));
            else
              await write(
                io.stdout,
                table(
                  [
                    'TransactionalId',
                    'ProducerId',
                    'ProducerEpoch',
                    'TransactionState',
                    'TransactionTimeoutMs',
                    'CurrentTransactionStartTimeMs',
                    'TransactionDurationMs',
                    'TopicPartitions',
                  ],
                  [
                    [
                      t.transactionalId,
                      String(t.producerId),
                      String(t.producerEpoch),
                      t.transactionState,
                      String(t.transactionTimeoutMs),
                      started >= 0n ? String(started) : 'None',
                      started >= 0n ? String(now - started) : 'None',
                      partitions.join(','),
                    ],
                  ],
                ),
              );
            return ExitCode.OK;
          }
          case 'describe-producers': {
            const producers = await describeProducers(kafka, values.topic!, partition!);
            await write(
              io.stdout,
              json
                ? toJson(producers)
                : table(
                    [
                      'ProducerId',
                      'ProducerEpoch',
                      'LatestCoordinatorEpoch',
                      'LastSequence',
                      'LastTimestamp',
                      'CurrentTransactionStartOffset',
                    ],
                    producers.map((p) => [
                      String(p.producerId),
                      String(p.producerEpoch),
                      String(p.coordinatorEpoch),
                      String(p.lastSequence),
                      String(p.lastTimestamp),
                      p.currentTxnStartOffset >= 0n ? String(p.currentTxnStartOffset) : 'None',
                    ]),
                  ),
            );
            return ExitCode.OK;
          }
          case 'abort': {
            const topic = values.topic!;
            const producers = await describeProducers(kafka, topic, partition!);
            const hanging = producers.find((p) => p.currentTxnStartOffset === startOffset);
            if (!hanging)
              throw new CliError(
                `no open transaction of ${topic}-${partition} starts at offset ${startOffset}; \`kch transactions describe-producers --topic ${topic} --partition ${partition}\` shows where open ones start`,
              );
            const code = await writeTxnMarker(kafka, {
              producerId: hanging.producerId,
              producerEpoch: hanging.producerEpoch,
              commit: false,
              coordinatorEpoch: Math.max(hanging.coordinatorEpoch, 0),
              topic,
              partition: partition!,
            });
            if (code !== 0)
              throw new CliError(
                `the broker refused the ABORT marker for ${topic}-${partition} (error code ${code})`,
              );
            await write(
              io.stdout,
              `Aborted the transaction of producer ${hanging.producerId} (epoch ${hanging.producerEpoch}) that started at offset ${startOffset} of ${topic}-${partition}.\n`,
            );
            return ExitCode.OK;
          }
        }
      });
    });
  },
};

export default transactions;

function partitionOf(values: Values, sub: Sub): number {
  if (values.topic === undefined || values.partition === undefined)
    throw new UsageError(`"transactions ${sub}" needs --topic and --partition`);
  return parseInteger('--partition', values.partition, { min: 0 });
}

function startOffsetOf(values: Values): bigint {
  if (values['start-offset'] === undefined)
    throw new UsageError('"transactions abort" needs --start-offset (see describe-producers)');
  const offset = parseBigInt('--start-offset', values['start-offset']);
  if (offset < 0n) throw new UsageError(`--start-offset needs an offset of 0 or more, got ${offset}`);
  return offset;
}
