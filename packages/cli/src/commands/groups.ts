/**
 * `kch groups`: list and describe consumer groups (with lag), reset and delete them, printing what
 * kafka-consumer-groups.sh prints.
 */
import {
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  connectionFrom,
  isConnectionOption,
  type ParsedArgs,
  parseBigInt,
  parseCommandArgs,
  parseInteger,
  parseTime,
  runCommand,
  table,
  toJson,
  write,
} from '../client/cli.js';
import { CliError, UsageError } from '../client/errors.js';
import {
  commitOffsets,
  deleteGroup,
  describeGroup,
  EARLIEST_TIMESTAMP,
  fetchCommittedOffsets,
  type GroupDescription,
  LATEST_TIMESTAMP,
  listGroups,
  listOffsets,
} from '../client/groups-admin.js';
import { type Kafka, type TopicInfo, withKafka } from '../client/kafka.js';
import { type CliIO, type Command, ExitCode } from '../command.js';

const USAGE = `Usage: kch groups <command> [options]

Lists, describes, resets and deletes consumer groups, as kafka-consumer-groups.sh does.

Commands:
  list                       the groups, one id per line
  describe <group>           per partition: TOPIC PARTITION CURRENT-OFFSET
                             LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
  reset-offsets <group>      moves the group's committed offsets: a dry run that
                             prints the new offsets, unless --execute
  delete <group>             deletes an inactive group and its committed offsets

Options:
${CONNECTION_USAGE}
  --json                     list, describe, reset-offsets: JSON output (list: with
                             each group's type, classic or consumer, and state)
  -h, --help                 this text

reset-offsets options (one target, and --topic or --all-topics):
  -t, --topic <topic>[:<p>,<p>...]
                             the topic, and optionally its partitions (default all);
                             repeatable
  --all-topics               every topic the group has committed offsets for
  --to-earliest              the earliest offset still in the log
  --to-latest                the end of the log (skip everything)
  --to-offset <n>            offset n (kept within earliest..latest)
  --to-datetime <ISO|ms>     the first offset at or after this time (the end if none)
  --shift-by <n>             the committed offset plus n; n may be negative
                             (--shift-by -10 moves back 10 records)
  --dry-run                  print the new offsets only (the default)
  --execute                  commit the new offsets

  As in Kafka, offsets can only be reset while the group has no active members:
  stop its consumers first.

Examples:
  kch groups describe billing
  kch groups reset-offsets billing --topic orders --to-earliest --execute
`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  json: { type: 'boolean' },
  topic: { type: 'string', short: 't', multiple: true },
  'all-topics': { type: 'boolean' },
  'to-earliest': { type: 'boolean' },
  'to-latest': { type: 'boolean' },
  'to-offset': { type: 'string' },
  'to-datetime': { type: 'string' },
  'shift-by': { type: 'string' },
  'dry-run': { type: 'boolean' },
  execute: { type: 'boolean' },
} as const;

type Values = ParsedArgs<typeof OPTIONS>['values'];

const SUBCOMMANDS = ['list', 'describe', 'reset-offsets', 'delete'] as const;
type Sub = (typeof SUBCOMMANDS)[number];

const RESET_OPTIONS: readonly (keyof Values)[] = [
  'topic',
  'all-topics',
  'to-earliest',
  'to-latest',
  'to-offset',
  'to-datetime',
  'shift-by',
  'dry-run',
  'execute',
];

const ALLOWED: Record<Sub, readonly (keyof Values)[]> = {
  list: ['json'],
  describe: ['json'],
  'reset-offsets': ['json', ...RESET_OPTIONS],
  delete: [],
};

type ResetTarget =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'offset'; offset: bigint }
  | { kind: 'datetime'; timestamp: bigint }
  | { kind: 'shift'; by: bigint };

