/**
 * The ACL authorizer against Kafka's rules (StandardAuthorizerData, Authorizer.authorizeByResourceType,
 * AuthHelper.authorizedOperations, AclBindingFilter), case by case, over a real security store; and the
 * ACL vocabulary helpers against Kafka's SecurityUtils and toString forms.
 */
import { type AclBinding, MemorySecurityStore } from '@kch/storage';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../src/logger.js';
import { ANY_BINDING, filterMatches, invalidBinding, invalidFilter } from '../src/security/acl-bindings.js';
import {
  AclPermissionType,
  CLUSTER_NAME,
  formatAccessControlEntry,
  formatResourcePattern,
  AclOperation as Op,
  operationName,
  PatternType,
  parseOperation,
  parsePatternType,
  parsePermissionType,
  parseResourceType,
  pascalCase,
  ResourceType,
} from '../src/security/acl-codes.js';
import { javaHostAddress } from '../src/security/authorize.js';
import { Authorizer, type Requester } from '../src/security/authorizer.js';

const { TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID } = ResourceType;
const { LITERAL, PREFIXED } = PatternType;
const { ALLOW, DENY } = AclPermissionType;

const alice: Requester = { principal: 'User:alice', host: '10.0.0.1' };
const bob: Requester = { principal: 'User:bob', host: '10.0.0.2' };

/** A binding with Kafka's codes; by default ALLOW for alice from any host on the topic "orders". */
function acl(b: Partial<AclBinding> = {}): AclBinding {
  return {
    resourceType: TOPIC,
    resourceName: 'orders',
    patternType: LITERAL,
    principal: 'User:alice',
    host: '*',
    operation: Op.READ,
    permissionType: ALLOW,
    ...b,
  };
}

async function authorizerWith(
  bindings: AclBinding[],
  options: { superUsers?: string[]; allowEveryoneIfNoAclFound?: boolean } = {},
): Promise<Authorizer> {
  const store = new MemorySecurityStore();
  await store.addAcls(bindings);
  const authorizer = new Authorizer(
    {
      superUsers: options.superUsers ?? [],
      allowEveryoneIfNoAclFound: options.allowEveryoneIfNoAclFound ?? false,
    },
    store,
    silentLogger,
  );
  await authorizer.load();
  return authorizer;
}

describe('authorize: which bindings apply to a resource', () => {
  it('denies everything when no binding applies and allow.everyone.if.no.acl.found is off', async () => {
    const a = await authorizerWith([]);
    expect(a.authorize(alice, Op.READ, TOPIC, 'orders')).toBe(false);
    expect(a.authorize(alice, Op.DESCRIBE, CLUSTER, CLUSTER_NAME)).toBe(false);
  });

  it('a LITERAL binding applies to its name only, and only within its resource type', async () => {
    const a = await authorizerWith([acl()]);
    expect(a.authorize(alice, Op.READ, TOPIC, 'orders')).toBe(true);
    expect(a.authorize(alice, Op.READ, TOPIC, 'orders2')).toBe(false);
    expect(a.authorize(alice, Op.READ, TOPIC, 'order')).toBe(false);
    expect(a.authorize(alice, Op.READ, GROUP, 'orders')).toBe(false);
  });

  it('the LITERAL wildcard "*" applies to every name of its type', async () => {
    const a = await authorizerWith([acl({ resourceName: '*' })]);
    expect(a.authorize(alice, Op.READ, TOPIC, 'orders')).toBe(true);
    expect(a.authorize(alice, Op.READ, TOPIC, 'anything.else')).toBe(true);
    expect(a.authorize(alice, Op.READ, GROUP, 'orders')).toBe(false);
  });

  it('a PREFIXED binding applies to names starting with its prefix, the prefix itself included', async () => {
    const a = await authorizerWith([acl({ resourceName: 'orders.', patternType: PREFIXED })]);
    expect(a.authorize(alice, Op.READ, TOPIC, 'orders.eu')).toBe(true);
    expect(a.authorize(alice, Op.READ, TOPIC, 'orders.')).toBe(true);
    expect(a.authorize(alice, Op.READ, TOPIC, 'orders')).toBe(false);
    expect(a.authorize(alice, Op.READ, TOPIC, 'x.orders.eu')).toBe(false);
  });

  it('a PREFIXED "*" is a prefix like any other, not a wildcard', async () => {
    const a = await authorizerWith([acl({ resourceName: '*', patternType: PREFIXED, resourceType: GROUP })]);
    expect(a.authorize(alice, Op.READ, GROUP, 'orders')).toBe(false);
    expect(a.authorize(alice, Op.READ, GROUP, '*team')).toBe(true);
  });

  it('finds prefixes whether there are few or many PREFIXED bindings', async () => {
    const many = Array.from({ length: 40 }, (_, i) => acl({ resourceName: `p${i}`, patternType: PREFIXED }));
    const a = await authorizerWith([...many, acl({ resourceName: 'o', patternType: PREFIXED })]);
    expect(a.authorize(alice, Op.READ, TOPIC, 'orders')).toBe(true);
    expect(a.authorize(alice, Op.READ, TOPIC, 'p17-x')).toBe(true);
    expect(a.authorize(alice, Op.READ, TOPIC, 'q')).toBe(false);
  });
});

