/**
 * `kch quotas describe | alter`: client quotas of users and client ids, as `kafka-configs.sh
 * --entity-type users|clients` manages them (DescribeClientQuotas, AlterClientQuotas), with its
 * options (--entity-type, --entity-name, --entity-default, --add-config, --delete-config), its checks
 * and its output.
 */
import { parseArgs } from 'node:util';
import { callApi } from '../client/admin-api.js';
import {
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  connectionFrom,
  parseCommandArgs,
  runCommand,
  subcommandOf,
  toJson,
  write,
} from '../client/cli.js';
import { CliError, UsageError } from '../client/errors.js';
import { type Kafka, withKafka } from '../client/kafka.js';
import {
  checkQuotaKeys,
  describeEntity,
  ENTITY_TYPES,
  javaDouble,
  parseAddConfig,
  parseDeleteConfig,
  parseQuotaValue,
  QUOTA_KEYS,
  type QuotaEntity,
} from '../client/quota-config.js';
import { type CliIO, type Command, ExitCode } from '../command.js';

const USAGE = `Usage: kch quotas <command> [options]

Describes and alters client quotas, as kafka-configs.sh --entity-type users|clients does: byte rates
and request time per user, per client id, or per user and client id together, and the defaults of
each. The broker throttles a client over its quota (throttle_time_ms), as Kafka does.

Commands:
  describe                   the quotas of the entities given (every entity of the
                             types given, without names; every quota without types)
  alter                      adds, changes or deletes quotas of one entity

Entities:
  --entity-type <type>       users or clients; both (each with a name or default) for
                             the clients of one user
  --entity-name <name>       the user (principal name, e.g. alice) or client id of the
                             --entity-type before it
  --entity-default           the default entity of that type (applies to those
                             without quotas of their own)

alter options:
  --add-config <k=v,...>     quotas to set: ${QUOTA_KEYS.join(', ')}
                             (repeatable)
  --delete-config <k,...>    quotas to delete (repeatable)

Options:
  --json                     describe: JSON output
${CONNECTION_USAGE}
  -h, --help                 this text

Examples:
  kch quotas alter --entity-type users --entity-name alice --add-config producer_byte_rate=1048576,consumer_byte_rate=2097152
  kch quotas alter --entity-type clients --entity-default --add-config request_percentage=50
  kch quotas alter --entity-type users --entity-name alice --entity-type clients --entity-name etl --add-config producer_byte_rate=4194304
  kch quotas describe --entity-type users
  kch quotas alter --entity-type users --entity-name alice --delete-config consumer_byte_rate
`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  'entity-type': { type: 'string', multiple: true },
  'entity-name': { type: 'string', multiple: true },
  'entity-default': { type: 'boolean', multiple: true },
  'add-config': { type: 'string', multiple: true },
  'delete-config': { type: 'string', multiple: true },
  json: { type: 'boolean' },
} as const;

interface DescribedEntry {
  entity: { entityType: string; entityName: string | null }[];
  values: { key: string; value: number }[];
}

/** The protocol's match types of a DescribeClientQuotas component. */
const MATCH_EXACT = 0;
const MATCH_DEFAULT = 1;
const MATCH_ANY = 2;

/**
 * The names of --entity-name and --entity-default in the order given ('' for a default), which pair
 * with the --entity-type values in order, as kafka-configs.sh pairs them.
 */
