/**
 * `kch acls add | list | remove`: ACLs as kafka-acls.sh manages them (CreateAcls, DescribeAcls,
 * DeleteAcls), with its options (./client/acl-options.ts) and its output: bindings printed as Kafka's
 * ResourcePattern and AccessControlEntry print them. Where kafka-acls.sh asks for confirmation, kch
 * does what it does with --force, and prints what it removed.
 */
import {
  AclOperation,
  AclPermissionType,
  formatAccessControlEntry,
  formatResourcePattern,
  operationName,
  PatternType,
  patternTypeName,
  permissionTypeName,
  ResourceType,
  resourceTypeName,
} from '@kch/broker';
import { ErrorCode } from '@kch/protocol';
import type { Acl, AclFilter } from '@platformatic/kafka';
import {
  type AccessControlEntry,
  checkAclOptions,
  type FilterToEntries,
  filterKey,
  filterToEntries,
  parsePrincipal,
  type ResourcePatternFilter,
  resourceFilters,
} from '../client/acl-options.js';
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
import { UsageError } from '../client/errors.js';
import { type Kafka, withKafka } from '../client/kafka.js';
import { type CliIO, type Command, ExitCode } from '../command.js';

const USAGE = `Usage: kch acls <command> [options]

Adds, lists and removes ACLs, as kafka-acls.sh does (--add, --list, --remove). The broker checks them
when it has an authorizer (authorizer.class.name in its server properties); without one it answers
SECURITY_DISABLED.

Commands:
  add                        adds an ACL for every principal, host and operation given
                             on every resource given
  list                       the ACLs of the resources given (every ACL when none is),
                             by resource
  remove                     removes the ACLs given; without principals, every ACL of
                             the resources given (no question asked, as with --force)

Resources (repeatable; add and remove need one):
  --topic <topic>            a topic; * is every topic
  --group <group>            a consumer group; * is every group
  --cluster                  the cluster (kafka-cluster)
  --transactional-id <id>    a transactional id; * is every one
  --resource-pattern-type <type>
                             literal (the default): the names as given; prefixed: names
                             that begin with them; list and remove also take any (either)
                             and match (every ACL that applies to the names)

Access:
  --allow-principal <type:name>
                             e.g. User:alice, or User:* for everyone (repeatable)
  --deny-principal <type:name>
                             denied, over any allow (repeatable)
  --allow-host <host>, --deny-host <host>
                             the client addresses of those principals (repeatable;
                             default *, every address)
  --operation <operation>    All (the default), Read, Write, Create, Delete, Alter,
                             Describe, ClusterAction, DescribeConfigs, AlterConfigs,
                             IdempotentWrite (repeatable)
  --producer                 a producer's ACLs: Write, Describe, Create on the topics,
                             Write, Describe on the transactional ids
  --idempotent               with --producer: IdempotentWrite on the cluster
  --consumer                 a consumer's ACLs: Read, Describe on the topics, Read on
                             the groups (needs --topic and --group)
  --principal <type:name>    list: only the ACLs of this principal (repeatable)
  --json                     list: JSON output

Options:
${CONNECTION_USAGE}
  -h, --help                 this text

Examples:
  kch acls add --allow-principal User:alice --operation Read --operation Describe --topic orders
  kch acls add --producer --allow-principal User:app --topic orders --idempotent
  kch acls add --consumer --allow-principal User:billing --topic orders --group billing
  kch acls add --allow-principal User:etl --operation All --topic etl. --resource-pattern-type prefixed
  kch acls list --topic orders
  kch acls remove --allow-principal User:alice --operation Read --topic orders
`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  topic: { type: 'string', multiple: true },
  group: { type: 'string', multiple: true },
  cluster: { type: 'boolean' },
  'transactional-id': { type: 'string', multiple: true },
  'resource-pattern-type': { type: 'string' },
  operation: { type: 'string', multiple: true },
  'allow-principal': { type: 'string', multiple: true },
  'deny-principal': { type: 'string', multiple: true },
  'allow-host': { type: 'string', multiple: true },
  'deny-host': { type: 'string', multiple: true },
  producer: { type: 'boolean' },
  consumer: { type: 'boolean' },
  idempotent: { type: 'boolean' },
  principal: { type: 'string', multiple: true },
  json: { type: 'boolean' },
} as const;

/** A stored binding: a resource pattern and an entry, every field concrete. */
type Binding = ResourcePatternFilter & AccessControlEntry & { resourceName: string };

