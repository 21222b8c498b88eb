/**
 * Kafka's ACL vocabulary as it travels on the wire (CreateAcls, DescribeAcls, DeleteAcls and the stored
 * AclBinding carry the codes): resource types, pattern types, operations and permission types, with the
 * names Kafka prints and parses (AclOperation, ResourceType, PatternType, AclPermissionType and
 * SecurityUtils). The broker and `kch acls` share these, so both read and write what kafka-acls.sh does.
 */

/** org.apache.kafka.common.resource.ResourceType codes. */
export const ResourceType = {
  UNKNOWN: 0,
  ANY: 1,
  TOPIC: 2,
  GROUP: 3,
  CLUSTER: 4,
  TRANSACTIONAL_ID: 5,
  DELEGATION_TOKEN: 6,
  USER: 7,
} as const;

/** org.apache.kafka.common.resource.PatternType codes. */
export const PatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;

/** org.apache.kafka.common.acl.AclOperation codes. */
export const AclOperation = {
  UNKNOWN: 0,
  ANY: 1,
  ALL: 2,
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
  CREATE_TOKENS: 13,
  DESCRIBE_TOKENS: 14,
} as const;

/** org.apache.kafka.common.acl.AclPermissionType codes. */
export const AclPermissionType = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const;

/** The one name a CLUSTER resource has (Resource.CLUSTER_NAME). */
export const CLUSTER_NAME = 'kafka-cluster';
/** A LITERAL resource name that matches every name of its type (ResourcePattern.WILDCARD_RESOURCE). */
export const WILDCARD_RESOURCE = '*';
/** The ACL host that matches every client address. */
export const WILDCARD_HOST = '*';
/** The ACL principal that matches every principal (only of type User, as in Kafka). */
export const WILDCARD_PRINCIPAL = 'User:*';

type CodeTable = Readonly<Record<string, number>>;

/** Each code's enum name, the way Kafka's toString prints it (`DESCRIBE_CONFIGS`). */
function namesByCode(table: CodeTable): ReadonlyMap<number, string> {
  return new Map(Object.entries(table).map(([name, code]) => [code, name]));
}

const RESOURCE_TYPE_NAMES = namesByCode(ResourceType);
const PATTERN_TYPE_NAMES = namesByCode(PatternType);
const OPERATION_NAMES = namesByCode(AclOperation);
const PERMISSION_TYPE_NAMES = namesByCode(AclPermissionType);

/**
 * The enum name of a code, as Kafka's AccessControlEntry and ResourcePattern print them (and so
 * kafka-acls.sh's listing): `TOPIC`, `PREFIXED`, `DESCRIBE_CONFIGS`, `ALLOW`. A code Kafka does not
 * define is UNKNOWN, as its fromCode makes it.
 */
export const resourceTypeName = (code: number): string => RESOURCE_TYPE_NAMES.get(code) ?? 'UNKNOWN';
export const patternTypeName = (code: number): string => PATTERN_TYPE_NAMES.get(code) ?? 'UNKNOWN';
export const operationName = (code: number): string => OPERATION_NAMES.get(code) ?? 'UNKNOWN';
export const permissionTypeName = (code: number): string => PERMISSION_TYPE_NAMES.get(code) ?? 'UNKNOWN';

/** The code a wire value stands for: Kafka's fromCode, UNKNOWN for any code it does not define. */
export const knownResourceType = (code: number): number => (RESOURCE_TYPE_NAMES.has(code) ? code : 0);
export const knownPatternType = (code: number): number => (PATTERN_TYPE_NAMES.has(code) ? code : 0);
export const knownOperation = (code: number): number => (OPERATION_NAMES.has(code) ? code : 0);
export const knownPermissionType = (code: number): number => (PERMISSION_TYPE_NAMES.has(code) ? code : 0);

