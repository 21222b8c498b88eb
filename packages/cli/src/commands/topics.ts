/**
 * `kch topics`: list, create, describe, alter and delete topics over the Kafka protocol, printing what
 * kafka-topics.sh prints.
 */
import { ErrorCode } from '@kch/protocol';
import {
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  connectionFrom,
  isConnectionOption,
  type ParsedArgs,
  parseCommandArgs,
  parseInteger,
  parsePairs,
  runCommand,
  toJson,
  write,
} from '../client/cli.js';
import { BrokerError, CliError, UsageError } from '../client/errors.js';
import { type Kafka, type TopicInfo, withKafka } from '../client/kafka.js';
import {
  alterTopicConfigs,
  CONFIG_SOURCE_TOPIC,
  createPartitions,
  createTopic,
  deleteTopic,
  describeTopicConfigs,
} from '../client/topics-admin.js';
import { type CliIO, type Command, ExitCode } from '../command.js';

const USAGE = `Usage: kch topics <command> [options]

Lists, creates, describes, alters and deletes topics, as kafka-topics.sh does.

Commands:
  list                       the topics, one name per line
  create <topic>             creates a topic; prints "Created topic <topic>."
  describe [<topic>...]      partitions, leaders, replicas and config overrides
                             (every topic when none is named)
  alter <topic>              adds partitions and sets or deletes config overrides
  delete <topic>             deletes a topic and its data

Options:
${CONNECTION_USAGE}
  -p, --partitions <n>       create: number of partitions (default: the broker's)
                             alter: the new, larger number of partitions
  -r, --replication-factor <n>
                             create: replicas per partition (default: the broker's)
  -c, --config <key=value>   create, alter: a topic config, e.g. retention.ms=86400000
                             (repeat for several)
  --delete-config <key>      alter: removes an override, back to the default (repeatable)
  --if-not-exists            create: succeed when the topic already exists
  --if-exists                delete, alter: succeed when the topic does not exist
  --json                     list, describe, create: JSON output
  -h, --help                 this text

Examples:
  kch topics create orders --partitions 3 --config retention.ms=604800000
  kch topics describe orders
  kch topics alter orders --partitions 6 --delete-config retention.ms
  kch topics list --json
`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  partitions: { type: 'string', short: 'p' },
  'replication-factor': { type: 'string', short: 'r' },
  config: { type: 'string', short: 'c', multiple: true },
  'delete-config': { type: 'string', multiple: true },
  'if-not-exists': { type: 'boolean' },
  'if-exists': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

type Values = ParsedArgs<typeof OPTIONS>['values'];

const SUBCOMMANDS = ['list', 'create', 'describe', 'alter', 'delete'] as const;
type Sub = (typeof SUBCOMMANDS)[number];

/** Which options each sub-command takes (besides --bootstrap-server and --help). */
const ALLOWED: Record<Sub, readonly (keyof Values)[]> = {
  list: ['json'],
  create: ['partitions', 'replication-factor', 'config', 'if-not-exists', 'json'],
  describe: ['json'],
  alter: ['partitions', 'config', 'delete-config', 'if-exists'],
  delete: ['if-exists'],
};

