/**
 * `kch views list | create | drop`: materialized views on topics, through a running broker's admin
 * server (`/views`), as `kch sql` works through `POST /sql`: an embedded chdb directory is open in the
 * broker's process only.
 */
import type { ViewInfo } from '@kch/storage';
import {
  ADMIN_CLIENT_OPTIONS,
  ADMIN_CLIENT_USAGE,
  type AdminTarget,
  adminRequest,
  adminTarget,
  readStdin,
  unauthorizedMessage,
  withSecurity,
} from '../admin/client.js';
import { parseCommandArgs, runCommand, table, toJson, write } from '../client/cli.js';
import { CliError, UsageError } from '../client/errors.js';
import { type CliIO, type Command, ExitCode } from '../command.js';

const USAGE = `Usage: kch views list [options]
       kch views create <name> --topic <topic> --select "<SELECT ... FROM {topic} ...>"
                        (--to <table> | --engine "<engine>") [--populate] [options]
       kch views drop <name> [options]

Materialized views on topics: ClickHouse runs the SELECT over every batch of records appended to the
topic and writes the rows it returns to a table (a typed table from CDC JSON, counts per variant...).
Each view is a ClickHouse MATERIALIZED VIEW in the broker's database (kafka), over the topic's table.
Works through the broker's admin server, like kch sql; needs ClickHouse storage (chdb or a server).

Commands:
  list                   the views: NAME TOPIC TARGET (--json: with their SQL)
  create <name>          creates a view (a plain name: letters, digits and _)
  drop <name>            drops a view; a --to table keeps its rows, the table of an --engine view
                         goes with it

create options:
  -t, --topic <topic>    the topic the view reads (it must exist)
  --select <sql>         the SELECT; {topic} stands for the topic's table, whose columns are partition,
                         offset, timestamp, key, value (bytes: JSONExtract*(value, ...)) and headers.
                         - reads it from standard input
  --to <table>           the table the rows go to (create it first): db.table, or table in the
                         broker's database
  --engine <engine>      instead of --to: the engine of a table the view keeps, e.g.
                         "SummingMergeTree ORDER BY variant" (query the view by its name)
  --populate             also run the records already in the topic through the view, each once

Options:
  --json                 list, create: print the views as JSON
${ADMIN_CLIENT_USAGE}
  -h, --help             this text

Exit codes: 0 done; 1 the broker refused (ClickHouse's message is printed: bad SQL, no such topic or
view, a name in use), or the token or user was refused; 2 bad arguments; 69 no broker answers at the admin URL,
its storage has no views (memory) or ClickHouse is unavailable.

Examples:
  kch sql "CREATE TABLE kafka.conversions (experiment String, variant String, exposures UInt64,
           conversions UInt64) ENGINE = SummingMergeTree ORDER BY (experiment, variant)"
  kch views create conversions_mv --topic experiment-events --to conversions --populate --select "
    SELECT JSONExtractString(value, 'experiment') AS experiment,
           JSONExtractString(value, 'variant') AS variant,
           countIf(JSONExtractString(value, 'event') = 'exposure') AS exposures,
           countIf(JSONExtractString(value, 'event') = 'conversion') AS conversions
    FROM {topic} WHERE value IS NOT NULL GROUP BY experiment, variant"
  kch views list
  kch views drop conversions_mv
`;

const OPTIONS = {
  topic: { type: 'string', short: 't' },
  select: { type: 'string' },
  to: { type: 'string' },
  engine: { type: 'string' },
  populate: { type: 'boolean' },
  json: { type: 'boolean' },
  ...ADMIN_CLIENT_OPTIONS,
  help: { type: 'boolean', short: 'h' },
} as const;

/** Where a view's rows are, for the list: its TO table, or the engine of the table it keeps. */
function targetOf(v: ViewInfo): string {
  if (v.to !== null) return v.to;
  if (v.engine !== null) return `ENGINE = ${v.engine}`;
  return v.target ?? '-';
}