/** SecurityUtils.toPascalCase: `DESCRIBE_CONFIGS` → `DescribeConfigs`, the form kafka-acls.sh takes. */
export function pascalCase(enumName: string): string {
  return enumName
    .toLowerCase()
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/**
 * Looks a name up as SecurityUtils.valueFromMap does: the Pascal-case name (`DescribeConfigs`) or its
 * upper case (`DESCRIBECONFIGS`, so any case without underscores); anything else is UNKNOWN (0).
 */
function parseName(table: CodeTable, name: string): number {
  const upper = name.toUpperCase();
  for (const [enumName, code] of Object.entries(table)) {
    const pascal = pascalCase(enumName);
    if (name === pascal || upper === pascal.toUpperCase()) return code;
  }
  return 0;
}

/** SecurityUtils.resourceType: `Topic`, `TransactionalId`, `topic` → the code; else UNKNOWN. */
export const parseResourceType = (name: string): number => parseName(ResourceType, name);
/** SecurityUtils.operation: `Read`, `DescribeConfigs`, `describeconfigs` → the code; else UNKNOWN. */
export const parseOperation = (name: string): number => parseName(AclOperation, name);
/** SecurityUtils.permissionType: `Allow`, `DENY` → the code; else UNKNOWN. */
export const parsePermissionType = (name: string): number => parseName(AclPermissionType, name);
/**
 * kafka-acls.sh's --resource-pattern-type: PatternType.fromString of the upper-cased value (`literal`,
 * `PREFIXED`, `match`, `any`); else UNKNOWN.
 */
export function parsePatternType(name: string): number {
  return (PatternType as CodeTable)[name.toUpperCase()] ?? 0;
}

const TOPIC_OPERATIONS = [
  AclOperation.READ,
  AclOperation.WRITE,
  AclOperation.CREATE,
  AclOperation.DESCRIBE,
  AclOperation.DELETE,
  AclOperation.ALTER,
  AclOperation.DESCRIBE_CONFIGS,
  AclOperation.ALTER_CONFIGS,
];

/**
 * The operations each resource type has (AclEntry.supportedOperations): what authorized-operations
 * fields report and what kafka-acls.sh accepts besides ALL. Groups have DescribeConfigs and
 * AlterConfigs since Kafka 3.8 (group configs, KIP-848), which Kafka lists for every group.
 */
export function supportedOperations(resourceType: number): readonly number[] {
  switch (resourceType) {
    case ResourceType.TOPIC:
      return TOPIC_OPERATIONS;
    case ResourceType.GROUP:
      return [
        AclOperation.READ,
        AclOperation.DESCRIBE,
        AclOperation.DELETE,
        AclOperation.DESCRIBE_CONFIGS,
        AclOperation.ALTER_CONFIGS,
      ];
    case ResourceType.CLUSTER:
      return [
        AclOperation.CREATE,
        AclOperation.CLUSTER_ACTION,
        AclOperation.DESCRIBE_CONFIGS,
        AclOperation.ALTER_CONFIGS,
        AclOperation.IDEMPOTENT_WRITE,
        AclOperation.ALTER,
        AclOperation.DESCRIBE,
      ];
    case ResourceType.TRANSACTIONAL_ID:
      return [AclOperation.DESCRIBE, AclOperation.WRITE];
    case ResourceType.DELEGATION_TOKEN:
      return [AclOperation.DESCRIBE];
    case ResourceType.USER:
      return [AclOperation.CREATE_TOKENS, AclOperation.DESCRIBE_TOKENS];
    default:
      throw new RangeError(`Not a concrete resource type: ${resourceType}`);
  }
}

/** Kafka's Utils.to32BitField: one bit per operation code, as authorized-operations fields carry them. */
export function operationsBitField(operations: Iterable<number>): number {
  let bits = 0;
  for (const op of operations) bits |= 1 << op;
  return bits;
}

/** What AccessControlEntry.toString prints: `(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)`. */
export function formatAccessControlEntry(e: {
  principal: string | null;
  host: string | null;
  operation: number;
  permissionType: number;
}): string {
  return `(principal=${e.principal ?? '<any>'}, host=${e.host ?? '<any>'}, operation=${operationName(e.operation)}, permissionType=${permissionTypeName(e.permissionType)})`;
}

/** What ResourcePattern.toString prints: `ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL)`. */
export function formatResourcePattern(p: {
  resourceType: number;
  resourceName: string | null;
  patternType: number;
}): string {
  return `ResourcePattern(resourceType=${resourceTypeName(p.resourceType)}, name=${p.resourceName ?? '<any>'}, patternType=${patternTypeName(p.patternType)})`;
}