const topics: Command = {
  name: 'topics',
  usage: USAGE,
  run(args: string[], io: CliIO): Promise<number> {
    return runCommand('topics', USAGE, io, async () => {
      const { values, positionals } = parseCommandArgs(args, OPTIONS);
      if (values.help) {
        await write(io.stdout, USAGE);
        return ExitCode.OK;
      }
      const [sub, ...names] = positionals;
      if (sub === undefined) throw new UsageError('missing command: list, create, describe, alter or delete');
      if (!(SUBCOMMANDS as readonly string[]).includes(sub)) {
        throw new UsageError(`unknown command "${sub}": use list, create, describe, alter or delete`);
      }
      const command = sub as Sub;
      for (const key of Object.keys(values) as (keyof Values)[]) {
        if (isConnectionOption(key)) continue;
        if (!ALLOWED[command].includes(key))
          throw new UsageError(`--${key} does not apply to "topics ${command}"`);
      }
      if (command === 'list' && names.length > 0) {
        throw new UsageError(`"topics list" takes no topic name (got "${names.join(' ')}")`);
      }
      if (command !== 'list' && command !== 'describe') {
        if (names.length === 0) throw new UsageError(`"topics ${command}" needs a topic name`);
        if (names.length > 1)
          throw new UsageError(`"topics ${command}" takes one topic name, got ${names.length}`);
      }
      const options = checkOptions(command, values);
      const target = await connectionFrom('topics', values, io);
      return withKafka(target, async (client) => {
        switch (command) {
          case 'list':
            return list(client, io, values.json === true);
          case 'create':
            return create(client, io, names[0]!, options, values);
          case 'describe':
            return describe(client, io, names, values.json === true);
          case 'alter':
            return alter(client, io, names[0]!, options, values);
          case 'delete':
            return remove(client, io, names[0]!, values['if-exists'] === true);
        }
      });
    });
  },
};

export default topics;

interface CheckedOptions {
  partitions?: number;
  replicationFactor?: number;
  configs: Record<string, string>;
  deleteConfigs: string[];
}

function checkOptions(command: Sub, values: Values): CheckedOptions {
  const out: CheckedOptions = {
    configs: parsePairs('--config', values.config),
    deleteConfigs: values['delete-config'] ?? [],
  };
  if (values.partitions !== undefined)
    out.partitions = parseInteger('--partitions', values.partitions, { min: 1 });
  if (values['replication-factor'] !== undefined) {
    out.replicationFactor = parseInteger('--replication-factor', values['replication-factor'], {
      min: 1,
      max: 32767,
    });
  }
  if (command === 'alter') {
    if (
      out.partitions === undefined &&
      Object.keys(out.configs).length === 0 &&
      out.deleteConfigs.length === 0
    ) {
      throw new UsageError('"topics alter" needs --partitions, --config or --delete-config');
    }
    for (const k of out.deleteConfigs) {
      if (k in out.configs) throw new UsageError(`--config and --delete-config both name "${k}"`);
    }
  }
  return out;
}

async function list(client: Kafka, io: CliIO, json: boolean): Promise<number> {
  if (!json) {
    const names = await client.call('listing topics', () => client.admin.listTopics());
    await write(
      io.stdout,
      [...names]
        .sort()
        .map((t) => `${t}\n`)
        .join(''),
    );
    return ExitCode.OK;
  }
  const topics = await client.topics(null);
  await write(
    io.stdout,
    toJson(topics.map((t) => ({ name: t.name, topicId: t.topicId, partitions: t.partitions.length }))),
  );
  return ExitCode.OK;
}

async function create(
  client: Kafka,
  io: CliIO,
  name: string,
  options: CheckedOptions,
  values: Values,
): Promise<number> {
  try {
    const created = await createTopic(client, {
      name,
      partitions: options.partitions,
      replicationFactor: options.replicationFactor,
      configs: options.configs,
    });
    if (values.json) {
      await write(io.stdout, toJson(created));
    } else {
      await write(io.stdout, `Created topic ${name}.\n`);
    }
    return ExitCode.OK;
  } catch (e) {
    if (values['if-not-exists'] && e instanceof BrokerError && e.code === ErrorCode.TOPIC_ALREADY_EXISTS) {
      if (values.json) await write(io.stdout, toJson({ name, created: false }));
      return ExitCode.OK;
    }
    throw e;
  }
}

interface DescribedTopic {
  name: string;
  topicId: string;
  partitionCount: number;
  replicationFactor: number;
  /** The ClickHouse table of the topic's records (kch.storage.table), null on memory storage. */
  table: string | null;
  /** Overrides only, as kafka-topics.sh shows them. */
  configs: Record<string, string | null>;
  partitions: { partition: number; leader: number; replicas: number[]; isr: number[] }[];
}

