/**
 * What `kch acls` options mean, as kafka-acls.sh (Kafka's AclCommand) reads them: the resource
 * pattern filters (--topic, --group, --cluster, --transactional-id, with --resource-pattern-type), the
 * access control entries (each --allow-principal and --deny-principal with each of its hosts and each
 * --operation), the --producer and --consumer conveniences and the checks between options, with
 * Kafka's messages. The codes and names are the broker's own (@kch/broker's acl-codes), so `kch acls`
 * reads and writes what the broker and kafka-acls.sh do.
 */
import {
  AclOperation,
  AclPermissionType,
  CLUSTER_NAME,
  operationName,
  PatternType,
  parseOperation,
  parsePatternType,
  pascalCase,
  ResourceType,
  resourceTypeName,
  supportedOperations,
  WILDCARD_HOST,
} from '@kch/broker';
import { UsageError } from './errors.js';

/** A resource pattern, or a filter of them (a null name matches any name). */
export interface ResourcePatternFilter {
  resourceType: number;
  resourceName: string | null;
  patternType: number;
}

/** An access control entry, or a filter of them (null matches anything). */
export interface AccessControlEntry {
  principal: string | null;
  host: string | null;
  operation: number;
  permissionType: number;
}

/** The options of `kch acls` this module reads (parseArgs values). */
export interface AclValues {
  topic?: string[];
  group?: string[];
  cluster?: boolean;
  'transactional-id'?: string[];
  'resource-pattern-type'?: string;
  operation?: string[];
  'allow-principal'?: string[];
  'deny-principal'?: string[];
  'allow-host'?: string[];
  'deny-host'?: string[];
  producer?: boolean;
  consumer?: boolean;
  idempotent?: boolean;
  principal?: string[];
}

/** Filters with the entries that go with each, in the order they were first named. */
export type FilterToEntries = Map<string, { filter: ResourcePatternFilter; entries: AccessControlEntry[] }>;

const CLUSTER_FILTER: ResourcePatternFilter = {
  resourceType: ResourceType.CLUSTER,
  resourceName: CLUSTER_NAME,
  patternType: PatternType.LITERAL,
};

export function filterKey(f: ResourcePatternFilter): string {
  return `${f.resourceType}\0${f.resourceName ?? ''}\0${f.patternType}`;
}

function entryKey(e: AccessControlEntry): string {
  return `${e.principal}\0${e.host}\0${e.operation}\0${e.permissionType}`;
}

/** The --resource-pattern-type (LITERAL by default), as Kafka's PatternTypeConverter takes it. */
export function patternTypeOf(values: AclValues): number {
  const given = values['resource-pattern-type'];
  if (given === undefined) return PatternType.LITERAL;
  const type = parsePatternType(given.trim());
  if (type === PatternType.UNKNOWN)
    throw new UsageError(`Unknown resource-pattern-type: ${given} (use literal, prefixed, any or match)`);
  return type;
}

/** SecurityUtils.parseKafkaPrincipal: `<type>:<name>`, split at the first colon. */
export function parsePrincipal(text: string): string {
  const s = text.trim();
  const at = s.indexOf(':');
  if (at < 0) throw new UsageError(`expected a string in format principalType:principalName but got ${s}`);
  return s;
}

/** The resource filters the options name (AclCommand.getResourceFilter). */
export function resourceFilters(values: AclValues, dieIfNone: boolean): ResourcePatternFilter[] {
  const patternType = patternTypeOf(values);
  const out: ResourcePatternFilter[] = [];
  const add = (f: ResourcePatternFilter) => {
    if (!out.some((o) => filterKey(o) === filterKey(f))) out.push(f);
  };
  for (const t of values.topic ?? [])
    add({ resourceType: ResourceType.TOPIC, resourceName: t.trim(), patternType });
  // The cluster has one name: only a LITERAL pattern names it (Kafka leaves it out otherwise).
  if (patternType === PatternType.LITERAL && (values.cluster || values.idempotent)) add(CLUSTER_FILTER);
  for (const g of values.group ?? [])
    add({ resourceType: ResourceType.GROUP, resourceName: g.trim(), patternType });
  // Kafka does not trim transactional ids.
  for (const id of values['transactional-id'] ?? [])
    add({ resourceType: ResourceType.TRANSACTIONAL_ID, resourceName: id, patternType });
  if (out.length === 0 && dieIfNone)
    throw new UsageError(
      'You must provide at least one resource: --topic <topic> or --cluster or --group <group> or --transactional-id <id>',
    );
  return out;
}

/** Every principal × host × operation of the allow and deny options (AclCommand.getAcl). */
function entriesFor(values: AclValues, operations: readonly number[]): AccessControlEntry[] {
  const out = new Map<string, AccessControlEntry>();
  const side = (principals: string[] | undefined, hosts: string[] | undefined, permissionType: number) => {
    if (!principals || principals.length === 0) return;
    // A principal without hosts is allowed or denied from every host.
    const from = hosts && hosts.length > 0 ? hosts.map((h) => h.trim()) : [WILDCARD_HOST];
    for (const p of principals.map(parsePrincipal))
      for (const operation of operations)
        for (const host of from) {
          const e = { principal: p, host, operation, permissionType };
          out.set(entryKey(e), e);
        }
  };
  side(values['allow-principal'], values['allow-host'], AclPermissionType.ALLOW);
  side(values['deny-principal'], values['deny-host'], AclPermissionType.DENY);
  return [...out.values()];
}