const groups: Command = {
  name: 'groups',
  usage: USAGE,
  run(args: string[], io: CliIO): Promise<number> {
    return runCommand('groups', USAGE, io, async () => {
      const { values, positionals } = parseCommandArgs(args, OPTIONS);
      if (values.help) {
        await write(io.stdout, USAGE);
        return ExitCode.OK;
      }
      const [sub, ...rest] = positionals;
      if (sub === undefined) throw new UsageError('missing command: list, describe, reset-offsets or delete');
      if (!(SUBCOMMANDS as readonly string[]).includes(sub)) {
        throw new UsageError(`unknown command "${sub}": use list, describe, reset-offsets or delete`);
      }
      const command = sub as Sub;
      for (const key of Object.keys(values) as (keyof Values)[]) {
        if (isConnectionOption(key)) continue;
        if (!ALLOWED[command].includes(key))
          throw new UsageError(`--${key} does not apply to "groups ${command}"`);
      }
      if (command === 'list') {
        if (rest.length > 0)
          throw new UsageError(`"groups list" takes no group id (got "${rest.join(' ')}")`);
      } else {
        if (rest.length === 0) throw new UsageError(`"groups ${command}" needs a group id`);
        if (rest.length > 1)
          throw new UsageError(`"groups ${command}" takes one group id, got ${rest.length}`);
      }
      const reset = command === 'reset-offsets' ? checkReset(values) : null;
      const target = await connectionFrom('groups', values, io);
      return withKafka(target, async (client) => {
        switch (command) {
          case 'list':
            return list(client, io, values.json === true);
          case 'describe':
            return describe(client, io, rest[0]!, values.json === true);
          case 'reset-offsets':
            return resetOffsets(client, io, rest[0]!, reset!, values);
          case 'delete':
            await deleteGroup(client, rest[0]!);
            await write(io.stdout, `Deletion of requested consumer groups ('${rest[0]}') was successful.\n`);
            return ExitCode.OK;
        }
      });
    });
  },
};

export default groups;

interface ResetPlan {
  target: ResetTarget;
  /** topic -> partitions (null: all). */
  topics: Map<string, number[] | null> | 'all';
  execute: boolean;
}

function checkReset(values: Values): ResetPlan {
  const targets: ResetTarget[] = [];
  if (values['to-earliest']) targets.push({ kind: 'earliest' });
  if (values['to-latest']) targets.push({ kind: 'latest' });
  if (values['to-offset'] !== undefined) {
    const offset = parseBigInt('--to-offset', values['to-offset']);
    if (offset < 0n) throw new UsageError(`--to-offset needs an offset of 0 or more, got ${offset}`);
    targets.push({ kind: 'offset', offset });
  }
  if (values['to-datetime'] !== undefined) {
    targets.push({ kind: 'datetime', timestamp: parseTime('--to-datetime', values['to-datetime']) });
  }
  if (values['shift-by'] !== undefined)
    targets.push({ kind: 'shift', by: parseBigInt('--shift-by', values['shift-by']) });
  if (targets.length === 0) {
    throw new UsageError(
      '"groups reset-offsets" needs where to: --to-earliest, --to-latest, --to-offset, --to-datetime or --shift-by',
    );
  }
  if (targets.length > 1)
    throw new UsageError('give one of --to-earliest, --to-latest, --to-offset, --to-datetime and --shift-by');
  if (values.execute && values['dry-run'])
    throw new UsageError('--execute and --dry-run contradict each other');
  const topicArgs = values.topic ?? [];
  if (topicArgs.length === 0 && !values['all-topics']) {
    throw new UsageError('"groups reset-offsets" needs --topic <topic> or --all-topics');
  }
  if (topicArgs.length > 0 && values['all-topics'])
    throw new UsageError('give --topic or --all-topics, not both');
  let topics: ResetPlan['topics'] = 'all';
  if (topicArgs.length > 0) {
    topics = new Map();
    for (const t of topicArgs) {
      const i = t.indexOf(':');
      const name = i < 0 ? t : t.slice(0, i);
      if (name === '') throw new UsageError(`--topic needs a topic name, got "${t}"`);
      const parts =
        i < 0
          ? null
          : t
              .slice(i + 1)
              .split(',')
              .map((p) => parseInteger(`--topic ${name}: partition`, p, { min: 0 }));
      const prev = topics.get(name);
      topics.set(name, prev === null || parts === null ? null : [...new Set([...(prev ?? []), ...parts])]);
    }
  }
  return { target: targets[0]!, topics, execute: values.execute === true };
}

async function list(client: Kafka, io: CliIO, json: boolean): Promise<number> {
  const all = await listGroups(client);
  if (json) {
    await write(
      io.stdout,
      toJson(
        all.map((g) => ({
          group: g.groupId,
          type: g.type,
          state: g.state || null,
          protocolType: g.protocolType,
        })),
      ),
    );
  } else {
    await write(io.stdout, all.map((g) => `${g.groupId}\n`).join(''));
  }
  return ExitCode.OK;
}

interface OffsetRow {
  topic: string | null;
  partition: number | null;
  currentOffset: bigint | null;
  logEndOffset: bigint | null;
  lag: bigint | null;
  consumerId: string | null;
  host: string | null;
  clientId: string | null;
}

