/**
 * Authorization as handlers ask for it, in the words of Kafka's AuthHelper: may this request's
 * principal, from its host, do this to that resource? Without an authorizer every answer is yes and
 * authorized-operations fields list every operation, as in Kafka.
 */
import { isIPv6 } from 'node:net';
import { apiByKey, ErrorCode } from '@kch/protocol';
import type { RequestContext } from '../handler.js';
import {
  type AclOperation,
  CLUSTER_NAME,
  operationName,
  operationsBitField,
  ResourceType,
  resourceTypeName,
  supportedOperations,
} from './acl-codes.js';
import type { Requester } from './authorizer.js';

/** Whether the request may perform `operation` on the resource (AuthHelper.authorize). */
export function allowed(ctx: RequestContext, operation: number, resourceType: number, name: string): boolean {
  const authorizer = ctx.broker.security.authorizer;
  if (!authorizer) return true;
  const who = requesterOf(ctx);
  if (authorizer.authorize(who, operation, resourceType, name)) return true;
  // Kafka's audit log says who was refused what; kch logs it at debug, as a refused client retries.
  ctx.broker.logger.debug('not authorized', {
    principal: who.principal,
    host: who.host,
    operation: operationName(operation),
    resource: `${resourceTypeName(resourceType)}:${name}`,
    clientId: ctx.header.clientId,
  });
  return false;
}

/** The names among `names` the request may perform `operation` on, each asked once (filterByAuthorized). */
export function allowedNames(
  ctx: RequestContext,
  operation: number,
  resourceType: number,
  names: Iterable<string>,
): Set<string> {
  const out = new Set<string>();
  const asked = new Set<string>();
  for (const name of names) {
    if (asked.has(name)) continue;
    asked.add(name);
    if (allowed(ctx, operation, resourceType, name)) out.add(name);
  }
  return out;
}

/** Whether the request may perform `operation` on some resource of the type (authorizeByResourceType). */
export function allowedOnSomeResource(ctx: RequestContext, operation: number, resourceType: number): boolean {
  const authorizer = ctx.broker.security.authorizer;
  return !authorizer || authorizer.authorizeByResourceType(requesterOf(ctx), operation, resourceType);
}

/**
 * The bit field of operations the request may perform on the resource (AuthHelper.authorizedOperations):
 * every operation of the resource type without an authorizer.
 */
export function authorizedOperations(ctx: RequestContext, resourceType: number, name: string): number {
  const authorizer = ctx.broker.security.authorizer;
  if (!authorizer) return operationsBitField(supportedOperations(resourceType));
  return authorizer.authorizedOperations(requesterOf(ctx), resourceType, name);
}

/**
 * Why CreateAcls, DescribeAcls or DeleteAcls is refused as a whole, in Kafka's order, or null: a request
 * Kafka cannot parse (an UNKNOWN code, `unparsable`: Kafka closes the connection, kch answers the
 * InvalidRequestException it would have thrown), then `operation` on the cluster (Alter to change ACLs,
 * Describe to list them), then no authorizer (SECURITY_DISABLED with `disabledMessage`).
 */
export function aclRequestRefusal(
  ctx: RequestContext,
  unparsable: string | null,
  operation: typeof AclOperation.ALTER | typeof AclOperation.DESCRIBE,
  disabledMessage: string,
): { errorCode: number; errorMessage: string } | null {
  if (unparsable) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: unparsable };
  if (!allowed(ctx, operation, ResourceType.CLUSTER, CLUSTER_NAME)) {
    const api = apiByKey(ctx.header.requestApiKey)?.name ?? 'request';
    return {
      errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
      errorMessage: `Request ${api} is not authorized.`,
    };
  }
  if (!ctx.broker.security.authorizer)
    return { errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: disabledMessage };
  return null;
}

/** The request's principal and its client's address, as ACLs name them. */
export function requesterOf(ctx: RequestContext): Requester {
  return { principal: ctx.connection.principal, host: javaHostAddress(ctx.connection.remoteAddress) };
}

const hostAddresses = new Map<string, string>();

/**
 * A client address as Java's InetAddress.getHostAddress writes it, which is what Kafka compares an
 * ACL's host with: an IPv4-mapped IPv6 address (Node's `::ffff:10.0.0.1` on a dual-stack socket) is the
 * IPv4 address, and an IPv6 address has all eight groups, without leading zeros and uncompressed
 * (`::1` is `0:0:0:0:0:0:0:1`), its zone kept.
 */
export function javaHostAddress(address: string): string {
  const known = hostAddresses.get(address);
  if (known !== undefined) return known;
  const converted = toJavaHostAddress(address);
  // Bounded: a broker sees few client addresses, but nothing says how many.
  if (hostAddresses.size >= 4096) hostAddresses.clear();
  hostAddresses.set(address, converted);
  return converted;
}

function toJavaHostAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const zoneAt = address.indexOf('%');
  const ip = zoneAt < 0 ? address : address.slice(0, zoneAt);
  const zone = zoneAt < 0 ? '' : address.slice(zoneAt);
  if (!isIPv6(ip)) return address;
  let head = ip;
  // A trailing dotted IPv4 part (`::1.2.3.4`) is two groups.
  const dotted = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(head);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(2).map(Number) as [number, number, number, number];
    head = `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const leftGroups = left ? left.split(':') : [];
  const rightGroups = right ? right.split(':') : [];
  const zeros = right === undefined ? 0 : 8 - leftGroups.length - rightGroups.length;
  const groups = [...leftGroups, ...Array<string>(zeros).fill('0'), ...rightGroups];
  return groups.map((g) => Number.parseInt(g, 16).toString(16)).join(':') + zone;
}
