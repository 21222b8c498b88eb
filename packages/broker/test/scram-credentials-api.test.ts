/**
 * AlterUserScramCredentials and DescribeUserScramCredentials through the codec, with Kafka's error
 * codes and messages, and the credentials they store authenticating with SCRAM (kafkajs's client) and PLAIN.
 */
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { ApiKeys, ErrorCode } from '@kch/protocol';
import { memoryStorage } from '@kch/storage';
import { beforeEach, describe, expect, it } from 'vitest';
import { apiTable } from '../src/api-table.js';
import { createBroker } from '../src/broker.js';
import type { BrokerContext } from '../src/context.js';
import type { RequestContext } from '../src/handler.js';
import alterUserScramCredentials from '../src/handlers/alter-user-scram-credentials.js';
import describeUserScramCredentials from '../src/handlers/describe-user-scram-credentials.js';
import { HANDLERS } from '../src/handlers/index.js';
import { silentLogger } from '../src/logger.js';
import {
  AclOperation,
  AclPermissionType,
  CLUSTER_NAME,
  PatternType,
  ResourceType,
} from '../src/security/acl-codes.js';
import { createMechanism } from '../src/security/sasl/mechanism.js';
import { adminBroker, call } from './admin-helpers.js';
import { kafkajsAuthenticate } from './helpers/sasl-client.js';

const SHA256 = 1;
const SHA512 = 2;

/** An upsertion as Kafka's admin client makes it: the client salts and iterates the password. */
function upsertion(name: string, mechanism: number, password: string, iterations = 4096) {
  const salt = randomBytes(24);
  const [digest, length] = mechanism === SHA512 ? ['sha512', 64] : ['sha256', 32];
  return {
    name,
    mechanism,
    iterations,
    salt,
    saltedPassword: pbkdf2Sync(password, salt, iterations, length, digest),
  };
}

let broker: BrokerContext;
beforeEach(async () => {
  ({ broker } = await adminBroker());
});

const alter = (request: {
  deletions?: { name: string; mechanism: number }[];
  upsertions?: ReturnType<typeof upsertion>[];
}) => call(broker, alterUserScramCredentials, 0, { deletions: [], upsertions: [], ...request });
const describeUsers = (users: string[] | null) =>
  call(broker, describeUserScramCredentials, 0, {
    users: users === null ? null : users.map((name) => ({ name })),
  });
const ok = (user: string) => ({ user, errorCode: ErrorCode.NONE, errorMessage: null });

