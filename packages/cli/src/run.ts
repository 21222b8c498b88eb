/**
 * The `kch` dispatcher: `kch <command> [args]`, one module per command in ./commands (each
 * default-exports a Command), loaded only when used, so that `kch broker` does not load the client
 * code, `kch topics` does not load the broker, and `kch --help` loads neither (loading every command
 * to list them took a quarter of a second). `kch` alone, or with options only, runs the broker.
 */
import { nearest } from './args.js';
import type { CliIO, Command } from './command.js';
import { ExitCode } from './command.js';
import { cliVersion } from './version.js';

interface CommandEntry {
  /** One line for `kch --help`. */
  summary: string;
  load: () => Promise<{ default: Command }>;
}

/**
 * Loads a command that runs a Kafka client, with the client library's validators compiled on first
 * use rather than at its import (./client/lazy-validators.ts: a third of such a command's start).
 */
async function clientCommand(load: () => Promise<{ default: Command }>): Promise<{ default: Command }> {
  const { lazyValidatorCompilation } = await import('./client/lazy-validators.js');
  const restore = lazyValidatorCompilation();
  try {
    return await load();
  } finally {
    restore();
  }
}

/** Commands by name, in the order `kch --help` lists them. Adding one is one entry. */
const COMMANDS: Record<string, CommandEntry> = {
  broker: {
    summary: 'run a broker (the default command): Kafka on embedded ClickHouse in ./kch-data',
    load: () => import('./commands/broker.js'),
  },
  topics: {
    summary: 'list, create, describe, alter and delete topics',
    load: () => clientCommand(() => import('./commands/topics.js')),
  },
  produce: {
    summary: 'produce stdin lines to a topic (like kcat -P)',
    load: () => clientCommand(() => import('./commands/produce.js')),
  },
  consume: {
    summary: 'print the records of a topic (like kcat -C)',
    load: () => clientCommand(() => import('./commands/consume.js')),
  },
  groups: {
    summary: 'list, describe (with lag), reset and delete consumer groups',
    load: () => clientCommand(() => import('./commands/groups.js')),
  },
  transactions: {
    summary: 'list and describe transactions, abort a hanging one (like kafka-transactions.sh)',
    load: () => clientCommand(() => import('./commands/transactions.js')),
  },
  users: {
    summary: 'add, list and delete SCRAM users (like kafka-configs.sh --entity-type users)',
    load: () => clientCommand(() => import('./commands/users.js')),
  },
  acls: {
    summary: 'add, list and remove ACLs (like kafka-acls.sh)',
    load: () => clientCommand(() => import('./commands/acls.js')),
  },
  quotas: {
    summary: 'describe and alter client quotas of users and client ids (like kafka-configs.sh)',
    load: () => clientCommand(() => import('./commands/quotas.js')),
  },
  sql: {
    summary: "run SQL on a running broker's ClickHouse (through its admin server)",
    load: () => import('./commands/sql.js'),
  },
  views: {
    summary: 'list, create and drop materialized views on topics (ClickHouse storage)',
    load: () => import('./commands/views.js'),
  },
};

const DEFAULT_COMMAND = 'broker';

function usage(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length)) + 3;
  return `Usage: kch [command] [options]

kch is a Kafka-compatible broker whose storage is ClickHouse.

Commands:
${names.map((n) => `  ${n.padEnd(width)}${COMMANDS[n]!.summary}`).join('\n')}

Without a command, kch runs the broker (kch --port 9093 is kch broker --port 9093).
Run \`kch <command> --help\` for a command's options; kch --version prints the version.
`;
}

function defaultIO(env: NodeJS.ProcessEnv): CliIO {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env };
}

/** Runs the CLI; resolves with the process exit code (for `broker`: once the broker stopped). */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  io: CliIO = defaultIO(env),
): Promise<number> {
  const [first, ...rest] = argv;
  if (
    first === undefined ||
    (first.startsWith('-') && !['-h', '--help', '-V', '--version'].includes(first))
  ) {
    return (await COMMANDS[DEFAULT_COMMAND]!.load()).default.run(argv, io);
  }
  if (first === '-h' || first === '--help') {
    io.stdout.write(usage());
    return ExitCode.OK;
  }
  if (first === '-V' || first === '--version') {
    io.stdout.write(`${cliVersion()}\n`);
    return ExitCode.OK;
  }
  if (first === 'help') {
    const entry = rest[0] !== undefined && Object.hasOwn(COMMANDS, rest[0]) ? COMMANDS[rest[0]] : undefined;
    io.stdout.write(entry ? (await entry.load()).default.usage : usage());
    return ExitCode.OK;
  }
  const entry = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (!entry) {
    const near = nearest(first, Object.keys(COMMANDS));
    io.stderr.write(
      `kch: unknown command ${JSON.stringify(first)}${near ? ` (did you mean ${near}?)` : ''}\n\n${usage()}`,
    );
    return ExitCode.USAGE;
  }
  const command = (await entry.load()).default;
  // `--help` anywhere before a `--` shows the command's usage (`-h` is left to the command).
  const end = rest.indexOf('--');
  const own = end >= 0 ? rest.slice(0, end) : rest;
  if (own.includes('--help')) {
    io.stdout.write(command.usage);
    return ExitCode.OK;
  }
  return command.run(rest, io);
}