/** Partitions of the topics that exist (by name); missing topics are left out. */
async function topicsByName(client: Kafka, names: readonly string[]): Promise<Map<string, TopicInfo>> {
  const out = new Map<string, TopicInfo>();
  if (names.length === 0) return out;
  const existing = new Set(await client.call('listing topics', () => client.admin.listTopics()));
  for (const t of await client.topics([...new Set(names)].filter((n) => existing.has(n)))) out.set(t.name, t);
  return out;
}

/** Log end offsets by "topic:partition" (missing for topics or partitions that are gone). */
async function logEndOffsets(
  client: Kafka,
  wanted: readonly { topic: string; partition: number }[],
): Promise<Map<string, bigint>> {
  const topics = await topicsByName(
    client,
    wanted.map((w) => w.topic),
  );
  const out = new Map<string, bigint>();
  for (const [name, meta] of topics) {
    const parts = [
      ...new Set(
        wanted
          .filter((w) => w.topic === name && w.partition < meta.partitions.length)
          .map((w) => w.partition),
      ),
    ];
    if (parts.length === 0) continue;
    for (const [p, o] of await listOffsets(client, meta, parts, LATEST_TIMESTAMP))
      out.set(`${name}:${p}`, o.offset);
  }
  return out;
}

function assertExists(group: GroupDescription, hasOffsets: boolean): void {
  if (group.state === 'Dead' && !hasOffsets) {
    throw new CliError(
      `consumer group "${group.groupId}" does not exist; list the groups with \`kch groups list\``,
    );
  }
}

async function describe(client: Kafka, io: CliIO, groupId: string, json: boolean): Promise<number> {
  const group = await describeGroup(client, groupId);
  const committed = (await fetchCommittedOffsets(client, groupId, null)).filter((c) => c.offset >= 0n);
  assertExists(group, committed.length > 0);

  const owner = new Map<string, GroupDescription['members'][number]>();
  for (const m of group.members) {
    for (const a of m.assignment) for (const p of a.partitions) owner.set(`${a.topic}:${p}`, m);
  }
  const keys = new Map<string, { topic: string; partition: number }>();
  for (const c of committed)
    keys.set(`${c.topic}:${c.partition}`, { topic: c.topic, partition: c.partition });
  for (const m of group.members) {
    for (const a of m.assignment) {
      for (const p of a.partitions) keys.set(`${a.topic}:${p}`, { topic: a.topic, partition: p });
    }
  }
  const ends = await logEndOffsets(client, [...keys.values()]);
  const rows: OffsetRow[] = [...keys]
    .map(([key, { topic, partition }]): OffsetRow => {
      const current = committed.find((c) => c.topic === topic && c.partition === partition)?.offset ?? null;
      const end = ends.get(key) ?? null;
      const m = owner.get(key);
      return {
        topic,
        partition,
        currentOffset: current,
        logEndOffset: end,
        lag: current !== null && end !== null ? (end > current ? end - current : 0n) : null,
        consumerId: m?.memberId ?? null,
        host: m?.clientHost ?? null,
        clientId: m?.clientId ?? null,
      };
    })
    .sort((a, b) => (a.topic! < b.topic! ? -1 : a.topic! > b.topic! ? 1 : a.partition! - b.partition!));
  // Members without partitions are listed too, as kafka-consumer-groups.sh does.
  for (const m of group.members) {
    if (m.assignment.some((a) => a.partitions.length > 0)) continue;
    rows.push({
      topic: null,
      partition: null,
      currentOffset: null,
      logEndOffset: null,
      lag: null,
      consumerId: m.memberId,
      host: m.clientHost,
      clientId: m.clientId,
    });
  }

  if (json) {
    await write(
      io.stdout,
      toJson({
        group: groupId,
        state: group.state,
        protocolType: group.protocolType,
        protocol: group.protocol,
        members: group.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          host: m.clientHost,
          assignment: m.assignment,
        })),
        offsets: rows,
      }),
    );
    return ExitCode.OK;
  }
  let out = '';
  if (group.members.length === 0) out += `Consumer group '${groupId}' has no active members.\n\n`;
  const dash = (v: unknown) => (v === null || v === undefined ? '-' : String(v));
  out += table(
    [
      'GROUP',
      'TOPIC',
      'PARTITION',
      'CURRENT-OFFSET',
      'LOG-END-OFFSET',
      'LAG',
      'CONSUMER-ID',
      'HOST',
      'CLIENT-ID',
    ],
    rows.map((r) => [
      groupId,
      dash(r.topic),
      dash(r.partition),
      dash(r.currentOffset),
      dash(r.logEndOffset),
      dash(r.lag),
      dash(r.consumerId),
      dash(r.host),
      dash(r.clientId),
    ]),
  );
  await write(io.stdout, out);
  return ExitCode.OK;
}

