/**
 * ACL bindings and binding filters as Kafka checks and matches them: which bindings CreateAcls may store
 * (AclApis and the controller's AclControlManager.validateNewAcl), which filters DeleteAcls takes
 * (AclControlManager.validateFilter), and which bindings a filter selects (AclBindingFilter.matches:
 * ResourcePatternFilter and AccessControlEntryFilter).
 */
import type { DescribeAclsRequest } from '@kch/protocol';
import type { AclBinding } from '@kch/storage';
import {
  AclOperation,
  AclPermissionType,
  CLUSTER_NAME,
  knownOperation,
  knownPatternType,
  knownPermissionType,
  knownResourceType,
  operationName,
  PatternType,
  patternTypeName,
  permissionTypeName,
  ResourceType,
  resourceTypeName,
  WILDCARD_RESOURCE,
} from './acl-codes.js';

export type { AclBinding };

/** Kafka's AclBindingFilter: null strings and ANY codes match everything; MATCH matches as an authorizer would. */
export interface AclBindingFilter {
  readonly resourceType: number;
  readonly resourceName: string | null;
  readonly patternType: number;
  readonly principal: string | null;
  readonly host: string | null;
  readonly operation: number;
  readonly permissionType: number;
}

/** The filter that selects every binding. */
export const ANY_BINDING: AclBindingFilter = {
  resourceType: ResourceType.ANY,
  resourceName: null,
  patternType: PatternType.ANY,
  principal: null,
  host: null,
  operation: AclOperation.ANY,
  permissionType: AclPermissionType.ANY,
};

/** A filter as DescribeAcls carries it on the wire, and each filter of DeleteAcls in the same shape. */
export function filterFromWire(f: DescribeAclsRequest): AclBindingFilter {
  return {
    resourceType: f.resourceTypeFilter,
    resourceName: f.resourceNameFilter,
    patternType: f.patternTypeFilter,
    principal: f.principalFilter,
    host: f.hostFilter,
    operation: f.operation,
    permissionType: f.permissionType,
  };
}

/**
 * Whether Kafka could not parse a request carrying these codes: CreateAclsRequest, DescribeAclsRequest
 * and DeleteAclsRequest refuse the UNKNOWN code (0) in any of them while parsing.
 */
export function hasUnknownElements(
  entries: readonly {
    resourceType: number;
    patternType: number;
    operation: number;
    permissionType: number;
  }[],
): boolean {
  return entries.some(
    (e) =>
      e.resourceType === ResourceType.UNKNOWN ||
      e.patternType === PatternType.UNKNOWN ||
      e.operation === AclOperation.UNKNOWN ||
      e.permissionType === AclPermissionType.UNKNOWN,
  );
}

/**
 * What Kafka's ResourcePattern and AccessControlEntry constructors refuse when CreateAcls turns each
 * creation into a binding (an IllegalArgumentException, so the whole request fails), or null.
 */
export function filterOnlyCodes(b: AclBinding): string | null {
  if (b.resourceType === ResourceType.ANY) return 'resourceType must not be ANY';
  if (b.patternType === PatternType.MATCH || b.patternType === PatternType.ANY)
    return `patternType must not be ${patternTypeName(b.patternType)}`;
  if (b.operation === AclOperation.ANY) return 'operation must not be ANY';
  if (b.permissionType === AclPermissionType.ANY) return 'permissionType must not be ANY';
  return null;
}

/**
 * Why one binding of CreateAcls is refused (answered with INVALID_REQUEST for that binding alone), or
 * null: the broker's checks (AclApis: the cluster's one name, no empty name), then the controller's
 * (validateNewAcl: every code one Kafka defines and may store), then the principal's form.
 */
export function invalidBinding(b: AclBinding): string | null {
  if (b.resourceType === ResourceType.CLUSTER && b.resourceName !== CLUSTER_NAME)
    return `The only valid name for the CLUSTER resource is ${CLUSTER_NAME}`;
  if (b.resourceName === '') return 'Invalid empty resource name';
  const resourceType = knownResourceType(b.resourceType);
  if (resourceType === ResourceType.UNKNOWN || resourceType === ResourceType.ANY)
    return `Invalid resourceType ${resourceTypeName(resourceType)}`;
  const patternType = knownPatternType(b.patternType);
  if (patternType !== PatternType.LITERAL && patternType !== PatternType.PREFIXED)
    return `Invalid patternType ${patternTypeName(patternType)}`;
  const operation = knownOperation(b.operation);
  if (operation === AclOperation.UNKNOWN || operation === AclOperation.ANY)
    return `Invalid operation ${operationName(operation)}`;
  const permissionType = knownPermissionType(b.permissionType);
  if (permissionType !== AclPermissionType.DENY && permissionType !== AclPermissionType.ALLOW)
    return `Invalid permissionType ${permissionTypeName(permissionType)}`;
  // Kafka's StandardAuthorizer stores a principal without a colon and then fails every authorization
  // that reaches it (StandardAcl.kafkaPrincipal throws); kch refuses it here instead, with the message
  // of Kafka's own principal parser (SecurityUtils.parseKafkaPrincipal).
  if (!b.principal.includes(':'))
    return `expected a string in format principalType:principalName but got ${b.principal}`;
  return null;
}

/** Why DeleteAcls refuses a filter (AclControlManager.validateFilter), or null. */
export function invalidFilter(f: AclBindingFilter): string | null {
  if (knownResourceType(f.resourceType) === ResourceType.UNKNOWN || knownPatternType(f.patternType) === 0)
    return 'Unknown patternFilter.';
  if (knownOperation(f.operation) === AclOperation.UNKNOWN || knownPermissionType(f.permissionType) === 0)
    return 'Unknown entryFilter.';
  return null;
}

/** AclBindingFilter.matches: the resource pattern filter and the entry filter both match. */
export function filterMatches(f: AclBindingFilter, b: AclBinding): boolean {
  return patternFilterMatches(f, b) && entryFilterMatches(f, b);
}

/** ResourcePatternFilter.matches, for a filter whose codes Kafka reads with fromCode. */
function patternFilterMatches(f: AclBindingFilter, b: AclBinding): boolean {
  const resourceType = knownResourceType(f.resourceType);
  const patternType = knownPatternType(f.patternType);
  if (resourceType !== ResourceType.ANY && resourceType !== b.resourceType) return false;
  if (patternType !== PatternType.ANY && patternType !== PatternType.MATCH && patternType !== b.patternType)
    return false;
  if (f.resourceName === null) return true;
  if (patternType === PatternType.ANY || patternType === b.patternType)
    return f.resourceName === b.resourceName;
  // MATCH: the bindings an authorizer would apply to a resource of that name.
  switch (b.patternType) {
    case PatternType.LITERAL:
      return f.resourceName === b.resourceName || b.resourceName === WILDCARD_RESOURCE;
    case PatternType.PREFIXED:
      return f.resourceName.startsWith(b.resourceName);
    default:
      return false;
  }
}

/** AccessControlEntryFilter.matches. */
function entryFilterMatches(f: AclBindingFilter, b: AclBinding): boolean {
  if (f.principal !== null && f.principal !== b.principal) return false;
  if (f.host !== null && f.host !== b.host) return false;
  const operation = knownOperation(f.operation);
  if (operation !== AclOperation.ANY && operation !== b.operation) return false;
  const permissionType = knownPermissionType(f.permissionType);
  return permissionType === AclPermissionType.ANY || permissionType === b.permissionType;
}