function entityNames(args: string[]): string[] {
  const { tokens } = parseArgs({
    args,
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  return tokens.flatMap((t) =>
    t.kind !== 'option'
      ? []
      : t.name === 'entity-name'
        ? [t.value ?? '']
        : t.name === 'entity-default'
          ? ['']
          : [],
  );
}

const quotas: Command = {
  name: 'quotas',
  usage: USAGE,
  run(args: string[], io: CliIO): Promise<number> {
    return runCommand('quotas', USAGE, io, async () => {
      const { values, positionals } = parseCommandArgs(args, OPTIONS);
      if (values.help) {
        await write(io.stdout, USAGE);
        return ExitCode.OK;
      }
      const [given, ...extra] = positionals;
      const sub = subcommandOf(given, ['describe', 'alter']);
      if (extra.length > 0)
        throw new UsageError(`unexpected argument "${extra[0]}": name the entity with --entity-name`);
      const types = (values['entity-type'] ?? []).map((t) => t.trim());
      for (const t of types)
        if (!Object.hasOwn(ENTITY_TYPES, t))
          throw new UsageError(
            `Invalid entity type ${t}: kch quotas takes users and clients (topic configs: kch topics alter)`,
          );
      const duplicates = types.filter((t, i) => types.indexOf(t) !== i);
      if (duplicates.length > 0)
        throw new UsageError(`Duplicate entity type(s) specified: ${[...new Set(duplicates)].join(',')}`);
      const names = entityNames(args);
      if (names.length > types.length) throw new UsageError('More entity names specified than entity types');
      if (sub === 'describe') {
        for (const o of ['add-config', 'delete-config'] as const)
          if (values[o] !== undefined) throw new UsageError(`--${o} does not apply to "quotas describe"`);
        return withKafka(await connectionFrom('quotas', values, io), (kafka) =>
          describe(kafka, io, types, names, values.json === true),
        );
      }
      if (values.json) throw new UsageError('--json does not apply to "quotas alter"');
      if (types.length === 0) throw new UsageError('At least one entity type must be specified');
      if (names.length !== types.length)
        throw new UsageError(
          'An entity name must be specified for every entity type: --entity-name <name> or --entity-default after each --entity-type',
        );
      const added = (values['add-config'] ?? []).flatMap(parseAddConfig);
      const deleted = parseDeleteConfig(values['delete-config'] ?? []);
      if (added.length === 0 && deleted.length === 0)
        throw new UsageError('At least one of --add-config or --delete-config must be specified with alter');
      checkQuotaKeys(
        added.map(([k]) => k),
        'added',
      );
      checkQuotaKeys(deleted, 'deleted');
      const ops = [
        ...added.map(([key, value]) => ({ key, value: parseQuotaValue(key, value), remove: false as const })),
        ...deleted.map((key) => ({ key, remove: true as const })),
      ];
      const entity: QuotaEntity = types.map((t, i) => ({
        entityType: ENTITY_TYPES[t]!,
        entityName: names[i] === '' ? null : names[i]!,
      }));
      return withKafka(await connectionFrom('quotas', values, io), async (kafka) => {
        await alter(kafka, entity, ops, deleted);
        const name = names[0]!;
        await write(
          io.stdout,
          name === ''
            ? `Completed updating default config for ${types[0]} in the cluster.\n`
            : `Completed updating config for ${types[0]!.slice(0, -1)} ${name}.\n`,
        );
        return ExitCode.OK;
      });
    });
  },
};

export default quotas;

async function describeQuotas(
  kafka: Kafka,
  components: { entityType: string; matchType: number; match?: string }[],
  strict: boolean,
): Promise<DescribedEntry[]> {
  const response = await kafka.call('describing client quotas', () =>
    callApi<[typeof components, boolean], { errorCode: number; entries: DescribedEntry[] }>(
      kafka,
      'DescribeClientQuotas',
      components,
      strict,
    ),
  );
  return response.entries;
}

async function describe(
  kafka: Kafka,
  io: CliIO,
  types: string[],
  names: string[],
  json: boolean,
): Promise<number> {
  // kafka-configs.sh's ClientQuotaFilter.containsOnly: the entities of exactly these types.
  const components = types.map((t, i) => {
    const entityType = ENTITY_TYPES[t]!;
    const name = names[i];
    if (name === undefined) return { entityType, matchType: MATCH_ANY };
    return name === ''
      ? { entityType, matchType: MATCH_DEFAULT }
      : { entityType, matchType: MATCH_EXACT, match: name };
  });
  const entries = (await describeQuotas(kafka, components, types.length > 0))
    .map((e) => ({ ...e, label: describeEntity(e.entity) }))
    .sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  if (json) {
    await write(
      io.stdout,
      toJson(
        entries.map((e) => ({
          entity: Object.fromEntries(e.entity.map((x) => [x.entityType, x.entityName])),
          quotas: Object.fromEntries(e.values.map((v) => [v.key, v.value])),
        })),
      ),
    );
    return ExitCode.OK;
  }
  if (entries.length === 0) {
    await write(io.stdout, 'No client quotas.\n');
    return ExitCode.OK;
  }
  await write(
    io.stdout,
    entries
      .map(
        (e) =>
          `Quota configs for ${e.label} are ${[...e.values]
            .sort((a, b) => (a.key < b.key ? -1 : 1))
            .map((v) => `${v.key}=${javaDouble(v.value)}`)
            .join(', ')}\n`,
      )
      .join(''),
  );
  return ExitCode.OK;
}

async function alter(
  kafka: Kafka,
  entity: QuotaEntity,
  ops: ({ key: string; value: number; remove: false } | { key: string; remove: true })[],
  deleted: string[],
): Promise<void> {
  if (deleted.length > 0) {
    // As kafka-configs.sh: deleting a quota the entity does not have is an error, not a no-op.
    const [current] = await describeQuotas(
      kafka,
      entity.map((e) =>
        e.entityName === null
          ? { entityType: e.entityType, matchType: MATCH_DEFAULT }
          : { entityType: e.entityType, matchType: MATCH_EXACT, match: e.entityName },
      ),
      true,
    );
    const missing = deleted.filter((k) => !current?.values.some((v) => v.key === k));
    if (missing.length > 0) throw new CliError(`Invalid config(s): ${missing.join(',')}`);
  }
  // An entry the broker refuses rejects with its error code and message (kafka.call says them).
  await kafka.call(`altering the quotas of ${describeEntity(entity)}`, () =>
    callApi<[{ entities: QuotaEntity; ops: typeof ops }[], boolean], unknown>(
      kafka,
      'AlterClientQuotas',
      [{ entities: entity, ops }],
      false,
    ),
  );
}