describe('authorize: principal and host', () => {
  it('a binding matches its principal exactly; User:* matches every principal', async () => {
    const a = await authorizerWith([acl(), acl({ resourceName: 'public', principal: 'User:*' })]);
    expect(a.authorize(bob, Op.READ, TOPIC, 'orders')).toBe(false);
    expect(a.authorize({ ...alice, principal: 'user:alice' }, Op.READ, TOPIC, 'orders')).toBe(false);
    expect(a.authorize(bob, Op.READ, TOPIC, 'public')).toBe(true);
    // Kafka's wildcard is User:* whatever the session's principal type.
    expect(a.authorize({ principal: 'Group:ops', host: '10.0.0.3' }, Op.READ, TOPIC, 'public')).toBe(true);
  });

  it('only User:* is a wildcard: Group:* names a principal called "*"', async () => {
    const a = await authorizerWith([acl({ principal: 'Group:*' })]);
    expect(a.authorize({ principal: 'Group:ops', host: '10.0.0.3' }, Op.READ, TOPIC, 'orders')).toBe(false);
    expect(a.authorize({ principal: 'Group:*', host: '10.0.0.3' }, Op.READ, TOPIC, 'orders')).toBe(true);
  });

  it('a binding matches its host exactly, or every host with "*"', async () => {
    const a = await authorizerWith([acl({ host: '10.0.0.1' })]);
    expect(a.authorize(alice, Op.READ, TOPIC, 'orders')).toBe(true);
    expect(a.authorize({ ...alice, host: '10.0.0.9' }, Op.READ, TOPIC, 'orders')).toBe(false);
  });
});