/** The admin server's answer as JSON, or a CliError with the exit code that fits its status. */
async function call(
  target: AdminTarget,
  path: string,
  init: { method: string; body?: string },
): Promise<unknown> {
  const url = new URL(path, target.base);
  const response = await adminRequest(target, url, {
    ...init,
    ...(init.body !== undefined ? { contentType: 'application/json' } : {}),
  });
  if (!(response instanceof Response)) throw new CliError(response.message, response.exitCode);
  const text = await response.text();
  if (response.ok) return JSON.parse(text) as unknown;
  const message = text.trim() || `HTTP ${response.status}`;
  switch (response.status) {
    case 401:
      throw new CliError(unauthorizedMessage(target, response, message));
    case 501:
    case 503:
      throw new CliError(message, ExitCode.UNAVAILABLE);
    case 404:
      if (init.method === 'GET' && path === 'views')
        throw new CliError(
          `${url.origin} is not a kch admin server with views (no /views there)`,
          ExitCode.UNAVAILABLE,
        );
      throw new CliError(message);
    default:
      throw new CliError(message);
  }
}

const command: Command = {
  name: 'views',
  usage: USAGE,
  run(args: string[], io: CliIO): Promise<number> {
    return runCommand('views', USAGE, io, async () => {
      const { values, positionals } = parseCommandArgs(args, OPTIONS);
      if (values.help) {
        await write(io.stdout, USAGE);
        return ExitCode.OK;
      }
      const [sub, name, ...extra] = positionals;
      if (sub === undefined) throw new UsageError('which command? list, create or drop');
      if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
      const given = adminTarget(values, io.env);
      if (typeof given === 'string') throw new UsageError(given);
      const target = await withSecurity(given, values, io);
      const createOnly = (['topic', 'select', 'to', 'engine', 'populate'] as const).filter(
        (o) => values[o] !== undefined,
      );
      if (sub !== 'create' && createOnly.length > 0)
        throw new UsageError(`--${createOnly[0]} is an option of kch views create`);

      switch (sub) {
        case 'list': {
          if (name !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(name)}`);
          const { views } = (await call(target, 'views', { method: 'GET' })) as { views: ViewInfo[] };
          if (values.json) await write(io.stdout, toJson(views));
          else if (views.length === 0) await write(io.stdout, 'No views.\n');
          else
            await write(
              io.stdout,
              table(
                ['NAME', 'TOPIC', 'TARGET'],
                views.map((v) => [v.name, v.topic ?? '-', targetOf(v)]),
              ),
            );
          return ExitCode.OK;
        }
        case 'create': {
          if (name === undefined) throw new UsageError('kch views create needs the view name');
          if (values.topic === undefined)
            throw new UsageError('--topic is required: the topic the view reads');
          if (values.select === undefined)
            throw new UsageError('--select is required: "SELECT ... FROM {topic} ..." (or - for stdin)');
          if ((values.to === undefined) === (values.engine === undefined))
            throw new UsageError('give --to <table> or --engine "<engine>" (one of them)');
          const select = values.select === '-' ? await readStdin(io.stdin) : values.select;
          const definition = {
            name,
            topic: values.topic,
            select,
            ...(values.to !== undefined ? { to: values.to } : {}),
            ...(values.engine !== undefined ? { engine: values.engine } : {}),
            populate: values.populate ?? false,
          };
          const view = (await call(target, 'views', {
            method: 'POST',
            body: JSON.stringify(definition),
          })) as ViewInfo;
          if (values.json) await write(io.stdout, toJson(view));
          else
            await write(
              io.stdout,
              `Created view ${view.name} on topic ${view.topic}${definition.populate ? ' (the records already stored went through it too)' : ''}: ${view.to !== null ? `its rows go to ${view.to}` : `it keeps its rows (ENGINE = ${view.engine}); query the view by its name`}.\n`,
            );
          return ExitCode.OK;
        }
        case 'drop': {
          if (name === undefined) throw new UsageError('kch views drop needs the view name');
          await call(target, `views/${encodeURIComponent(name)}`, { method: 'DELETE' });
          await write(io.stdout, `Dropped view ${name}.\n`);
          return ExitCode.OK;
        }
        default:
          throw new UsageError(`unknown command ${JSON.stringify(sub)}: list, create or drop`);
      }
    });
  },
};

export default command;
