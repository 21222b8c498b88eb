/**
 * The `kch` dispatcher: `kch <command> [args]`, one module per command in ./commands (each
 * default-exports a Command), loaded only when used, so that `kch broker` does not load the client
 * code and `kch topics` does not load the broker. `kch` alone, or with options only, runs the broker.
 */
import type { CliIO, Command } from './command.js';
import { ExitCode } from './command.js';
import { cliVersion } from './version.js';

type Loader = () => Promise<{ default: Command }>;

/** Commands by name, in the order `kch --help` lists them. Adding one is one line. */
const COMMANDS: Record<string, Loader> = {
  broker: () => import('./commands/broker.js'),
  topics: () => import('./commands/topics.js'),
  produce: () => import('./commands/produce.js'),
  consume: () => import('./commands/consume.js'),
  groups: () => import('./commands/groups.js'),
  sql: () => import('./commands/sql.js'),
  views: () => import('./commands/views.js'),
};

const DEFAULT_COMMAND = 'broker';

async function usage(): Promise<string> {
  const commands = await Promise.all(Object.values(COMMANDS).map((load) => load().then((m) => m.default)));
  const width = Math.max(...commands.map((c) => c.name.length)) + 3;
  return `Usage: kch [command] [options]

kch is a Kafka-compatible broker whose storage is ClickHouse.

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n')}

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
    return (await COMMANDS[DEFAULT_COMMAND]!()).default.run(argv, io);
  }
  if (first === '-h' || first === '--help') {
    io.stdout.write(await usage());
    return ExitCode.OK;
  }
  if (first === '-V' || first === '--version') {
    io.stdout.write(`${cliVersion()}\n`);
    return ExitCode.OK;
  }
  if (first === 'help') {
    const load = rest[0] !== undefined ? COMMANDS[rest[0]] : undefined;
    io.stdout.write(load ? (await load()).default.usage : await usage());
    return ExitCode.OK;
  }
  const load = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (!load) {
    io.stderr.write(`kch: unknown command ${JSON.stringify(first)}\n\n${await usage()}`);
    return ExitCode.USAGE;
  }
  const command = (await load()).default;
  // `--help` anywhere before a `--` shows the command's usage (`-h` is left to the command).
  const end = rest.indexOf('--');
  const own = end >= 0 ? rest.slice(0, end) : rest;
  if (own.includes('--help')) {
    io.stdout.write(command.usage);
    return ExitCode.OK;
  }
  return command.run(rest, io);
}