describe('authorize: operations and their implications', () => {
  it('an ALLOW for Read, Write, Delete or Alter also allows Describe, and nothing else', async () => {
    for (const op of [Op.READ, Op.WRITE, Op.DELETE, Op.ALTER]) {
      const a = await authorizerWith([acl({ operation: op })]);
      expect(a.authorize(alice, op, TOPIC, 'orders'), operationName(op)).toBe(true);
      expect(a.authorize(alice, Op.DESCRIBE, TOPIC, 'orders'), operationName(op)).toBe(true);
      expect(a.authorize(alice, Op.DESCRIBE_CONFIGS, TOPIC, 'orders'), operationName(op)).toBe(false);
      for (const other of [Op.READ, Op.WRITE, Op.DELETE, Op.ALTER, Op.CREATE].filter((o) => o !== op))
        expect(
          a.authorize(alice, other, TOPIC, 'orders'),
          `${operationName(op)} ${operationName(other)}`,
        ).toBe(false);
    }
  });

  it('an ALLOW for Describe, Create or DescribeConfigs implies nothing', async () => {
    const a = await authorizerWith([
      acl({ operation: Op.DESCRIBE }),
      acl({ operation: Op.CREATE, resourceName: 'b' }),
      acl({ operation: Op.DESCRIBE_CONFIGS, resourceName: 'c' }),
    ]);
    expect(a.authorize(alice, Op.READ, TOPIC, 'orders')).toBe(false);
    expect(a.authorize(alice, Op.DESCRIBE, TOPIC, 'b')).toBe(false);
    expect(a.authorize(alice, Op.ALTER_CONFIGS, TOPIC, 'c')).toBe(false);
  });

  it('an ALLOW for AlterConfigs also allows DescribeConfigs', async () => {
    const a = await authorizerWith([acl({ operation: Op.ALTER_CONFIGS })]);
    expect(a.authorize(alice, Op.ALTER_CONFIGS, TOPIC, 'orders')).toBe(true);
    expect(a.authorize(alice, Op.DESCRIBE_CONFIGS, TOPIC, 'orders')).toBe(true);
    expect(a.authorize(alice, Op.DESCRIBE, TOPIC, 'orders')).toBe(false);
  });

  it('ALL allows every operation', async () => {
    const a = await authorizerWith([
      acl({ operation: Op.ALL, resourceType: CLUSTER, resourceName: CLUSTER_NAME }),
    ]);
    for (const op of [
      Op.CREATE,
      Op.ALTER,
      Op.DESCRIBE,
      Op.CLUSTER_ACTION,
      Op.IDEMPOTENT_WRITE,
      Op.ALTER_CONFIGS,
    ])
      expect(a.authorize(alice, op, CLUSTER, CLUSTER_NAME), operationName(op)).toBe(true);
  });

  it('a DENY denies its own operation only: a DENY for Read leaves the Describe a Read ALLOW implies', async () => {
    const a = await authorizerWith([acl(), acl({ permissionType: DENY })]);
    expect(a.authorize(alice, Op.READ, TOPIC, 'orders')).toBe(false);
    expect(a.authorize(alice, Op.DESCRIBE, TOPIC, 'orders')).toBe(true);
  });

  it('a DENY for ALL denies every operation', async () => {
    const a = await authorizerWith([
      acl({ operation: Op.ALL }),
      acl({ operation: Op.ALL, permissionType: DENY }),
    ]);
    expect(a.authorize(alice, Op.DESCRIBE, TOPIC, 'orders')).toBe(false);
    expect(a.authorize(alice, Op.WRITE, TOPIC, 'orders')).toBe(false);
  });
});

describe('authorize: deny wins, super users, allow.everyone.if.no.acl.found', () => {
  it('a matching DENY wins over any ALLOW, whichever pattern each comes from', async () => {
    const a = await authorizerWith([
      acl({ operation: Op.WRITE }),
      acl({ operation: Op.WRITE, resourceName: 'ord', patternType: PREFIXED, permissionType: DENY }),
      acl({ operation: Op.WRITE, resourceName: 'billing' }),
      acl({
        operation: Op.WRITE,
        resourceName: '*',
        principal: 'User:*',
        permissionType: DENY,
        host: '10.0.0.1',
      }),
    ]);
    expect(a.authorize(alice, Op.WRITE, TOPIC, 'orders')).toBe(false);
    // The wildcard DENY is for 10.0.0.1 only.
    expect(a.authorize(alice, Op.WRITE, TOPIC, 'billing')).toBe(false);
    expect(a.authorize({ ...alice, host: '10.0.0.5' }, Op.WRITE, TOPIC, 'billing')).toBe(true);
  });

  it('super users are allowed everything, DENY bindings notwithstanding', async () => {
    const a = await authorizerWith([acl({ operation: Op.ALL, permissionType: DENY, principal: 'User:*' })], {
      superUsers: ['User:admin'],
    });
    const admin = { principal: 'User:admin', host: '10.0.0.7' };
    expect(a.authorize(admin, Op.READ, TOPIC, 'orders')).toBe(true);
    expect(a.authorize(admin, Op.ALTER, CLUSTER, CLUSTER_NAME)).toBe(true);
    expect(a.authorize(alice, Op.READ, TOPIC, 'orders')).toBe(false);
  });

  it('allow.everyone.if.no.acl.found allows only where no binding at all applies to the resource', async () => {
    const a = await authorizerWith(
      [
        acl({ principal: 'User:bob' }),
        acl({ resourceType: GROUP, resourceName: 'team.', patternType: PREFIXED, principal: 'User:bob' }),
        acl({ resourceType: TRANSACTIONAL_ID, resourceName: '*', principal: 'User:bob', host: '1.2.3.4' }),
      ],
      { allowEveryoneIfNoAclFound: true },
    );
    // A binding for another principal applies to "orders": alice is denied.
    expect(a.authorize(alice, Op.READ, TOPIC, 'orders')).toBe(false);
    // Nothing applies to "payments".
    expect(a.authorize(alice, Op.WRITE, TOPIC, 'payments')).toBe(true);
    // Prefixed and wildcard bindings apply too, whatever their principal, host or operation.
    expect(a.authorize(alice, Op.READ, GROUP, 'team.a')).toBe(false);
    expect(a.authorize(alice, Op.READ, GROUP, 'other')).toBe(true);
    expect(a.authorize(alice, Op.WRITE, TRANSACTIONAL_ID, 'tx')).toBe(false);
  });
});