async function describe(client: Kafka, io: CliIO, names: string[], json: boolean): Promise<number> {
  const found = await client.topics(
    names.length === 0 ? null : [...new Set(names)],
    (name) =>
      new CliError(
        `topic "${name}" does not exist; list the topics with \`kch topics list\`, or create it with \`kch topics create ${name}\``,
      ),
  );
  const configs = await describeTopicConfigs(
    client,
    found.map((t) => t.name),
  );
  const described: DescribedTopic[] = found.map((t) => {
    const overrides: Record<string, string | null> = {};
    let table: string | null = null;
    for (const c of configs.get(t.name) ?? []) {
      if (c.source === CONFIG_SOURCE_TOPIC) overrides[c.name] = c.sensitive ? null : c.value;
      if (c.name === 'kch.storage.table') table = c.value;
    }
    return {
      name: t.name,
      topicId: t.topicId,
      partitionCount: t.partitions.length,
      replicationFactor: t.partitions[0]?.replicas.length ?? 0,
      table,
      configs: overrides,
      partitions: t.partitions.map((p) => ({
        partition: p.partition,
        leader: p.leader,
        replicas: p.replicas,
        isr: p.isr,
      })),
    };
  });
  if (json) {
    await write(io.stdout, toJson(names.length === 1 ? described[0] : described));
    return ExitCode.OK;
  }
  let out = '';
  for (const t of described) {
    const cfg = Object.entries(t.configs)
      .map(([k, v]) => `${k}=${v ?? '<sensitive>'}`)
      .join(',');
    // kafka-topics.sh's line, plus where SQL finds the records.
    out +=
      `Topic: ${t.name}\tTopicId: ${t.topicId}\tPartitionCount: ${t.partitionCount}\t` +
      `ReplicationFactor: ${t.replicationFactor}\t${t.table !== null ? `Table: ${t.table}\t` : ''}Configs: ${cfg}\n`;
    for (const p of t.partitions) {
      out +=
        `\tTopic: ${t.name}\tPartition: ${p.partition}\tLeader: ${p.leader < 0 ? 'none' : p.leader}\t` +
        `Replicas: ${p.replicas.join(',')}\tIsr: ${p.isr.join(',')}\n`;
    }
  }
  await write(io.stdout, out);
  return ExitCode.OK;
}

async function alter(
  client: Kafka,
  io: CliIO,
  name: string,
  options: CheckedOptions,
  values: Values,
): Promise<number> {
  let topic: TopicInfo;
  try {
    topic = await client.topic(name);
  } catch (e) {
    if (values['if-exists'] && e instanceof CliError && !(e instanceof BrokerError)) return ExitCode.OK;
    throw e;
  }
  const done: string[] = [];
  if (options.partitions !== undefined) {
    const current = topic.partitions.length;
    if (options.partitions < current) {
      throw new CliError(
        `topic "${name}" has ${current} partitions; Kafka can add partitions but not remove them: give --partitions above ${current}`,
      );
    }
    if (options.partitions > current) {
      await createPartitions(client, name, options.partitions);
      done.push(`partitions ${current} -> ${options.partitions}`);
    } else {
      done.push(`partitions unchanged (${current})`);
    }
  }
  if (Object.keys(options.configs).length > 0 || options.deleteConfigs.length > 0) {
    await alterTopicConfigs(client, name, options.configs, options.deleteConfigs);
    for (const [k, v] of Object.entries(options.configs)) done.push(`set ${k}=${v}`);
    for (const k of options.deleteConfigs) done.push(`deleted ${k}`);
  }
  await write(io.stdout, `Altered topic ${name}: ${done.join(', ')}.\n`);
  return ExitCode.OK;
}

async function remove(client: Kafka, io: CliIO, name: string, ifExists: boolean): Promise<number> {
  try {
    await deleteTopic(client, name);
  } catch (e) {
    if (ifExists && e instanceof BrokerError && e.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
      return ExitCode.OK;
    throw e;
  }
  await write(io.stdout, `Deleted topic ${name}.\n`);
  return ExitCode.OK;
}