async function resetOffsets(
  client: Kafka,
  io: CliIO,
  groupId: string,
  plan: ResetPlan,
  values: Values,
): Promise<number> {
  const group = await describeGroup(client, groupId);
  if (group.state !== 'Empty' && group.state !== 'Dead') {
    const n = group.members.length;
    throw new CliError(
      `Assignments can only be reset if the group '${groupId}' is inactive, but the current state is ${group.state}. ` +
        `Stop its ${n} consumer${n === 1 ? '' : 's'} and try again (see them with \`kch groups describe ${groupId}\`).`,
    );
  }
  const committed = (await fetchCommittedOffsets(client, groupId, null)).filter((c) => c.offset >= 0n);
  // The partitions to reset, by topic.
  const wanted = new Map<string, number[] | null>();
  if (plan.topics === 'all') {
    for (const c of committed) wanted.set(c.topic, [...(wanted.get(c.topic) ?? []), c.partition]);
    if (wanted.size === 0) {
      throw new CliError(
        `group "${groupId}" has no committed offsets, so --all-topics names no topic; give --topic <topic>`,
      );
    }
  } else {
    for (const [t, p] of plan.topics) wanted.set(t, p);
  }
  const metas = await topicsByName(client, [...wanted.keys()]);
  const results: { topic: string; partition: number; offset: bigint }[] = [];
  for (const [name, parts] of [...wanted].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const meta = metas.get(name);
    if (!meta) {
      throw new CliError(`topic "${name}" does not exist; list the topics with \`kch topics list\``);
    }
    const count = meta.partitions.length;
    const partitions = [...new Set(parts ?? meta.partitions.map((p) => p.partition))].sort((a, b) => a - b);
    for (const p of partitions) {
      if (p >= count)
        throw new CliError(`topic "${name}" has no partition ${p}: it has ${count} (0-${count - 1})`);
    }
    const earliest = await listOffsets(client, meta, partitions, EARLIEST_TIMESTAMP);
    const latest = await listOffsets(client, meta, partitions, LATEST_TIMESTAMP);
    const byTime =
      plan.target.kind === 'datetime'
        ? await listOffsets(client, meta, partitions, plan.target.timestamp)
        : null;
    for (const p of partitions) {
      const low = earliest.get(p)!.offset;
      const high = latest.get(p)!.offset;
      let offset: bigint;
      switch (plan.target.kind) {
        case 'earliest':
          offset = low;
          break;
        case 'latest':
          offset = high;
          break;
        case 'offset':
          offset = plan.target.offset;
          break;
        case 'datetime': {
          const found = byTime!.get(p)!.offset;
          offset = found >= 0n ? found : high;
          break;
        }
        case 'shift': {
          const current = committed.find((c) => c.topic === name && c.partition === p);
          if (!current) {
            throw new CliError(
              `group "${groupId}" has no committed offset for ${name}-${p} to shift; use --to-earliest, --to-latest or --to-offset for it`,
            );
          }
          offset = current.offset + plan.target.by;
          break;
        }
      }
      // As Kafka: an offset outside the log is moved to its nearest end, with a warning.
      if (offset < low) {
        io.stderr.write(
          `New offset (${offset}) is lower than earliest offset for topic partition ${name}-${p}. Value will be set to ${low}\n`,
        );
        offset = low;
      } else if (offset > high) {
        io.stderr.write(
          `New offset (${offset}) is higher than latest offset for topic partition ${name}-${p}. Value will be set to ${high}\n`,
        );
        offset = high;
      }
      results.push({ topic: name, partition: p, offset });
    }
  }
  if (plan.execute) await commitOffsets(client, groupId, results);
  if (values.json) {
    await write(
      io.stdout,
      toJson({
        group: groupId,
        executed: plan.execute,
        offsets: results.map((r) => ({ topic: r.topic, partition: r.partition, newOffset: r.offset })),
      }),
    );
  } else {
    await write(
      io.stdout,
      table(
        ['GROUP', 'TOPIC', 'PARTITION', 'NEW-OFFSET'],
        results.map((r) => [groupId, r.topic, String(r.partition), String(r.offset)]),
      ),
    );
  }
  if (!plan.execute) {
    io.stderr.write('Dry run: no offsets were changed. Run again with --execute to commit these offsets.\n');
  }
  return ExitCode.OK;
}