describe('authorizeByResourceType (an idempotent producer may write to some topic)', () => {
  const write = (b: Partial<AclBinding>) => acl({ operation: Op.WRITE, ...b });

  it('no binding: denied, or allowed with allow.everyone.if.no.acl.found; super users always', async () => {
    expect((await authorizerWith([])).authorizeByResourceType(alice, Op.WRITE, TOPIC)).toBe(false);
    const open = await authorizerWith([], { allowEveryoneIfNoAclFound: true });
    expect(open.authorizeByResourceType(alice, Op.WRITE, TOPIC)).toBe(true);
    const su = await authorizerWith([], { superUsers: ['User:alice'] });
    expect(su.authorizeByResourceType(alice, Op.WRITE, TOPIC)).toBe(true);
  });

  it('an ALLOW on some literal or prefixed name counts, unless a DENY covers it', async () => {
    expect((await authorizerWith([write({})])).authorizeByResourceType(alice, Op.WRITE, TOPIC)).toBe(true);
    expect((await authorizerWith([write({})])).authorizeByResourceType(bob, Op.WRITE, TOPIC)).toBe(false);
    expect((await authorizerWith([acl()])).authorizeByResourceType(alice, Op.WRITE, TOPIC)).toBe(false);
    const literalDenied = await authorizerWith([write({}), write({ permissionType: DENY })]);
    expect(literalDenied.authorizeByResourceType(alice, Op.WRITE, TOPIC)).toBe(false);
    const prefixDenied = await authorizerWith([
      write({ resourceName: 'orders.eu', patternType: PREFIXED }),
      write({ resourceName: 'orders', patternType: PREFIXED, permissionType: DENY }),
    ]);
    expect(prefixDenied.authorizeByResourceType(alice, Op.WRITE, TOPIC)).toBe(false);
    // A literal DENY does not cover a prefixed ALLOW of the same name.
    const notCovered = await authorizerWith([
      write({ patternType: PREFIXED }),
      write({ permissionType: DENY }),
    ]);
    expect(notCovered.authorizeByResourceType(alice, Op.WRITE, TOPIC)).toBe(true);
  });

  it('a wildcard DENY denies, even after a wildcard ALLOW', async () => {
    const a = await authorizerWith([
      write({ resourceName: '*' }),
      write({ resourceName: '*', principal: 'User:*', permissionType: DENY }),
    ]);
    expect(a.authorizeByResourceType(alice, Op.WRITE, TOPIC)).toBe(false);
    expect(
      (await authorizerWith([write({ resourceName: '*' })])).authorizeByResourceType(alice, Op.WRITE, TOPIC),
    ).toBe(true);
  });
});

describe('authorizedOperations (the bit field of Metadata, DescribeGroups, DescribeCluster)', () => {
  it('lists the allowed operations of the resource type, implied ones included', async () => {
    const a = await authorizerWith([acl(), acl({ operation: Op.ALTER_CONFIGS })]);
    const bits = (ops: number[]) => ops.reduce((b, op) => b | (1 << op), 0);
    expect(a.authorizedOperations(alice, TOPIC, 'orders')).toBe(
      bits([Op.READ, Op.DESCRIBE, Op.ALTER_CONFIGS, Op.DESCRIBE_CONFIGS]),
    );
    expect(a.authorizedOperations(bob, TOPIC, 'orders')).toBe(0);
  });

  it("a super user gets every operation Kafka's AclEntry lists for the type", async () => {
    const a = await authorizerWith([], { superUsers: ['User:alice'] });
    expect(a.authorizedOperations(alice, TOPIC, 'x')).toBe(3576);
    expect(a.authorizedOperations(alice, CLUSTER, CLUSTER_NAME)).toBe(8096);
    // READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS (group configs, Kafka 3.8+).
    expect(a.authorizedOperations(alice, GROUP, 'g')).toBe(3400);
    expect(a.authorizedOperations(alice, TRANSACTIONAL_ID, 't')).toBe((1 << Op.DESCRIBE) | (1 << Op.WRITE));
  });
});

