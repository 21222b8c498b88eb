/**
 * `kch sql "<query>"`: runs SQL on a running broker's ClickHouse through its admin endpoint
 * (`POST /sql`), which also reaches an embedded chdb directory that only the broker process can open.
 */
import {
  ADMIN_CLIENT_OPTIONS,
  ADMIN_CLIENT_USAGE,
  adminRequest,
  adminTarget,
  readStdin,
  unauthorizedMessage,
  withSecurity,
} from '../admin/client.js';
import { ArgumentError, parseArguments } from '../args.js';
import { CliError } from '../client/errors.js';
import { type CliIO, type Command, ExitCode } from '../command.js';

const USAGE = `Usage: kch sql [options] "<query>"
       echo "<query>" | kch sql [options]

Runs one SQL statement on the ClickHouse of a running kch broker (through its admin server) and prints
the result. A topic "orders" is the table kafka.orders (backquote names with dots or dashes:
kafka.\`my-topic\`).

Options:
  --format <format>     ClickHouse output format: TabSeparated (default), JSONEachRow, CSVWithNames,
                        Pretty, PrettyCompact, JSON, Vertical, ... (a FORMAT clause in the query wins)
${ADMIN_CLIENT_USAGE}
  -h, --help            this text

Exit codes: 0 the result was printed; 1 ClickHouse refused the query (its message is printed), or the
token or user was refused; 2 bad arguments; 69 no broker answers at the admin URL, or its storage is
unavailable.

Examples:
  kch sql "SELECT partition, offset, key, value FROM kafka.orders ORDER BY offset LIMIT 10"
  kch sql --format PrettyCompact "SELECT count() FROM kafka.orders"
  kch sql "SHOW TABLES FROM kafka"
`;

function usageError(io: CliIO, message: string): number {
  io.stderr.write(`kch sql: ${message}\nRun \`kch sql --help\` for the options.\n`);
  return ExitCode.USAGE;
}

const OPTIONS = {
  format: { type: 'string' },
  ...ADMIN_CLIENT_OPTIONS,
  help: { type: 'boolean', short: 'h' },
} as const;

function parse(args: string[]) {
  return parseArguments(args, OPTIONS);
}

const command: Command = {
  name: 'sql',
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    let parsed: ReturnType<typeof parse>;
    try {
      parsed = parse(args);
    } catch (e) {
      if (!(e instanceof ArgumentError)) throw e;
      return usageError(io, e.message);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      io.stdout.write(USAGE);
      return ExitCode.OK;
    }
    const format = values.format ?? 'TabSeparated';
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(format))
      return usageError(io, `${JSON.stringify(format)} is not a ClickHouse format name`);
    const given = adminTarget(values, io.env);
    if (typeof given === 'string') return usageError(io, given);
    let target: typeof given;
    try {
      target = await withSecurity(given, values, io);
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      io.stderr.write(`kch sql: ${e.message}\n`);
      return e.exitCode;
    }

    let sql: string;
    if (positionals.length > 1) {
      return usageError(io, 'give the query as one argument (in quotes), or on standard input');
    } else if (positionals.length === 1 && positionals[0] !== '-') {
      sql = positionals[0]!;
    } else if (positionals[0] === '-' || !(io.stdin as { isTTY?: boolean }).isTTY) {
      sql = await readStdin(io.stdin);
    } else {
      return usageError(io, 'no query: kch sql "SELECT ..."');
    }
    if (sql.trim() === '') return usageError(io, 'the query is empty');

    const url = new URL('sql', target.base);
    url.searchParams.set('format', format);
    const response = await adminRequest(target, url, {
      method: 'POST',
      body: sql,
      contentType: 'text/plain; charset=utf-8',
    });
    if (!(response instanceof Response)) {
      io.stderr.write(`kch sql: ${response.message}\n`);
      return response.exitCode;
    }
    const body = Buffer.from(await response.arrayBuffer());
    if (response.ok) {
      await new Promise<void>((resolve, reject) => io.stdout.write(body, (e) => (e ? reject(e) : resolve())));
      return ExitCode.OK;
    }
    const text = body.toString('utf8').trim();
    switch (response.status) {
      case 401:
        io.stderr.write(`kch sql: ${unauthorizedMessage(target, response, text)}\n`);
        return ExitCode.FAILURE;
      case 404:
        io.stderr.write(`kch sql: ${url.origin} is not a kch admin server (no /sql there)\n`);
        return ExitCode.UNAVAILABLE;
      case 501:
      case 503:
        io.stderr.write(`kch sql: ${text}\n`);
        return ExitCode.UNAVAILABLE;
      default:
        io.stderr.write(`kch sql: ${text || `HTTP ${response.status}`}\n`);
        return ExitCode.FAILURE;
    }
  },
};

export default command;