/** What the broker (Kafka's admin API) says when it has no authorizer: where to turn one on. */
function securityDisabledHint(code: number): string | undefined {
  return code === ErrorCode.SECURITY_DISABLED
    ? 'The broker has no authorizer: set authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer in its server properties (kch broker --server-properties, or --override authorizer.class.name=...).'
    : undefined;
}

const acls: Command = {
  name: 'acls',
  usage: USAGE,
  run(args: string[], io: CliIO): Promise<number> {
    return runCommand('acls', USAGE, io, async () => {
      const { values, positionals } = parseCommandArgs(args, OPTIONS);
      if (values.help) {
        await write(io.stdout, USAGE);
        return ExitCode.OK;
      }
      const [given, ...extra] = positionals;
      const sub = subcommandOf(given, ['add', 'list', 'remove']);
      if (extra.length > 0)
        throw new UsageError(
          `unexpected argument "${extra[0]}": resources are given with --topic, --group, ...`,
        );
      if (values.json && sub !== 'list') throw new UsageError(`--json does not apply to "acls ${sub}"`);
      checkAclOptions(sub, values);
      const target = await connectionFrom('acls', values, io);
      if (sub === 'list') {
        const filters = resourceFilters(values, false);
        const principals = (values.principal ?? []).map(parsePrincipal);
        return withKafka(target, (kafka) => list(kafka, io, filters, principals, values.json === true));
      }
      const toEntries = filterToEntries(values);
      if (sub === 'add') {
        if ([...toEntries.values()].some((f) => f.entries.length === 0))
          throw new UsageError(
            'You must specify one of: --allow-principal, --deny-principal when trying to add ACLs.',
          );
        return withKafka(target, (kafka) => add(kafka, io, toEntries));
      }
      return withKafka(target, (kafka) => remove(kafka, io, toEntries));
    });
  },
};

export default acls;

const ANY_ENTRY: AccessControlEntry = {
  principal: null,
  host: null,
  operation: AclOperation.ANY,
  permissionType: AclPermissionType.ANY,
};

function libraryFilter(f: ResourcePatternFilter, e: AccessControlEntry): AclFilter {
  return {
    resourceType: f.resourceType as AclFilter['resourceType'],
    resourceName: f.resourceName,
    resourcePatternType: f.patternType as AclFilter['resourcePatternType'],
    principal: e.principal,
    host: e.host,
    operation: e.operation as AclFilter['operation'],
    permissionType: e.permissionType as AclFilter['permissionType'],
  };
}

function bindingOf(acl: Acl): Binding {
  return {
    resourceType: acl.resourceType,
    resourceName: acl.resourceName,
    patternType: acl.resourcePatternType,
    principal: acl.principal,
    host: acl.host,
    operation: acl.operation,
    permissionType: acl.permissionType,
  };
}

async function describe(kafka: Kafka, filter: ResourcePatternFilter): Promise<Binding[]> {
  const resources = await kafka.call(
    'listing ACLs',
    () => kafka.admin.describeAcls({ filter: libraryFilter(filter, ANY_ENTRY) }),
    securityDisabledHint,
  );
  return resources.flatMap((r) =>
    r.acls.map((a) =>
      bindingOf({
        resourceType: r.resourceType,
        resourceName: r.resourceName,
        resourcePatternType: r.resourcePatternType,
        ...a,
      }),
    ),
  );
}

/** Bindings by resource, both in a stable order (Kafka's own is a hash map's). */
function byResource(bindings: readonly Binding[]): { pattern: Binding; entries: Binding[] }[] {
  const groups = new Map<string, { pattern: Binding; entries: Binding[] }>();
  for (const b of bindings) {
    const key = filterKey(b);
    const g = groups.get(key);
    if (g) {
      if (!g.entries.some((e) => sameEntry(e, b))) g.entries.push(b);
    } else groups.set(key, { pattern: b, entries: [b] });
  }
  const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  for (const g of groups.values())
    g.entries.sort(
      (a, b) =>
        compare(a.principal ?? '', b.principal ?? '') ||
        compare(a.host ?? '', b.host ?? '') ||
        a.operation - b.operation ||
        a.permissionType - b.permissionType,
    );
  return [...groups.values()].sort(
    (a, b) =>
      a.pattern.resourceType - b.pattern.resourceType ||
      compare(a.pattern.resourceName, b.pattern.resourceName) ||
      a.pattern.patternType - b.pattern.patternType,
  );
}