describe('the cache follows changes made through the authorizer', () => {
  it('createAcls and deleteAcls apply at once; a write straight to the store waits for load', async () => {
    const store = new MemorySecurityStore();
    const a = new Authorizer({ superUsers: [], allowEveryoneIfNoAclFound: false }, store, silentLogger);
    await a.load();
    await a.createAcls([acl()]);
    expect(a.authorize(alice, Op.READ, TOPIC, 'orders')).toBe(true);
    await store.addAcls([acl({ resourceName: 'direct' })]);
    expect(a.authorize(alice, Op.READ, TOPIC, 'direct')).toBe(false);
    await a.load();
    expect(a.authorize(alice, Op.READ, TOPIC, 'direct')).toBe(true);

    const filter = { ...ANY_BINDING, resourceType: TOPIC, resourceName: 'orders', patternType: LITERAL };
    const [deleted, none] = await a.deleteAcls([filter, { ...filter, resourceName: 'nothing' }]);
    expect(deleted).toEqual([acl()]);
    expect(none).toEqual([]);
    expect(a.authorize(alice, Op.READ, TOPIC, 'orders')).toBe(false);
    expect(await store.listAcls()).toEqual([acl({ resourceName: 'direct' })]);
  });
});

describe('binding filters (DescribeAcls, DeleteAcls)', () => {
  const any = ANY_BINDING;
  const literal = acl();
  const wildcard = acl({ resourceName: '*' });
  const prefixed = acl({ resourceName: 'ord', patternType: PREFIXED });
  const other = acl({
    resourceName: 'payments',
    principal: 'User:bob',
    host: '10.0.0.2',
    operation: Op.WRITE,
  });
  const all = [literal, wildcard, prefixed, other];
  const select = (f: Partial<typeof any>) => all.filter((b) => filterMatches({ ...any, ...f }, b));

  it('ANY and null match everything', () => {
    expect(select({})).toEqual(all);
  });

  it('LITERAL and PREFIXED select bindings of that pattern type with exactly that name', () => {
    expect(select({ patternType: LITERAL, resourceName: 'orders' })).toEqual([literal]);
    expect(select({ patternType: PREFIXED, resourceName: 'ord' })).toEqual([prefixed]);
    expect(select({ patternType: PREFIXED, resourceName: 'orders' })).toEqual([]);
    // ANY with a name: exact names of any pattern type, "*" being no wildcard here.
    expect(select({ resourceName: '*' })).toEqual([wildcard]);
  });

  it('MATCH selects what applies to a resource of that name: its literal, "*", prefixes', () => {
    expect(select({ patternType: PatternType.MATCH, resourceName: 'orders' })).toEqual([
      literal,
      wildcard,
      prefixed,
    ]);
    expect(select({ patternType: PatternType.MATCH, resourceName: 'payments' })).toEqual([wildcard, other]);
  });

  it('principal, host, operation and permission type select exactly', () => {
    expect(select({ principal: 'User:bob' })).toEqual([other]);
    expect(select({ host: '10.0.0.2' })).toEqual([other]);
    expect(select({ operation: Op.WRITE })).toEqual([other]);
    expect(select({ permissionType: DENY })).toEqual([]);
    // No implication in filters: Describe does not select Read bindings.
    expect(select({ operation: Op.DESCRIBE })).toEqual([]);
  });

  it('codes Kafka does not define select nothing, and DeleteAcls refuses them', () => {
    expect(select({ resourceType: 42 })).toEqual([]);
    expect(invalidFilter({ ...any, resourceType: 42 })).toBe('Unknown patternFilter.');
    expect(invalidFilter({ ...any, patternType: 9 })).toBe('Unknown patternFilter.');
    expect(invalidFilter({ ...any, operation: 99 })).toBe('Unknown entryFilter.');
    expect(invalidFilter({ ...any, permissionType: 7 })).toBe('Unknown entryFilter.');
    expect(invalidFilter(any)).toBeNull();
  });
});