describe('AlterUserScramCredentials and DescribeUserScramCredentials', () => {
  it('are served at v0 (ApiVersions advertises them)', () => {
    const table = apiTable(HANDLERS);
    for (const api of ['AlterUserScramCredentials', 'DescribeUserScramCredentials'] as const) {
      expect(table.get(ApiKeys[api])).toMatchObject({ minVersion: 0, maxVersion: 0 });
    }
  });

  it('stored credentials authenticate with SCRAM and PLAIN; a deleted one no longer does', async () => {
    const sent = [upsertion('alice', SHA256, 'alice-secret'), upsertion('bob', SHA512, 'bob-secret', 8192)];
    expect((await alter({ upsertions: sent })).results).toEqual([ok('alice'), ok('bob')]);
    // The broker keeps the salt and the derived keys, not the SaltedPassword the client sent.
    for (const c of await broker.security.store.listScramCredentials()) {
      const u = sent.find((s) => s.name === c.user)!;
      expect(c.salt).toEqual(u.salt);
      expect([c.storedKey, c.serverKey].some((k) => k.equals(u.saltedPassword))).toBe(false);
    }
    const deps = { plainUsers: {}, store: broker.security.store };
    const scram256 = createMechanism('SCRAM-SHA-256', deps);
    const scram512 = createMechanism('SCRAM-SHA-512', deps);
    const plain = createMechanism('PLAIN', deps);
    expect(
      (await kafkajsAuthenticate(scram256, { username: 'alice', password: 'alice-secret' })).principal,
    ).toBe('User:alice');
    expect((await kafkajsAuthenticate(scram512, { username: 'bob', password: 'bob-secret' })).principal).toBe(
      'User:bob',
    );
    expect((await kafkajsAuthenticate(plain, { username: 'bob', password: 'bob-secret' })).principal).toBe(
      'User:bob',
    );
    // A credential is per mechanism: alice has none for SCRAM-SHA-512.
    expect(
      (await kafkajsAuthenticate(scram512, { username: 'alice', password: 'alice-secret' })).clientError,
    ).toBeDefined();

    expect((await alter({ deletions: [{ name: 'alice', mechanism: SHA256 }] })).results).toEqual([
      ok('alice'),
    ]);
    const after = await kafkajsAuthenticate(scram256, { username: 'alice', password: 'alice-secret' });
    expect(after.principal).toBeUndefined();
    expect(after.serverError?.response.toString()).toBe('e=invalid-proof');
  });

  it('an upsertion replaces the credential of the same user and mechanism', async () => {
    await alter({ upsertions: [upsertion('alice', SHA256, 'old')] });
    await alter({ upsertions: [upsertion('alice', SHA256, 'new', 5000)] });
    const scram = createMechanism('SCRAM-SHA-256', { plainUsers: {}, store: broker.security.store });
    expect(
      (await kafkajsAuthenticate(scram, { username: 'alice', password: 'old' })).principal,
    ).toBeUndefined();
    expect((await kafkajsAuthenticate(scram, { username: 'alice', password: 'new' })).principal).toBe(
      'User:alice',
    );
    expect((await describeUsers(['alice'])).results[0]!.credentialInfos).toEqual([
      { mechanism: SHA256, iterations: 5000 },
    ]);
  });

  it("refuses with Kafka's codes: iterations, empty user, unknown mechanism, unknown credential", async () => {
    const response = await alter({
      deletions: [
        { name: 'ghost', mechanism: SHA256 },
        { name: 'x', mechanism: 0 },
        { name: '', mechanism: SHA256 },
      ],
      upsertions: [
        upsertion('few', SHA256, 'p', 4095),
        upsertion('many', SHA512, 'p', 16385),
        upsertion('most', SHA512, 'p', 16384),
        { ...upsertion('unknown', SHA256, 'p'), mechanism: 3 },
      ],
    });
    expect(response.results).toEqual([
      ok('most'),
      {
        user: 'ghost',
        errorCode: ErrorCode.RESOURCE_NOT_FOUND,
        errorMessage: 'Attempt to delete a user credential that does not exist',
      },
      { user: 'x', errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, errorMessage: 'Unknown SCRAM mechanism' },
      { user: '', errorCode: ErrorCode.UNACCEPTABLE_CREDENTIAL, errorMessage: 'Username must not be empty' },
      { user: 'few', errorCode: ErrorCode.UNACCEPTABLE_CREDENTIAL, errorMessage: 'Too few iterations' },
      { user: 'many', errorCode: ErrorCode.UNACCEPTABLE_CREDENTIAL, errorMessage: 'Too many iterations' },
      {
        user: 'unknown',
        errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM,
        errorMessage: 'Unknown SCRAM mechanism',
      },
    ]);
    expect((await broker.security.store.listScramCredentials()).map((c) => c.user)).toEqual(['most']);
  });

  it('a user altered twice in one request is DUPLICATE_RESOURCE once, and none of its alterations apply', async () => {
    await alter({ upsertions: [upsertion('carol', SHA256, 'p'), upsertion('dave', SHA256, 'p')] });
    const dup = {
      errorCode: ErrorCode.DUPLICATE_RESOURCE,
      errorMessage: 'A user credential cannot be altered twice in the same request',
    };
    const response = await alter({
      deletions: [
        { name: 'carol', mechanism: SHA256 },
        { name: 'dave', mechanism: SHA256 },
        { name: 'dave', mechanism: SHA256 },
      ],
      upsertions: [
        upsertion('carol', SHA512, 'p'),
        upsertion('erin', SHA256, 'p'),
        upsertion('erin', SHA512, 'p'),
        upsertion('erin', SHA256, 'p'),
        upsertion('frank', SHA256, 'p'),
      ],
    });
    expect(response.results).toEqual([
      ok('frank'),
      { user: 'dave', ...dup },
      { user: 'carol', ...dup },
      { user: 'erin', ...dup },
    ]);
    const stored = (await broker.security.store.listScramCredentials())
      .map((c) => `${c.user}/${c.mechanism}`)
      .sort();
    expect(stored).toEqual(['carol/SCRAM-SHA-256', 'dave/SCRAM-SHA-256', 'frank/SCRAM-SHA-256']);
  });

  it('describes every user when none is named (null or empty), sorted, mechanisms and iterations only', async () => {
    expect(await describeUsers(null)).toMatchObject({
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      results: [],
    });
    await alter({
      upsertions: [upsertion('zed', SHA512, 'p', 4096), upsertion('amy', SHA512, 'p', 10000)],
    });
    await alter({ upsertions: [upsertion('amy', SHA256, 'p', 4096)] });
    const expected = [
      {
        user: 'amy',
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        credentialInfos: [
          { mechanism: SHA256, iterations: 4096 },
          { mechanism: SHA512, iterations: 10000 },
        ],
      },
      {
        user: 'zed',
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        credentialInfos: [{ mechanism: SHA512, iterations: 4096 }],
      },
    ];
    expect((await describeUsers(null)).results).toEqual(expected);
    expect((await describeUsers([])).results).toEqual(expected);
  });

  it('describes named users: RESOURCE_NOT_FOUND for one without credentials, DUPLICATE_RESOURCE for one named twice', async () => {
    await alter({ upsertions: [upsertion('amy', SHA256, 'p'), upsertion('zed', SHA256, 'p')] });
    const response = await describeUsers(['zed', 'ghost', 'amy', 'zed', 'zed']);
    expect(response.errorCode).toBe(ErrorCode.NONE);
    expect(response.results).toEqual([
      {
        user: 'zed',
        errorCode: ErrorCode.DUPLICATE_RESOURCE,
        errorMessage: 'Cannot describe SCRAM credentials for the same user twice in a single request: zed',
        credentialInfos: [],
      },
      {
        user: 'ghost',
        errorCode: ErrorCode.RESOURCE_NOT_FOUND,
        errorMessage: 'Attempt to describe a user credential that does not exist: ghost',
        credentialInfos: [],
      },
      {
        user: 'amy',
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        credentialInfos: [{ mechanism: SHA256, iterations: 4096 }],
      },
    ]);
  });

  it('a request refused as a whole answers as Kafka getErrorResponse does', () => {
    const ctx = {} as RequestContext;
    const code = ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
    const altered = alterUserScramCredentials.errorResponse(
      {
        deletions: [{ name: 'zed', mechanism: SHA256 }],
        upsertions: [upsertion('amy', SHA256, 'p'), upsertion('zed', SHA512, 'p')],
      },
      code,
      ctx,
    );
    expect(altered.results).toEqual([
      { user: 'amy', errorCode: code, errorMessage: 'Cluster authorization failed.' },
      { user: 'zed', errorCode: code, errorMessage: 'Cluster authorization failed.' },
    ]);
    const described = describeUserScramCredentials.errorResponse({ users: [{ name: 'amy' }] }, code, ctx);
    expect(described).toMatchObject({ errorCode: code, errorMessage: 'Cluster authorization failed.' });
    expect(described.results).toEqual([
      { user: '', errorCode: code, errorMessage: 'Cluster authorization failed.', credentialInfos: [] },
    ]);
  });

  it('need Alter (alter) and Describe (describe) on the cluster once the broker has an authorizer', async () => {
    const storage = memoryStorage();
    const secured = await createBroker({
      storage,
      logger: silentLogger,
      authorizer: { superUsers: ['User:admin'] },
    });
    try {
      const ctx = secured.context; // call() asks as User:ANONYMOUS from 127.0.0.1
      const CAF = ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
      const sent = { deletions: [], upsertions: [upsertion('admin', SHA256, 'taken-over')] };
      expect((await call(ctx, alterUserScramCredentials, 0, sent)).results).toEqual([
        { user: 'admin', errorCode: CAF, errorMessage: 'Cluster authorization failed.' },
      ]);
      expect(await storage.security!.listScramCredentials()).toEqual([]);
      expect(await call(ctx, describeUserScramCredentials, 0, { users: null })).toMatchObject({
        errorCode: CAF,
        results: [],
      });
      await ctx.security.authorizer!.createAcls([
        {
          resourceType: ResourceType.CLUSTER,
          resourceName: CLUSTER_NAME,
          patternType: PatternType.LITERAL,
          principal: 'User:ANONYMOUS',
          host: '*',
          operation: AclOperation.ALTER,
          permissionType: AclPermissionType.ALLOW,
        },
      ]);
      expect((await call(ctx, alterUserScramCredentials, 0, sent)).results).toEqual([ok('admin')]);
      // Alter implies Describe, as in Kafka.
      expect((await call(ctx, describeUserScramCredentials, 0, { users: null })).results).toEqual([
        {
          user: 'admin',
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          credentialInfos: [{ mechanism: SHA256, iterations: 4096 }],
        },
      ]);
    } finally {
      await secured.close();
    }
  });
});