function sameEntry(a: AccessControlEntry, b: AccessControlEntry): boolean {
  return (
    a.principal === b.principal &&
    a.host === b.host &&
    a.operation === b.operation &&
    a.permissionType === b.permissionType
  );
}

/** kafka-acls.sh's listing of one resource: a header, then each entry on a line after a tab. */
function resourceBlock(heading: string, group: { pattern: Binding; entries: Binding[] }): string {
  return `${heading} \`${formatResourcePattern(group.pattern)}\`:\n${group.entries.map((e) => `\t${formatAccessControlEntry(e)}`).join('\n')}\n\n`;
}

async function add(kafka: Kafka, io: CliIO, toEntries: FilterToEntries): Promise<number> {
  for (const { filter, entries } of toEntries.values()) {
    const existing = await describe(kafka, filter);
    const pattern = { ...filter, resourceName: filter.resourceName! };
    const fresh: AccessControlEntry[] = [];
    for (const entry of entries) {
      if (existing.some((b) => sameEntry(b, entry)))
        await write(
          io.stdout,
          `Acl (pattern=${formatResourcePattern(pattern)}, entry=${formatAccessControlEntry(entry)}) already exists.\n`,
        );
      else fresh.push(entry);
    }
    if (fresh.length === 0) continue;
    // kafka-acls.sh's text, the space after the colon and before the first tab included.
    await write(
      io.stdout,
      `Adding ACLs for resource \`${formatResourcePattern(pattern)}\`: \n ${fresh.map((e) => `\t${formatAccessControlEntry(e)}`).join('\n')}\n\n`,
    );
    await kafka.call(
      `adding ACLs for ${formatResourcePattern(pattern)}`,
      () => kafka.admin.createAcls({ creations: fresh.map((e) => libraryFilter(pattern, e) as Acl) }),
      securityDisabledHint,
    );
  }
  return ExitCode.OK;
}

async function list(
  kafka: Kafka,
  io: CliIO,
  filters: ResourcePatternFilter[],
  principals: string[],
  json: boolean,
): Promise<number> {
  const any: ResourcePatternFilter = {
    resourceType: ResourceType.ANY,
    resourceName: null,
    patternType: PatternType.ANY,
  };
  const bindings: Binding[] = [];
  for (const f of filters.length > 0 ? filters : [any]) bindings.push(...(await describe(kafka, f)));
  if (json) {
    const shown =
      principals.length > 0 ? bindings.filter((b) => principals.includes(b.principal!)) : bindings;
    await write(
      io.stdout,
      toJson(
        byResource(shown).flatMap((g) =>
          g.entries.map((b) => ({
            resourceType: resourceTypeName(b.resourceType),
            resourceName: b.resourceName,
            patternType: patternTypeName(b.patternType),
            principal: b.principal,
            host: b.host,
            operation: operationName(b.operation),
            permissionType: permissionTypeName(b.permissionType),
          })),
        ),
      ),
    );
    return ExitCode.OK;
  }
  let out = '';
  if (principals.length === 0) {
    for (const g of byResource(bindings)) out += resourceBlock('Current ACLs for resource', g);
  } else {
    for (const p of principals) {
      out += `ACLs for principal \`${p}\`\n`;
      for (const g of byResource(bindings.filter((b) => b.principal === p)))
        out += resourceBlock('Current ACLs for resource', g);
    }
  }
  await write(io.stdout, out);
  return ExitCode.OK;
}

async function remove(kafka: Kafka, io: CliIO, toEntries: FilterToEntries): Promise<number> {
  const filters: AclFilter[] = [];
  for (const { filter, entries } of toEntries.values()) {
    // No principal given: every ACL of the resource filter.
    if (entries.length === 0) filters.push(libraryFilter(filter, ANY_ENTRY));
    else for (const e of entries) filters.push(libraryFilter(filter, e));
  }
  const removed = await kafka.call(
    'removing ACLs',
    () => kafka.admin.deleteAcls({ filters }),
    securityDisabledHint,
  );
  if (removed.length === 0) {
    await write(io.stdout, 'No ACL matched: nothing was removed.\n');
    return ExitCode.OK;
  }
  let out = '';
  for (const g of byResource(removed.map(bindingOf))) out += resourceBlock('Removed ACLs for resource', g);
  await write(io.stdout, out);
  return ExitCode.OK;
}