/** The operation names of --operation (All by default), each known to Kafka. */
function operationsOf(values: AclValues): number[] {
  const names = values.operation ?? ['All'];
  return [
    ...new Set(
      names.map((name) => {
        const op = parseOperation(name.trim());
        if (op === AclOperation.UNKNOWN)
          throw new UsageError(
            `unknown operation ${JSON.stringify(name)}: use ${OPERATION_NAMES.map(pascalCase).join(', ')}`,
          );
        return op;
      }),
    ),
  ];
}

/** The operations --operation may name (Kafka's AclEntry.ACL_OPERATIONS: all but UNKNOWN and ANY). */
const OPERATION_NAMES = Object.entries(AclOperation)
  .filter(([, code]) => code !== AclOperation.UNKNOWN && code !== AclOperation.ANY)
  .map(([name]) => name);

/**
 * Each resource filter with its entries (AclCommand.getResourceFilterToAcls): from --operation, or
 * what --producer (Write, Describe, Create on topics; Write, Describe on transactional ids;
 * IdempotentWrite on the cluster with --idempotent) and --consumer (Read, Describe on topics; Read on
 * groups) expand to; then every entry's operation checked against its resource type.
 */
export function filterToEntries(values: AclValues): FilterToEntries {
  const out: FilterToEntries = new Map();
  const put = (filter: ResourcePatternFilter, entries: AccessControlEntry[]) => {
    const key = filterKey(filter);
    const known = out.get(key);
    if (!known) out.set(key, { filter, entries: [...entries] });
    else
      for (const e of entries)
        if (!known.entries.some((k) => entryKey(k) === entryKey(e))) known.entries.push(e);
  };
  const filters = resourceFilters(values, true);
  if (!values.producer && !values.consumer) {
    const entries = entriesFor(values, operationsOf(values));
    for (const f of filters) put(f, entries);
  }
  const { READ, WRITE, CREATE, DESCRIBE, IDEMPOTENT_WRITE } = AclOperation;
  const of = (type: number) => filters.filter((f) => f.resourceType === type);
  if (values.producer) {
    for (const f of of(ResourceType.TOPIC)) put(f, entriesFor(values, [WRITE, DESCRIBE, CREATE]));
    for (const f of of(ResourceType.TRANSACTIONAL_ID)) put(f, entriesFor(values, [WRITE, DESCRIBE]));
    if (values.idempotent) put(CLUSTER_FILTER, entriesFor(values, [IDEMPOTENT_WRITE]));
  }
  if (values.consumer) {
    for (const f of of(ResourceType.TOPIC)) put(f, entriesFor(values, [READ, DESCRIBE]));
    for (const f of of(ResourceType.GROUP)) put(f, entriesFor(values, [READ]));
  }
  for (const { filter, entries } of out.values()) {
    const valid = [...supportedOperations(filter.resourceType), AclOperation.ALL];
    if (entries.some((e) => !valid.includes(e.operation)))
      throw new UsageError(
        `ResourceType ${resourceTypeName(filter.resourceType)} only supports operations ${valid.map(operationName).join(', ')}`,
      );
  }
  return out;
}

/** AclCommandOptions.checkArgs, for `kch acls <sub>` (add, list, remove). */
export function checkAclOptions(sub: 'add' | 'list' | 'remove', values: AclValues): void {
  const given = (name: keyof AclValues) => values[name] !== undefined;
  const refuse = (names: (keyof AclValues)[], with_: string) => {
    const found = names.find(given);
    if (found) throw new UsageError(`--${found} cannot be used with ${with_}`);
  };
  if (sub === 'list')
    refuse(
      ['producer', 'consumer', 'allow-host', 'allow-principal', 'deny-host', 'deny-principal', 'operation'],
      '"acls list" (--principal and the resource options select what is listed)',
    );
  if (values.producer) refuse(['operation', 'deny-principal', 'deny-host'], '--producer');
  if (values.consumer) refuse(['operation', 'deny-principal', 'deny-host'], '--consumer');
  if (given('principal') && sub !== 'list')
    throw new UsageError('The --principal option is only available with "acls list"');
  if (values.producer && !given('topic')) throw new UsageError('With --producer you must specify a --topic');
  if (values.idempotent && !values.producer)
    throw new UsageError('The --idempotent option is only available if --producer is set');
  if (
    values.consumer &&
    (!given('topic') ||
      !given('group') ||
      (!values.producer && (values.cluster || given('transactional-id'))))
  )
    throw new UsageError(
      'With --consumer you must specify a --topic and a --group and no --cluster or --transactional-id option should be specified.',
    );
  if (sub === 'add') {
    const type = patternTypeOf(values);
    if (type !== PatternType.LITERAL && type !== PatternType.PREFIXED)
      throw new UsageError(
        `A '--resource-pattern-type' value of '${type === PatternType.ANY ? 'ANY' : 'MATCH'}' is not valid when adding acls.`,
      );
  }
}
