/**
 * `kch users add | list | delete`: SCRAM users, as `kafka-configs.sh --entity-type users` manages them
 * (AlterUserScramCredentials, DescribeUserScramCredentials), printing what it prints. As Kafka's admin
 * client does, the password is salted and iterated here (PBKDF2, @kch/broker's SCRAM code): the
 * broker is sent the salt, the iteration count and the salted password, and keeps keys derived from
 * them, never the password.
 */
import { randomBytes } from 'node:crypto';
import {
  SCRAM_HASHES,
  SCRAM_MECHANISM_TYPES,
  SCRAM_MIN_ITERATIONS,
  type ScramMechanismName,
  saltedPassword,
  scramMechanismOfType,
} from '@kch/broker';
import { ErrorCode } from '@kch/protocol';
import { callApi } from '../client/admin-api.js';
import {
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  connectionFrom,
  type ParsedArgs,
  parseCommandArgs,
  parseInteger,
  runCommand,
  subcommandOf,
  toJson,
  write,
} from '../client/cli.js';
import { CliError, UsageError } from '../client/errors.js';
import { type Kafka, withKafka } from '../client/kafka.js';
import { responseOf } from '../client/kafka-errors.js';
import { type CliIO, type Command, ExitCode } from '../command.js';

const MECHANISMS = Object.keys(SCRAM_MECHANISM_TYPES) as ScramMechanismName[];

const USAGE = `Usage: kch users <command> [options]

Adds, lists and deletes SCRAM users (SCRAM-SHA-256 and SCRAM-SHA-512 credentials), as
kafka-configs.sh --entity-type users does. The password is salted and iterated here; the broker
keeps keys derived from it, never the password. A user can then authenticate with SCRAM, and with
PLAIN (over TLS: PLAIN sends the password itself).

Commands:
  add <user>                 adds the user's credentials, or replaces them (a new
                             password); the password comes from --password, else
                             $KCH_USER_PASSWORD, else the first line of standard input
  list [<user>...]           each user's mechanisms and iterations (every user when
                             none is named)
  delete <user>              deletes the user's credentials (every mechanism's, or
                             those of --mechanism)

Options:
  --mechanism <mechanism>    add, delete: SCRAM-SHA-256 or SCRAM-SHA-512 (repeatable;
                             default both, so that clients can use either)
  --iterations <n>           add: PBKDF2 iterations, ${SCRAM_MIN_ITERATIONS} (the default, as
                             kafka-configs.sh) to 16384
  --password <password>      add: the password; $KCH_USER_PASSWORD or standard input keep
                             it out of the shell's history and of ps
  --json                     list: JSON output
${CONNECTION_USAGE}
  -h, --help                 this text

Examples:
  KCH_USER_PASSWORD=alice-secret kch users add alice
  printf '%s\\n' "$PASSWORD" | kch users add bob --mechanism SCRAM-SHA-512 --iterations 8192
  kch users list
  kch users delete alice
`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  mechanism: { type: 'string', multiple: true },
  iterations: { type: 'string' },
  password: { type: 'string' },
  json: { type: 'boolean' },
} as const;

type Values = ParsedArgs<typeof OPTIONS>['values'];

const ALLOWED: Record<'add' | 'list' | 'delete', readonly (keyof Values)[]> = {
  add: ['mechanism', 'iterations', 'password'],
  list: ['json'],
  delete: ['mechanism'],
};

interface DescribeResult {
  user: string;
  errorCode: number;
  errorMessage: string | null;
  credentialInfos: { mechanism: number; iterations: number }[];
}

const users: Command = {
  name: 'users',
  usage: USAGE,
  run(args: string[], io: CliIO): Promise<number> {
    return runCommand('users', USAGE, io, async () => {
      const { values, positionals } = parseCommandArgs(args, OPTIONS);
      if (values.help) {
        await write(io.stdout, USAGE);
        return ExitCode.OK;
      }
      const [given, ...names] = positionals;
      const sub = subcommandOf(given, ['add', 'list', 'delete']);
      const allowed = ALLOWED[sub];
      for (const key of Object.keys(values) as (keyof Values)[]) {
        if (!(key in CONNECTION_OPTIONS) && !allowed.includes(key))
          throw new UsageError(`--${key} does not apply to "users ${sub}"`);
      }
      if (sub !== 'list' && names.length !== 1)
        throw new UsageError(
          `"users ${sub}" takes one user name${names.length > 1 ? `, got ${names.length}` : ''}`,
        );
      const mechanisms = mechanismsOf(values.mechanism);
      if (sub === 'add') {
        const iterations =
          values.iterations === undefined
            ? SCRAM_MIN_ITERATIONS
            : parseInteger('--iterations', values.iterations, { min: 1 });
        for (const m of mechanisms) {
          // kafka-configs.sh's check; the broker's maximum is the broker's to say.
          if (iterations < SCRAM_MIN_ITERATIONS)
            throw new UsageError(
              `Iterations ${iterations} is less than the minimum ${SCRAM_MIN_ITERATIONS} required for ${m}`,
            );
        }
        const password = await passwordOf(values.password, io);
        return withKafka(await connectionFrom('users', values, io), (kafka) =>
          add(kafka, io, names[0]!, password, mechanisms, iterations),
        );
      }
      return withKafka(await connectionFrom('users', values, io), (kafka) =>
        sub === 'list'
          ? list(kafka, io, names, values.json === true)
          : remove(kafka, io, names[0]!, values.mechanism === undefined ? null : mechanisms),
      );
    });
  },
};

export default users;

