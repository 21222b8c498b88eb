/**
 * `kch users`, `kch acls` and `kch quotas` against a broker in process with SASL and the ACL
 * authorizer (User:admin is a super user): what they change on the broker, what they print (the text
 * of kafka-configs.sh and kafka-acls.sh), and what they say when the broker refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipEachUnless } from '../../broker/test/helpers/skip.js';
import { openssl } from '../../broker/test/helpers/tools.js';
import { ExitCode } from '../src/command.js';
import acls from '../src/commands/acls.js';
import produce from '../src/commands/produce.js';
import quotas from '../src/commands/quotas.js';
import topics from '../src/commands/topics.js';
import users from '../src/commands/users.js';
import { run, startTestBroker } from './client-helpers.js';
import { type SecureBroker, saslFlags, startSecureBroker } from './security-helpers.js';

let s: SecureBroker;
beforeAll(async () => {
  if (openssl.available) s = await startSecureBroker();
});
afterAll(() => s?.close());

const asAdmin = { KCH_SASL_PASSWORD: 'admin-secret' };
const admin = () => saslFlags(s.at.SASL_PLAINTEXT, 'admin');
const kch = (
  command: Parameters<typeof run>[0],
  args: string[],
  input?: string,
  env: NodeJS.ProcessEnv = {},
) => run(command, [...args, ...admin()], { env: { ...asAdmin, ...env }, input });

describe('kch users', () => {
  skipEachUnless(openssl);

  it('adds a user with both SCRAM mechanisms, who then authenticates with either (and with PLAIN)', async () => {
    const add = await kch(users, ['add', 'carol'], undefined, { KCH_USER_PASSWORD: 'carol-secret' });
    expect(add).toMatchObject({
      code: ExitCode.OK,
      stdout: 'Completed updating config for user carol.\n',
      stderr: '',
    });
    const stored = await s.broker.context.security.store.listScramCredentials();
    expect(stored.filter((c) => c.user === 'carol').map((c) => [c.mechanism, c.iterations])).toEqual([
      ['SCRAM-SHA-256', 4096],
      ['SCRAM-SHA-512', 4096],
    ]);
    for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN']) {
      const r = await run(topics, ['list', ...saslFlags(s.at.SASL_PLAINTEXT, 'carol', mechanism)], {
        env: { KCH_SASL_PASSWORD: 'carol-secret' },
      });
      expect(r, mechanism).toMatchObject({ code: ExitCode.OK, stderr: '' });
    }
  });

  it('reads the password from the first line of standard input, with the mechanism and iterations given', async () => {
    const add = await kch(
      users,
      ['add', 'dave', '--mechanism', 'SCRAM-SHA-512', '--iterations', '8192'],
      'dave-secret\nignored\n',
    );
    expect(add.code).toBe(ExitCode.OK);
    const list = await kch(users, ['list', 'dave']);
    expect(list).toMatchObject({
      code: ExitCode.OK,
      stdout: "SCRAM credential configs for user-principal 'dave' are SCRAM-SHA-512=iterations=8192\n",
    });
    const wrong = await run(topics, ['list', ...saslFlags(s.at.SASL_PLAINTEXT, 'dave', 'SCRAM-SHA-512')], {
      env: { KCH_SASL_PASSWORD: 'ignored' },
    });
    expect(wrong.stderr).toMatch(/authentication failed for user dave with SCRAM-SHA-512/);
  });

  it('lists every user, as JSON too, and says which named users have no credentials', async () => {
    await kch(users, ['add', 'erin', '--password', 'erin-secret', '--mechanism', 'scram-sha-256']);
    const list = await kch(users, ['list']);
    expect(list.stdout).toContain(
      "SCRAM credential configs for user-principal 'erin' are SCRAM-SHA-256=iterations=4096\n",
    );
    const json = JSON.parse((await kch(users, ['list', 'erin', '--json'])).stdout);
    expect(json).toEqual([{ user: 'erin', credentials: [{ mechanism: 'SCRAM-SHA-256', iterations: 4096 }] }]);
    const missing = await kch(users, ['list', 'erin', 'nobody']);
    expect(missing.code).toBe(ExitCode.FAILURE);
    expect(missing.stdout).toBe(
      "SCRAM credential configs for user-principal 'erin' are SCRAM-SHA-256=iterations=4096\n",
    );
    expect(missing.stderr).toBe(
      'kch users: user "nobody" has no SCRAM credentials; add them with `kch users add nobody`\n',
    );
  });

  it('deletes a user’s credentials: one mechanism, then the rest', async () => {
    await kch(users, ['add', 'frank', '--password', 'frank-secret']);
    expect((await kch(users, ['delete', 'frank', '--mechanism', 'SCRAM-SHA-256'])).code).toBe(ExitCode.OK);
    expect((await kch(users, ['list', 'frank'])).stdout).toBe(
      "SCRAM credential configs for user-principal 'frank' are SCRAM-SHA-512=iterations=4096\n",
    );
    const del = await kch(users, ['delete', 'frank']);
    expect(del).toMatchObject({ code: ExitCode.OK, stdout: 'Completed updating config for user frank.\n' });
    const again = await kch(users, ['delete', 'frank']);
    expect(again).toMatchObject({
      code: ExitCode.FAILURE,
      stderr: 'kch users: user "frank" has no SCRAM credentials; list the users with `kch users list`\n',
    });
  });

  it.each([
    [['add'], /"users add" takes one user name/],
    [
      ['add', 'x', '--iterations', '1000'],
      /Iterations 1000 is less than the minimum 4096 required for SCRAM-SHA-256/,
    ],
    [
      ['add', 'x', '--mechanism', 'SCRAM-SHA-1'],
      /--mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512, got "SCRAM-SHA-1"/,
    ],
    [['add', 'x'], /the password is missing: KCH_USER_PASSWORD=<password>, or a line on standard input/],
    [['list', '--password', 'x'], /--password does not apply to "users list"/],
    [['rename'], /unknown command "rename": use add, list or delete/],
  ])('refuses %j with the usage', async (args, message) => {
    const r = await kch(users, args);
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('Usage: kch users');
  });

  it('passes on the broker’s refusals: too many iterations, a user without the permission', async () => {
    const many = await kch(users, ['add', 'x', '--password', 'p', '--iterations', '20000']);
    expect(many).toMatchObject({
      code: ExitCode.FAILURE,
      stderr:
        'kch users: adding the SCRAM-SHA-256 credential of user x failed: UNACCEPTABLE_CREDENTIAL: Too many iterations\n',
    });
    const bob = await run(
      users,
      ['add', 'x', '--password', 'p', ...saslFlags(s.at.SASL_PLAINTEXT, 'alice')],
      {
        env: { KCH_SASL_PASSWORD: 'alice-secret' },
      },
    );
    expect(bob.code).toBe(ExitCode.FAILURE);
    expect(bob.stderr).toMatch(
      /^kch users: adding the SCRAM-SHA-256 credential of user x failed: CLUSTER_AUTHORIZATION_FAILED/,
    );
    expect(bob.stderr).toContain('User:alice lacks an ACL for this');
  });
});

describe('kch acls', () => {
  skipEachUnless(openssl);

  it('adds ACLs as kafka-acls.sh prints them, which then let a user produce', async () => {
    const asAlice = { KCH_SASL_PASSWORD: 'alice-secret' };
    const alice = saslFlags(s.at.SASL_PLAINTEXT, 'alice');
    await kch(topics, ['create', 'payments']);
    const refused = await run(produce, ['payments', ...alice], { input: 'x\n', env: asAlice });
    expect(refused.code).toBe(ExitCode.FAILURE);
    expect(refused.stderr).toContain('TOPIC_AUTHORIZATION_FAILED');
    const add = await kch(acls, [
      'add',
      '--allow-principal',
      'User:alice',
      '--operation',
      'Write',
      '--operation',
      'Describe',
      '--topic',
      'payments',
    ]);
    expect(add).toMatchObject({
      code: ExitCode.OK,
      stderr: '',
      stdout:
        'Adding ACLs for resource `ResourcePattern(resourceType=TOPIC, name=payments, patternType=LITERAL)`: \n' +
        ' \t(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)\n' +
        '\t(principal=User:alice, host=*, operation=DESCRIBE, permissionType=ALLOW)\n\n',
    });
    // The idempotent producer also needs IdempotentWrite on the cluster (InitProducerId), as in Kafka.
    await kch(acls, [
      'add',
      '--allow-principal',
      'User:alice',
      '--operation',
      'IdempotentWrite',
      '--cluster',
    ]);
    const allowed = await run(produce, ['payments', ...alice], { input: 'x\n', env: asAlice });
    expect(allowed).toMatchObject({ code: ExitCode.OK, stderr: '' });
    const again = await kch(acls, [
      'add',
      '--allow-principal',
      'User:alice',
      '--operation',
      'Write',
      '--topic',
      'payments',
    ]);
    expect(again.stdout).toBe(
      'Acl (pattern=ResourcePattern(resourceType=TOPIC, name=payments, patternType=LITERAL), entry=(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)) already exists.\n',
    );
  });

  it('expands --producer and --consumer as kafka-acls.sh does, and lists by resource and by principal', async () => {
    await kch(acls, [
      'add',
      '--producer',
      '--allow-principal',
      'User:app',
      '--topic',
      'events',
      '--idempotent',
      '--transactional-id',
      'tx',
    ]);
    await kch(acls, [
      'add',
      '--consumer',
      '--allow-principal',
      'User:reader',
      '--allow-host',
      '10.0.0.1',
      '--topic',
      'events',
      '--group',
      'readers',
    ]);
    const list = await kch(acls, ['list', '--topic', 'events']);
    expect(list.stdout).toBe(
      'Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=events, patternType=LITERAL)`:\n' +
        '\t(principal=User:app, host=*, operation=WRITE, permissionType=ALLOW)\n' +
        '\t(principal=User:app, host=*, operation=CREATE, permissionType=ALLOW)\n' +
        '\t(principal=User:app, host=*, operation=DESCRIBE, permissionType=ALLOW)\n' +
        '\t(principal=User:reader, host=10.0.0.1, operation=READ, permissionType=ALLOW)\n' +
        '\t(principal=User:reader, host=10.0.0.1, operation=DESCRIBE, permissionType=ALLOW)\n\n',
    );
    const byPrincipal = await kch(acls, ['list', '--principal', 'User:app']);
    expect(byPrincipal.stdout).toMatch(/^ACLs for principal `User:app`\n/);
    expect(byPrincipal.stdout).toContain(
      'Current ACLs for resource `ResourcePattern(resourceType=CLUSTER, name=kafka-cluster, patternType=LITERAL)`:\n\t(principal=User:app, host=*, operation=IDEMPOTENT_WRITE, permissionType=ALLOW)\n\n',
    );
    expect(byPrincipal.stdout).toContain(
      'Current ACLs for resource `ResourcePattern(resourceType=TRANSACTIONAL_ID, name=tx, patternType=LITERAL)`:\n\t(principal=User:app, host=*, operation=WRITE, permissionType=ALLOW)\n\t(principal=User:app, host=*, operation=DESCRIBE, permissionType=ALLOW)\n\n',
    );
    expect(byPrincipal.stdout).not.toContain('User:reader');
    const json = JSON.parse((await kch(acls, ['list', '--group', 'readers', '--json'])).stdout);
    expect(json).toEqual([
      {
        resourceType: 'GROUP',
        resourceName: 'readers',
        patternType: 'LITERAL',
        principal: 'User:reader',
        host: '10.0.0.1',
        operation: 'READ',
        permissionType: 'ALLOW',
      },
    ]);
  });

  it('adds prefixed and deny ACLs, finds them with --resource-pattern-type match, and removes them', async () => {
    await kch(acls, [
      'add',
      '--allow-principal',
      'User:*',
      '--operation',
      'Read',
      '--topic',
      'logs.',
      '--resource-pattern-type',
      'prefixed',
    ]);
    await kch(acls, [
      'add',
      '--deny-principal',
      'User:mallory',
      '--operation',
      'Read',
      '--topic',
      'logs.secret',
    ]);
    const match = await kch(acls, ['list', '--topic', 'logs.secret', '--resource-pattern-type', 'match']);
    expect(match.stdout).toContain('ResourcePattern(resourceType=TOPIC, name=logs., patternType=PREFIXED)');
    expect(match.stdout).toContain('(principal=User:mallory, host=*, operation=READ, permissionType=DENY)');
    const removed = await kch(acls, [
      'remove',
      '--deny-principal',
      'User:mallory',
      '--operation',
      'Read',
      '--topic',
      'logs.secret',
    ]);
    expect(removed.stdout).toBe(
      'Removed ACLs for resource `ResourcePattern(resourceType=TOPIC, name=logs.secret, patternType=LITERAL)`:\n\t(principal=User:mallory, host=*, operation=READ, permissionType=DENY)\n\n',
    );
    // Without principals, every ACL of the resource (kafka-acls.sh --remove --force).
    const all = await kch(acls, ['remove', '--topic', 'logs.', '--resource-pattern-type', 'prefixed']);
    expect(all.stdout).toContain('(principal=User:*, host=*, operation=READ, permissionType=ALLOW)');
    expect((await kch(acls, ['remove', '--topic', 'logs.secret'])).stdout).toBe(
      'No ACL matched: nothing was removed.\n',
    );
  });

  it.each([
    [
      ['add', '--topic', 't'],
      'You must specify one of: --allow-principal, --deny-principal when trying to add ACLs.',
    ],
    [
      ['add', '--allow-principal', 'User:a'],
      'You must provide at least one resource: --topic <topic> or --cluster or --group <group> or --transactional-id <id>',
    ],
    [
      ['add', '--allow-principal', 'alice', '--topic', 't'],
      'expected a string in format principalType:principalName but got alice',
    ],
    [
      ['add', '--allow-principal', 'User:a', '--topic', 't', '--operation', 'IdempotentWrite'],
      'ResourceType TOPIC only supports operations READ, WRITE, CREATE, DESCRIBE, DELETE, ALTER, DESCRIBE_CONFIGS, ALTER_CONFIGS, ALL',
    ],
    [
      ['add', '--allow-principal', 'User:a', '--topic', 't', '--operation', 'Fly'],
      /^unknown operation "Fly": use All, Read, Write, /,
    ],
    [
      ['add', '--allow-principal', 'User:a', '--topic', 't', '--resource-pattern-type', 'match'],
      "A '--resource-pattern-type' value of 'MATCH' is not valid when adding acls.",
    ],
    [
      ['add', '--allow-principal', 'User:a', '--topic', 't', '--resource-pattern-type', 'glob'],
      'Unknown resource-pattern-type: glob (use literal, prefixed, any or match)',
    ],
    [
      ['add', '--producer', '--allow-principal', 'User:a', '--group', 'g'],
      'With --producer you must specify a --topic',
    ],
    [
      ['add', '--producer', '--allow-principal', 'User:a', '--topic', 't', '--operation', 'Read'],
      '--operation cannot be used with --producer',
    ],
    [
      ['add', '--consumer', '--allow-principal', 'User:a', '--topic', 't'],
      'With --consumer you must specify a --topic and a --group and no --cluster or --transactional-id option should be specified.',
    ],
    [
      ['add', '--idempotent', '--allow-principal', 'User:a', '--topic', 't'],
      'The --idempotent option is only available if --producer is set',
    ],
    [
      ['list', '--allow-principal', 'User:a'],
      '--allow-principal cannot be used with "acls list" (--principal and the resource options select what is listed)',
    ],
    [
      ['remove', '--principal', 'User:a', '--topic', 't'],
      'The --principal option is only available with "acls list"',
    ],
  ])('refuses %j with Kafka’s message and the usage', async (args, message) => {
    const r = await kch(acls, args);
    expect(r.code).toBe(ExitCode.USAGE);
    const first = r.stderr.split('\n')[0]!;
    if (typeof message === 'string') expect(first).toBe(`kch acls: ${message}`);
    else expect(first.replace('kch acls: ', '')).toMatch(message);
  });

  it('passes on CLUSTER_AUTHORIZATION_FAILED for a user without Alter on the cluster', async () => {
    const r = await run(
      acls,
      ['add', '--allow-principal', 'User:alice', '--topic', 'x', ...saslFlags(s.at.SASL_PLAINTEXT, 'alice')],
      {
        env: { KCH_SASL_PASSWORD: 'alice-secret' },
      },
    );
    expect(r.code).toBe(ExitCode.FAILURE);
    expect(r.stderr).toMatch(
      /CLUSTER_AUTHORIZATION_FAILED: Request DescribeAcls is not authorized\.\nUser:alice lacks an ACL/,
    );
  });

  it('says how to turn the authorizer on when the broker has none', async () => {
    const plain = await startTestBroker();
    try {
      const r = await run(acls, ['list'], { bootstrap: plain.bootstrap });
      expect(r.code).toBe(ExitCode.FAILURE);
      expect(r.stderr).toMatch(
        /^kch acls: listing ACLs failed: SECURITY_DISABLED: .*\nThe broker has no authorizer: set authorizer\.class\.name=/,
      );
    } finally {
      await plain.close();
    }
  });
});

describe('kch quotas', () => {
  skipEachUnless(openssl);

  it('alters and describes quotas of users, clients and defaults, as kafka-configs.sh prints them', async () => {
    const alter = await kch(quotas, [
      'alter',
      '--entity-type',
      'users',
      '--entity-name',
      'alice',
      '--add-config',
      'producer_byte_rate=1048576,consumer_byte_rate=20000000',
    ]);
    expect(alter).toMatchObject({
      code: ExitCode.OK,
      stdout: 'Completed updating config for user alice.\n',
      stderr: '',
    });
    const byDefault = await kch(quotas, [
      'alter',
      '--entity-type',
      'clients',
      '--entity-default',
      '--add-config',
      'request_percentage=50',
    ]);
    expect(byDefault.stdout).toBe('Completed updating default config for clients in the cluster.\n');
    const both = await kch(quotas, [
      'alter',
      '--entity-type',
      'users',
      '--entity-name',
      'alice',
      '--entity-type',
      'clients',
      '--entity-name',
      'etl',
      '--add-config',
      'producer_byte_rate=[4194304]',
    ]);
    expect(both.code).toBe(ExitCode.OK);
    expect((await kch(quotas, ['describe', '--entity-type', 'users'])).stdout).toBe(
      "Quota configs for user-principal 'alice' are consumer_byte_rate=2.0E7, producer_byte_rate=1048576.0\n",
    );
    expect((await kch(quotas, ['describe', '--entity-type', 'clients', '--entity-default'])).stdout).toBe(
      'Quota configs for the default client-id are request_percentage=50.0\n',
    );
    expect(
      (
        await kch(quotas, [
          'describe',
          '--entity-type',
          'users',
          '--entity-name',
          'alice',
          '--entity-type',
          'clients',
        ])
      ).stdout,
    ).toBe("Quota configs for user-principal 'alice', client-id 'etl' are producer_byte_rate=4194304.0\n");
    const json = JSON.parse((await kch(quotas, ['describe', '--json'])).stdout);
    expect(json).toContainEqual({ entity: { 'client-id': null }, quotas: { request_percentage: 50 } });
  });

  it('deletes a quota, and refuses to delete one the entity does not have', async () => {
    await kch(quotas, [
      'alter',
      '--entity-type',
      'clients',
      '--entity-name',
      'batch',
      '--add-config',
      'consumer_byte_rate=1024,producer_byte_rate=2048',
    ]);
    const del = await kch(quotas, [
      'alter',
      '--entity-type',
      'clients',
      '--entity-name',
      'batch',
      '--delete-config',
      'consumer_byte_rate',
    ]);
    expect(del.stdout).toBe('Completed updating config for client batch.\n');
    expect(
      (await kch(quotas, ['describe', '--entity-type', 'clients', '--entity-name', 'batch'])).stdout,
    ).toBe("Quota configs for client-id 'batch' are producer_byte_rate=2048.0\n");
    const missing = await kch(quotas, [
      'alter',
      '--entity-type',
      'clients',
      '--entity-name',
      'batch',
      '--delete-config',
      'consumer_byte_rate',
    ]);
    expect(missing).toMatchObject({
      code: ExitCode.FAILURE,
      stderr: 'kch quotas: Invalid config(s): consumer_byte_rate\n',
    });
  });

  it.each([
    [
      ['alter', '--entity-type', 'users', '--add-config', 'producer_byte_rate=1'],
      'An entity name must be specified for every entity type',
    ],
    [
      ['alter', '--entity-type', 'topics', '--entity-name', 't', '--add-config', 'a=1'],
      'Invalid entity type topics',
    ],
    [
      [
        'alter',
        '--entity-type',
        'users',
        '--entity-name',
        'a',
        '--entity-type',
        'users',
        '--entity-name',
        'b',
        '--add-config',
        'x=1',
      ],
      'Duplicate entity type(s) specified: users',
    ],
    [
      ['alter', '--entity-type', 'users', '--entity-name', 'a'],
      'At least one of --add-config or --delete-config must be specified with alter',
    ],
    [
      ['alter', '--entity-type', 'users', '--entity-name', 'a', '--add-config', 'producer_byte_rate'],
      'Invalid entity config: all configs to be added must be in the format',
    ],
    [
      ['alter', '--entity-type', 'users', '--entity-name', 'a', '--add-config', 'producer_byte_rate=fast'],
      'Cannot parse quota configuration value for producer_byte_rate: fast',
    ],
    [
      ['alter', '--entity-type', 'users', '--entity-name', 'a', '--add-config', 'SCRAM-SHA-256=[password=x]'],
      'Only quota configs can be added (producer_byte_rate, consumer_byte_rate, request_percentage, controller_mutation_rate). Unexpected config names: SCRAM-SHA-256; SCRAM credentials are kch users add and delete',
    ],
    [['describe', '--entity-name', 'a'], 'More entity names specified than entity types'],
  ])('refuses %j with the usage', async (args, message) => {
    const r = await kch(quotas, args);
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.stderr).toContain(`kch quotas: ${message}`);
  });

  it('passes on the broker’s refusal of a value', async () => {
    const r = await kch(quotas, [
      'alter',
      '--entity-type',
      'users',
      '--entity-name',
      'a',
      '--add-config',
      'producer_byte_rate=-5',
    ]);
    expect(r.code).toBe(ExitCode.FAILURE);
    expect(r.stderr).toMatch(
      /^kch quotas: altering the quotas of user-principal 'a' failed: INVALID_REQUEST/,
    );
  });
});

describe('kch users, acls and quotas over TLS with a properties file', () => {
  skipEachUnless(openssl);

  it('manage the broker through a SASL_SSL listener', async () => {
    const file = s.file(
      'admin.properties',
      `security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";\nssl.truststore.type=PEM\nssl.truststore.location=${s.certs.caCert}\n`,
    );
    const over = ['-b', s.at.SASL_SSL, '--command-config', file];
    expect((await run(users, ['add', 'gina', '--password', 'gina-secret', ...over])).code).toBe(ExitCode.OK);
    expect(
      (
        await run(acls, [
          'add',
          '--allow-principal',
          'User:gina',
          '--cluster',
          '--operation',
          'Describe',
          ...over,
        ])
      ).code,
    ).toBe(ExitCode.OK);
    expect((await run(quotas, ['describe', ...over])).code).toBe(ExitCode.OK);
  });
});
