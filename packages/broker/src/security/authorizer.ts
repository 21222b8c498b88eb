/**
 * Kafka's ACL authorizer (StandardAuthorizer's semantics, StandardAuthorizerData) over the bindings in
 * the security store, kept in memory: read at start (`load`) and again after each change made through
 * this broker (`createAcls`, `deleteAcls`), so an authorization never waits for storage.
 *
 * A binding applies to a resource when its pattern is LITERAL with the resource's name or the wildcard
 * `*`, or PREFIXED with a prefix of the name (the name itself included). Among the bindings that apply,
 * those of the principal (or `User:*`) and the client's host (or `*`) decide: a matching DENY wins over
 * any ALLOW; without a matching ALLOW the action is denied, except that allow.everyone.if.no.acl.found
 * allows it when no binding at all applies to the resource. Super users are allowed everything.
 */
import type { AclBinding, SecurityStore } from '@kch/storage';
import type { Logger } from '../logger.js';
import { type AclBindingFilter, filterMatches } from './acl-bindings.js';
import {
  AclOperation,
  AclPermissionType,
  PatternType,
  supportedOperations,
  WILDCARD_HOST,
  WILDCARD_PRINCIPAL,
  WILDCARD_RESOURCE,
} from './acl-codes.js';
import type { AuthorizerOptions } from './options.js';

/** Operations an ALLOW binding for them also allows Describe for (StandardAuthorizerData.IMPLIES_DESCRIBE). */
const IMPLIES_DESCRIBE: ReadonlySet<number> = new Set([
  AclOperation.DESCRIBE,
  AclOperation.READ,
  AclOperation.WRITE,
  AclOperation.DELETE,
  AclOperation.ALTER,
]);
/** Operations an ALLOW binding for them also allows DescribeConfigs for (IMPLIES_DESCRIBE_CONFIGS). */
const IMPLIES_DESCRIBE_CONFIGS: ReadonlySet<number> = new Set([
  AclOperation.DESCRIBE_CONFIGS,
  AclOperation.ALTER_CONFIGS,
]);

/** Who asks: the session's principal (`User:alice`) and the client's address as Java prints it. */
export interface Requester {
  readonly principal: string;
  readonly host: string;
}

/** The bindings of one resource type, indexed by how they name resources. */
interface TypeIndex {
  /** LITERAL bindings by name, the wildcard `*` included. */
  readonly literal: Map<string, AclBinding[]>;
  /** PREFIXED bindings by prefix. */
  readonly prefixed: Map<string, AclBinding[]>;
}

/** Kafka's three outcomes of one binding for an action: it does not match, it allows, it denies. */
type Verdict = 'allow' | 'deny' | null;

export class Authorizer {
  private readonly superUsers: ReadonlySet<string>;
  private bindings: readonly AclBinding[] = [];
  private byType = new Map<number, TypeIndex>();
  /** Changes to the stored bindings, one at a time, so the cache is rebuilt in the order they happened. */
  private changes: Promise<unknown> = Promise.resolve();

  constructor(
    readonly options: AuthorizerOptions,
    readonly store: SecurityStore,
    readonly logger: Logger,
  ) {
    this.superUsers = new Set(options.superUsers);
  }

  /** Reads the stored ACLs into the cache; called once before the broker serves, and after each change. */
  async load(): Promise<void> {
    const bindings = await this.store.listAcls();
    const byType = new Map<number, TypeIndex>();
    for (const b of bindings) {
      let index = byType.get(b.resourceType);
      if (!index) {
        index = { literal: new Map(), prefixed: new Map() };
        byType.set(b.resourceType, index);
      }
      const map =
        b.patternType === PatternType.LITERAL
          ? index.literal
          : b.patternType === PatternType.PREFIXED
            ? index.prefixed
            : undefined;
      if (!map) continue; // no other pattern type can be stored: CreateAcls refuses it
      const list = map.get(b.resourceName);
      if (list) list.push(b);
      else map.set(b.resourceName, [b]);
    }
    this.bindings = bindings;
    this.byType = byType;
  }

  /** Whether `who` may perform `operation` on the resource (StandardAuthorizerData.authorize). */
  authorize(who: Requester, operation: number, resourceType: number, resourceName: string): boolean {
    if (this.superUsers.has(who.principal)) return true;
    let applies = false;
    let allowed = false;
    for (const b of this.applicable(resourceType, resourceName)) {
      applies = true;
      const verdict = verdictOf(b, who, operation);
      if (verdict === 'deny') return false;
      if (verdict === 'allow') allowed = true;
    }
    if (allowed) return true;
    return !applies && this.options.allowEveryoneIfNoAclFound;
  }