describe('which bindings CreateAcls may store', () => {
  it('refuses what Kafka refuses, with its messages', () => {
    expect(invalidBinding(acl())).toBeNull();
    expect(invalidBinding(acl({ resourceType: CLUSTER, resourceName: 'c' }))).toBe(
      'The only valid name for the CLUSTER resource is kafka-cluster',
    );
    expect(invalidBinding(acl({ resourceType: CLUSTER, resourceName: CLUSTER_NAME }))).toBeNull();
    expect(invalidBinding(acl({ resourceName: '' }))).toBe('Invalid empty resource name');
    expect(invalidBinding(acl({ resourceType: 99 }))).toBe('Invalid resourceType UNKNOWN');
    expect(invalidBinding(acl({ patternType: 99 }))).toBe('Invalid patternType UNKNOWN');
    expect(invalidBinding(acl({ operation: 99 }))).toBe('Invalid operation UNKNOWN');
    expect(invalidBinding(acl({ permissionType: 99 }))).toBe('Invalid permissionType UNKNOWN');
    expect(invalidBinding(acl({ principal: 'alice' }))).toBe(
      'expected a string in format principalType:principalName but got alice',
    );
  });
});

describe('the ACL vocabulary, as Kafka reads and prints it', () => {
  it('parses names as SecurityUtils does: Pascal case, or any case without underscores', () => {
    expect(parseOperation('DescribeConfigs')).toBe(Op.DESCRIBE_CONFIGS);
    expect(parseOperation('describeconfigs')).toBe(Op.DESCRIBE_CONFIGS);
    expect(parseOperation('IDEMPOTENTWRITE')).toBe(Op.IDEMPOTENT_WRITE);
    expect(parseOperation('DESCRIBE_CONFIGS')).toBe(Op.UNKNOWN);
    expect(parseOperation('Read')).toBe(Op.READ);
    expect(parseResourceType('TransactionalId')).toBe(TRANSACTIONAL_ID);
    expect(parseResourceType('topic')).toBe(TOPIC);
    expect(parsePermissionType('Deny')).toBe(DENY);
    expect(parsePermissionType('maybe')).toBe(AclPermissionType.UNKNOWN);
    expect(parsePatternType('prefixed')).toBe(PREFIXED);
    expect(parsePatternType('Match')).toBe(PatternType.MATCH);
    expect(pascalCase('CLUSTER_ACTION')).toBe('ClusterAction');
  });

  it("prints bindings as Kafka's toString does (kafka-acls.sh's listing)", () => {
    expect(formatResourcePattern(acl({ patternType: PREFIXED }))).toBe(
      'ResourcePattern(resourceType=TOPIC, name=orders, patternType=PREFIXED)',
    );
    expect(formatAccessControlEntry(acl({ operation: Op.DESCRIBE_CONFIGS, permissionType: DENY }))).toBe(
      '(principal=User:alice, host=*, operation=DESCRIBE_CONFIGS, permissionType=DENY)',
    );
    expect(
      formatAccessControlEntry({ principal: null, host: null, operation: Op.ANY, permissionType: 1 }),
    ).toBe('(principal=<any>, host=<any>, operation=ANY, permissionType=ANY)');
  });
});

describe('client hosts as Java writes them (what ACL hosts are compared with)', () => {
  it('IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 uncompressed without leading zeros', () => {
    expect(javaHostAddress('127.0.0.1')).toBe('127.0.0.1');
    expect(javaHostAddress('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(javaHostAddress('::1')).toBe('0:0:0:0:0:0:0:1');
    expect(javaHostAddress('2001:0db8::ff00:0042:8329')).toBe('2001:db8:0:0:0:ff00:42:8329');
    expect(javaHostAddress('fe80::1%eth0')).toBe('fe80:0:0:0:0:0:0:1%eth0');
    expect(javaHostAddress('::1.2.3.4')).toBe('0:0:0:0:0:0:102:304');
    expect(javaHostAddress('unknown')).toBe('unknown');
  });
});
