/**
 * `kch sql "<query>"`: runs SQL on a running broker's ClickHouse through its admin endpoint
 * (`POST /sql`), which also reaches an embedded chdb directory that only the broker process can open.
 */
import { parseArgs } from 'node:util';
import { type CliIO, type Command, ExitCode } from '../command.js';
import { DEFAULT_ADMIN_PORT } from '../options.js';

const USAGE = `Usage: kch sql [options] "<query>"
       echo "<query>" | kch sql [options]

Runs one SQL statement on the ClickHouse of a running kch broker (through its admin server) and prints
the result. A topic "orders" is the table kafka.orders (backquote names with dots or dashes:
kafka.\`my-topic\`).

Options:
  --format <format>     ClickHouse output format: TabSeparated (default), JSONEachRow, CSVWithNames,
                        Pretty, PrettyCompact, JSON, Vertical, ... (a FORMAT clause in the query wins)
  --admin-url <url>     the broker's admin server [KCH_ADMIN_URL] (default http://127.0.0.1:${DEFAULT_ADMIN_PORT},
                        or the port in KCH_ADMIN_PORT)
  --token <token>       the broker's admin token, when it has one [KCH_ADMIN_TOKEN]
  --timeout <seconds>   give up after this long (default 300)
  -h, --help            this text

Exit codes: 0 the result was printed; 1 ClickHouse refused the query (its message is printed) or the
token was wrong; 2 bad arguments; 69 no broker answers at the admin URL, or its storage is unavailable.

Examples:
  kch sql "SELECT partition, offset, key, value FROM kafka.orders ORDER BY offset LIMIT 10"
  kch sql --format PrettyCompact "SELECT count() FROM kafka.orders"
  kch sql "SHOW TABLES FROM kafka"
`;

function usageError(io: CliIO, message: string): number {
  io.stderr.write(`kch sql: ${message}\nRun \`kch sql --help\` for the options.\n`);
  return ExitCode.USAGE;
}

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function socketCode(e: unknown): string | undefined {
  for (let x: unknown = e, i = 0; x instanceof Error && i < 4; x = (x as { cause?: unknown }).cause, i++) {
    const code = (x as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

const OPTIONS = {
  format: { type: 'string' },
  'admin-url': { type: 'string' },
  token: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parse(args: string[]) {
  return parseArgs({ args, allowPositionals: true, options: OPTIONS });
}

const command: Command = {
  name: 'sql',
  summary: "run SQL on a running broker's ClickHouse (through its admin server)",
  usage: USAGE,
  async run(args: string[], io: CliIO): Promise<number> {
    let parsed: ReturnType<typeof parse>;
    try {
      parsed = parse(args);
    } catch (e) {
      return usageError(io, (e as Error).message);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      io.stdout.write(USAGE);
      return ExitCode.OK;
    }
    const format = values.format ?? 'TabSeparated';
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(format))
      return usageError(io, `${JSON.stringify(format)} is not a ClickHouse format name`);
    const timeoutS = Number(values.timeout ?? '300');
    if (!Number.isFinite(timeoutS) || timeoutS <= 0)
      return usageError(io, '--timeout must be a positive number of seconds');

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

    const env = io.env;
    const base =
      values['admin-url'] ??
      env.KCH_ADMIN_URL ??
      `http://127.0.0.1:${env.KCH_ADMIN_PORT && /^\d+$/.test(env.KCH_ADMIN_PORT) ? env.KCH_ADMIN_PORT : DEFAULT_ADMIN_PORT}`;
    let url: URL;
    try {
      url = new URL('sql', base.endsWith('/') ? base : `${base}/`);
    } catch {
      return usageError(
        io,
        `--admin-url ${JSON.stringify(base)} is not a URL, e.g. http://127.0.0.1:${DEFAULT_ADMIN_PORT}`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return usageError(io, `--admin-url must be an http(s) URL, not ${base}`);
    url.searchParams.set('format', format);
    const token = values.token ?? env.KCH_ADMIN_TOKEN;

    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        body: sql,
        headers: {
          'content-type': 'text/plain; charset=utf-8',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        signal: AbortSignal.timeout(timeoutS * 1000),
      });
    } catch (e) {
      const code = socketCode(e);
      const origin = url.origin;
      if ((e as Error).name === 'TimeoutError')
        io.stderr.write(`kch sql: no answer from ${origin} within ${timeoutS} s\n`);
      else if (code === 'ECONNREFUSED')
        io.stderr.write(
          `kch sql: no broker answers at ${origin} (connection refused). Is one running? Start it with \`kch broker\`, or point --admin-url (KCH_ADMIN_URL) at its admin server.\n`,
        );
      else io.stderr.write(`kch sql: cannot reach ${origin}: ${code ?? (e as Error).message}\n`);
      return ExitCode.UNAVAILABLE;
    }
    const body = Buffer.from(await response.arrayBuffer());
    if (response.ok) {
      await new Promise<void>((resolve, reject) => io.stdout.write(body, (e) => (e ? reject(e) : resolve())));
      return ExitCode.OK;
    }
    const text = body.toString('utf8').trim();
    switch (response.status) {
      case 401:
        io.stderr.write(
          `kch sql: the broker wants its admin token: --token <token> or KCH_ADMIN_TOKEN${token ? ' (the one given is wrong)' : ''}\n`,
        );
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