  /**
   * Whether `who` may perform `operation` on at least one resource of the type, as Kafka's
   * Authorizer.authorizeByResourceType decides it (InitProducerId allows an idempotent producer that
   * may write to some topic): a super user, or a resource of a made-up name allowed (which also covers
   * allow.everyone.if.no.acl.found), or an ALLOW binding no DENY binding covers.
   */
  authorizeByResourceType(who: Requester, operation: number, resourceType: number): boolean {
    if (this.authorize(who, operation, resourceType, 'hardcode')) return true;
    const deniedLiteral = new Set<string>();
    const deniedPrefixes = new Set<string>();
    const allowedLiteral = new Set<string>();
    const allowedPrefixes = new Set<string>();
    let wildcardAllowed = false;
    for (const b of this.bindings) {
      if (b.resourceType !== resourceType) continue;
      if (b.host !== who.host && b.host !== WILDCARD_HOST) continue;
      if (b.principal !== who.principal && b.principal !== WILDCARD_PRINCIPAL) continue;
      if (b.operation !== operation && b.operation !== AclOperation.ALL) continue;
      const literal = b.patternType === PatternType.LITERAL;
      if (!literal && b.patternType !== PatternType.PREFIXED) continue;
      if (b.permissionType === AclPermissionType.DENY) {
        if (literal && b.resourceName === WILDCARD_RESOURCE) return false;
        (literal ? deniedLiteral : deniedPrefixes).add(b.resourceName);
      } else if (b.permissionType === AclPermissionType.ALLOW) {
        // Not decided yet: a wildcard DENY further on still wins.
        if (literal && b.resourceName === WILDCARD_RESOURCE) wildcardAllowed = true;
        else (literal ? allowedLiteral : allowedPrefixes).add(b.resourceName);
      }
    }
    if (wildcardAllowed) return true;
    // An allowed name counts unless a DENY covers it: the same literal name, or a prefix of it.
    const deniedByPrefix = (name: string) => {
      for (let i = 1; i <= name.length; i++) if (deniedPrefixes.has(name.slice(0, i))) return true;
      return false;
    };
    for (const name of allowedLiteral) if (!deniedLiteral.has(name) && !deniedByPrefix(name)) return true;
    for (const prefix of allowedPrefixes) if (!deniedByPrefix(prefix)) return true;
    return false;
  }

  /**
   * The operations of the resource's type `who` may perform on it, as the bit field Metadata,
   * DescribeGroups and DescribeCluster report (AuthHelper.authorizedOperations).
   */
  authorizedOperations(who: Requester, resourceType: number, resourceName: string): number {
    let bits = 0;
    for (const op of supportedOperations(resourceType))
      if (this.authorize(who, op, resourceType, resourceName)) bits |= 1 << op;
    return bits;
  }

  /** The stored bindings the filter selects (StandardAuthorizer.acls), from the cache. */
  acls(filter: AclBindingFilter): AclBinding[] {
    return this.bindings.filter((b) => filterMatches(filter, b));
  }

  /** Stores the bindings (validated by the caller) and takes them into the cache. */
  createAcls(bindings: readonly AclBinding[]): Promise<void> {
    return this.change(async () => {
      if (bindings.length > 0) await this.store.addAcls(bindings);
    });
  }

  /**
   * Deletes every stored binding one of the filters selects, all together (as Kafka's controller does
   * in one atomic batch), and answers, for each filter, the bindings it selected.
   */
  deleteAcls(filters: readonly AclBindingFilter[]): Promise<AclBinding[][]> {
    return this.change(async () => {
      // Selected from the stored bindings, which also holds what another broker over the same store wrote.
      const stored = await this.store.listAcls();
      const matched = filters.map((f) => stored.filter((b) => filterMatches(f, b)));
      const doomed = new Set(matched.flat());
      if (doomed.size > 0) await this.store.deleteAcls([...doomed]);
      return matched;
    });
  }

  /** Runs one change to the stored bindings after the earlier ones, then reloads the cache. */
  private change<T>(apply: () => Promise<T>): Promise<T> {
    const run = this.changes.then(async () => {
      try {
        return await apply();
      } finally {
        // Also after a failed write: part of it may be stored.
        await this.load().catch((e: unknown) =>
          this.logger.error('ACLs could not be read again after a change', { error: e }),
        );
      }
    });
    this.changes = run.catch(() => undefined);
    return run;
  }

  /** The bindings that apply to a resource: LITERAL of its name or `*`, PREFIXED of a prefix of it. */
  private *applicable(resourceType: number, resourceName: string): Generator<AclBinding> {
    const index = this.byType.get(resourceType);
    if (!index) return;
    yield* index.literal.get(resourceName) ?? [];
    // A resource named `*` (a group may be) has its LITERAL bindings once, not twice.
    if (resourceName !== WILDCARD_RESOURCE) yield* index.literal.get(WILDCARD_RESOURCE) ?? [];
    if (index.prefixed.size === 0) return;
    if (index.prefixed.size < resourceName.length) {
      for (const [prefix, list] of index.prefixed) if (resourceName.startsWith(prefix)) yield* list;
    } else {
      for (let i = 1; i <= resourceName.length; i++)
        yield* index.prefixed.get(resourceName.slice(0, i)) ?? [];
    }
  }
}

/**
 * What one binding that applies to the resource says about the action (StandardAuthorizerData
 * .findResult): nothing unless its principal and host match; ALL matches every operation; an ALLOW
 * for Read, Write, Delete or Alter also allows Describe, one for AlterConfigs also DescribeConfigs; a
 * DENY denies only its own operation (or ALL).
 */
function verdictOf(b: AclBinding, who: Requester, operation: number): Verdict {
  if (b.principal !== who.principal && b.principal !== WILDCARD_PRINCIPAL) return null;
  if (b.host !== WILDCARD_HOST && b.host !== who.host) return null;
  const allow = b.permissionType === AclPermissionType.ALLOW;
  if (b.operation !== AclOperation.ALL) {
    if (allow) {
      if (operation === AclOperation.DESCRIBE) {
        if (!IMPLIES_DESCRIBE.has(b.operation)) return null;
      } else if (operation === AclOperation.DESCRIBE_CONFIGS) {
        if (!IMPLIES_DESCRIBE_CONFIGS.has(b.operation)) return null;
      } else if (operation !== b.operation) return null;
    } else if (operation !== b.operation) return null;
  }
  return allow ? 'allow' : 'deny';
}