function mechanismsOf(given: string[] | undefined): ScramMechanismName[] {
  if (given === undefined) return MECHANISMS;
  const out = new Set<ScramMechanismName>();
  for (const g of given) {
    const m = MECHANISMS.find((x) => x === g.trim().toUpperCase());
    if (!m) throw new UsageError(`--mechanism must be ${MECHANISMS.join(' or ')}, got "${g}"`);
    out.add(m);
  }
  return [...out];
}

/** --password, else $KCH_USER_PASSWORD, else the first line of standard input (never a prompt). */
async function passwordOf(flag: string | undefined, io: CliIO): Promise<string> {
  const password = flag ?? (io.env.KCH_USER_PASSWORD || undefined) ?? (await firstLine(io.stdin));
  if (password === undefined || password === '')
    throw new UsageError(
      'the password is missing: KCH_USER_PASSWORD=<password>, or a line on standard input (printf \'%s\\n\' "$PASSWORD" | kch users add <user>), or --password <password>',
    );
  return password;
}

/** The first line of stdin without its line break; undefined for a terminal (nothing is prompted). */
async function firstLine(stdin: NodeJS.ReadableStream): Promise<string | undefined> {
  if ((stdin as { isTTY?: boolean }).isTTY) return undefined;
  let text = '';
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.includes('\n')) break;
  }
  const line = text.split('\n')[0]!;
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

async function add(
  kafka: Kafka,
  io: CliIO,
  user: string,
  password: string,
  mechanisms: readonly ScramMechanismName[],
  iterations: number,
): Promise<number> {
  // One request per mechanism: Kafka refuses two alterations of one user in a request.
  for (const mechanism of mechanisms) {
    const salt = randomBytes(32);
    const salted = await saltedPassword(password, salt, iterations, SCRAM_HASHES[mechanism]);
    await kafka.call(`adding the ${mechanism} credential of user ${user}`, () =>
      callApi(
        kafka,
        'AlterUserScramCredentials',
        [],
        [
          {
            name: user,
            mechanism: SCRAM_MECHANISM_TYPES[mechanism],
            iterations,
            salt,
            saltedPassword: salted,
          },
        ],
      ),
    );
  }
  await write(io.stdout, `Completed updating config for user ${user}.\n`);
  return ExitCode.OK;
}

/** DescribeUserScramCredentials of `names` (every user when empty), each user's result. */
async function describe(kafka: Kafka, names: readonly string[]): Promise<DescribeResult[]> {
  const action = names.length === 0 ? 'listing SCRAM users' : `describing user ${names.join(', ')}`;
  try {
    const response = await callApi<[{ name: string }[]], { results: DescribeResult[] }>(
      kafka,
      'DescribeUserScramCredentials',
      [...new Set(names)].map((name) => ({ name })),
    );
    return response.results;
  } catch (e) {
    // Users without credentials fail one by one; the others' results are in the same response.
    const response = responseOf<{ errorCode: number; results: DescribeResult[] }>(e);
    if (response && response.errorCode === ErrorCode.NONE) return response.results;
    throw kafka.failure(e, action);
  }
}

async function list(kafka: Kafka, io: CliIO, names: string[], json: boolean): Promise<number> {
  const results = await describe(kafka, names);
  const found = results.filter((r) => r.errorCode === ErrorCode.NONE);
  const credentials = (r: DescribeResult) =>
    r.credentialInfos.map((c) => ({
      mechanism: scramMechanismOfType(c.mechanism) ?? `UNKNOWN(${c.mechanism})`,
      iterations: c.iterations,
    }));
  if (json) await write(io.stdout, toJson(found.map((r) => ({ user: r.user, credentials: credentials(r) }))));
  else if (found.length === 0 && names.length === 0) await write(io.stdout, 'No SCRAM users.\n');
  else
    await write(
      io.stdout,
      found
        .map(
          (r) =>
            `SCRAM credential configs for user-principal '${r.user}' are ${credentials(r)
              .map((c) => `${c.mechanism}=iterations=${c.iterations}`)
              .join(', ')}\n`,
        )
        .join(''),
    );
  const missing = results.filter((r) => r.errorCode !== ErrorCode.NONE);
  for (const r of missing)
    io.stderr.write(
      r.errorCode === ErrorCode.RESOURCE_NOT_FOUND
        ? `kch users: user "${r.user}" has no SCRAM credentials; add them with \`kch users add ${r.user}\`\n`
        : `kch users: describing user "${r.user}" failed: ${r.errorMessage ?? `error code ${r.errorCode}`}\n`,
    );
  return missing.length > 0 ? ExitCode.FAILURE : ExitCode.OK;
}

async function remove(
  kafka: Kafka,
  io: CliIO,
  user: string,
  given: readonly ScramMechanismName[] | null,
): Promise<number> {
  let mechanisms = given;
  if (mechanisms === null) {
    const [result] = await describe(kafka, [user]);
    mechanisms = (result?.credentialInfos ?? []).flatMap((c) => scramMechanismOfType(c.mechanism) ?? []);
    if (mechanisms.length === 0)
      throw new CliError(`user "${user}" has no SCRAM credentials; list the users with \`kch users list\``);
  }
  // One request per mechanism, as for add.
  for (const mechanism of mechanisms)
    await kafka.call(`deleting the ${mechanism} credential of user ${user}`, () =>
      callApi(
        kafka,
        'AlterUserScramCredentials',
        [{ name: user, mechanism: SCRAM_MECHANISM_TYPES[mechanism] }],
        [],
      ),
    );
  await write(io.stdout, `Completed updating config for user ${user}.\n`);
  return ExitCode.OK;
}
