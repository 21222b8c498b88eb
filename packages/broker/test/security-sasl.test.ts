/**
 * SASL over real sockets: kafkajs with PLAIN and SCRAM on SASL_PLAINTEXT and SASL_SSL listeners, and a
 * bare connection for what no client library does on purpose: requests before authentication, a v0
 * handshake with raw tokens, a session that expires (KIP-368).
 */
import { createSign, generateKeyPairSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import { type AuthenticationEvent, type Broker, createBroker, silentLogger } from '@kch/broker';
import { RawClient } from '@kch/kafka-connection';
import { type ApiMessages, type ApiName, ErrorCode, type Init } from '@kch/protocol';
import { memoryStorage } from '@kch/storage';
import { ConfigResourceTypes, Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scramCredential } from '../src/security/sasl/scram.js';
import { makeCertificates, type TestCertificates } from './helpers/certs.js';
import { skipEachUnless } from './helpers/skip.js';
import { openssl } from './helpers/tools.js';

const PLAIN_USERS = { admin: 'admin-secret', alice: 'alice-secret' };

/** A bare connection whose answers are undefined once the broker has closed it. */
async function open(port: number) {
  const c = await RawClient.connect('127.0.0.1', port, { clientId: 'raw' });
  return {
    request: <K extends ApiName>(api: K, version: number, body: Init<ApiMessages[K]['request']>) =>
      c.send(api, version, body).catch(() => undefined),
    sendToken: (token: Buffer) => c.sendSaslToken(token).catch(() => undefined),
    whenClosed: c.whenClosed(),
    close: () => c.close(),
  };
}

function plainToken(user: string, password: string): Buffer {
  return Buffer.from(`\0${user}\0${password}`);
}

describe('SASL', () => {
  skipEachUnless(openssl);
  let certs: TestCertificates;
  let broker: Broker;
  let ports: Record<string, number>;
  const auths: AuthenticationEvent[] = [];

  beforeAll(async () => {
    if (!openssl.available) return;
    certs = makeCertificates();
    broker = await createBroker({
      storage: memoryStorage(),
      logger: silentLogger,
      groupInitialRebalanceDelayMs: 0,
      connectionFailedAuthenticationDelayMs: 50,
      sasl: { enabledMechanisms: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'], plainUsers: PLAIN_USERS },
      listeners: [
        { name: 'SASL', host: '127.0.0.1', port: 0, securityProtocol: 'SASL_PLAINTEXT' },
        {
          name: 'SECURE',
          host: '127.0.0.1',
          port: 0,
          securityProtocol: 'SASL_SSL',
          tls: { cert: certs.serverCert, key: certs.serverKey },
        },
      ],
    });
    broker.on('authentication', (e) => auths.push(e));
    await broker.listen();
    ports = Object.fromEntries([...broker.boundListeners].map(([name, b]) => [name, b.port]));
    const store = broker.context.security.store;
    await store.putScramCredential(await scramCredential('bob', 'SCRAM-SHA-256', 'bob-secret', 4096));
    await store.putScramCredential(await scramCredential('bob', 'SCRAM-SHA-512', 'bob-secret', 8192));
  });

  afterAll(async () => {
    await broker?.close();
    if (certs) rmSync(certs.dir, { recursive: true, force: true });
  });

  function client(listener: 'SASL' | 'SECURE', sasl: SASLOptions): Kafka {
    return new Kafka({
      clientId: 'sasl-test',
      brokers: [`localhost:${ports[listener]}`],
      sasl,
      ssl: listener === 'SECURE' ? { ca: [certs.pem(certs.caCert)] } : undefined,
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    });
  }

  type PasswordSasl = Extract<SASLOptions, { username: string }>;
  const mechanisms: [string, 'SASL' | 'SECURE', PasswordSasl][] = [
    ['PLAIN on SASL_PLAINTEXT', 'SASL', { mechanism: 'plain', username: 'alice', password: 'alice-secret' }],
    ['PLAIN on SASL_SSL', 'SECURE', { mechanism: 'plain', username: 'alice', password: 'alice-secret' }],
    ['PLAIN with a SCRAM user', 'SASL', { mechanism: 'plain', username: 'bob', password: 'bob-secret' }],
    [
      'SCRAM-SHA-256 on SASL_PLAINTEXT',
      'SASL',
      { mechanism: 'scram-sha-256', username: 'bob', password: 'bob-secret' },
    ],
    [
      'SCRAM-SHA-512 on SASL_SSL',
      'SECURE',
      { mechanism: 'scram-sha-512', username: 'bob', password: 'bob-secret' },
    ],
  ];

  it.each(mechanisms)('kafkajs produces and consumes with %s', async (_name, listener, sasl) => {
    const kafka = client(listener, sasl);
    const topic = `sasl-${sasl.mechanism}-${listener}-${sasl.username}`;
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'authenticated' }] });
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    expect(offsets[0]!.high).toBe('1');
    expect(auths.some((a) => a.principal === `User:${sasl.username}` && a.listener === listener)).toBe(true);
  });

  async function refusal(sasl: SASLOptions): Promise<string | undefined> {
    const admin = client('SASL', sasl).admin();
    const error = await admin.connect().then(
      () => undefined,
      (e: Error) => e,
    );
    await admin.disconnect();
    return error?.message;
  }

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)(
    'refuses a wrong %s password and an unknown user alike, without saying which',
    async (mechanism) => {
      const wrongPassword = await refusal({ mechanism, username: 'bob', password: 'wrong' } as SASLOptions);
      const unknownUser = await refusal({ mechanism, username: 'nobody', password: 'wrong' } as SASLOptions);
      expect(wrongPassword).toMatch(/Authentication failed/);
      expect(unknownUser).toBe(wrongPassword);
      expect(wrongPassword).not.toContain('bob');
      expect(
        auths.filter((a) => a.error !== undefined && a.mechanism === mechanism.toUpperCase()).length,
      ).toBeGreaterThanOrEqual(2);
    },
  );

  it("reports its listeners and SASL settings under Kafka's names in DescribeConfigs", async () => {
    const admin = client('SASL', { mechanism: 'plain', username: 'admin', password: 'admin-secret' }).admin();
    await admin.connect();
    const { resources } = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.BROKER, name: '1' }],
      includeSynonyms: false,
    });
    await admin.disconnect();
    const value = (name: string) =>
      resources[0]!.configEntries.find((e) => e.configName === name)?.configValue;
    expect(value('listener.security.protocol.map')).toBe('SASL:SASL_PLAINTEXT,SECURE:SASL_SSL');
    expect(value('advertised.listeners')).toBe(
      `SASL://127.0.0.1:${ports.SASL},SECURE://127.0.0.1:${ports.SECURE}`,
    );
    expect(value('sasl.enabled.mechanisms')).toBe('PLAIN,SCRAM-SHA-256,SCRAM-SHA-512');
    expect(value('connection.failed.authentication.delay.ms')).toBe('50');
    expect(value('authorizer.class.name')).toBe('');
  });

  it('closes a connection that sends anything but ApiVersions and the SASL exchange before authenticating', async () => {
    const raw = await open(ports.SASL!);
    const versions = await raw.request('ApiVersions', 3, {
      clientSoftwareName: 'raw',
      clientSoftwareVersion: '1',
    });
    expect(versions?.errorCode).toBe(ErrorCode.NONE);
    expect(
      await raw.request('Metadata', 12, {
        topics: null,
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: false,
      }),
    ).toBeUndefined();
    await raw.whenClosed;
    // The listener still serves others.
    const kafka = client('SASL', { mechanism: 'plain', username: 'admin', password: 'admin-secret' });
    const admin = kafka.admin();
    await admin.connect();
    await admin.listTopics();
    await admin.disconnect();
  });

  it('answers an unknown mechanism with the enabled ones, then closes', async () => {
    const raw = await open(ports.SASL!);
    const r = await raw.request('SaslHandshake', 1, { mechanism: 'GSSAPI' });
    expect(r?.errorCode).toBe(ErrorCode.UNSUPPORTED_SASL_MECHANISM);
    expect(r?.mechanisms).toEqual(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']);
    await raw.whenClosed;
  });

  it('authenticates a v0 handshake with raw tokens (no SaslAuthenticate)', async () => {
    const raw = await open(ports.SASL!);
    expect((await raw.request('SaslHandshake', 0, { mechanism: 'PLAIN' }))?.errorCode).toBe(ErrorCode.NONE);
    expect((await raw.sendToken(plainToken('alice', 'alice-secret')))?.length).toBe(0);
    const meta = await raw.request('Metadata', 1, { topics: null });
    expect(meta?.brokers[0]?.port).toBe(ports.SASL);
    raw.close();
    const bad = await open(ports.SASL!);
    await bad.request('SaslHandshake', 0, { mechanism: 'PLAIN' });
    expect(await bad.sendToken(plainToken('alice', 'wrong'))).toBeUndefined();
  });

  it('answers a second SaslAuthenticate after success with ILLEGAL_SASL_STATE and keeps serving', async () => {
    const raw = await open(ports.SASL!);
    await raw.request('SaslHandshake', 1, { mechanism: 'PLAIN' });
    const ok = await raw.request('SaslAuthenticate', 2, { authBytes: plainToken('admin', 'admin-secret') });
    expect(ok?.errorCode).toBe(ErrorCode.NONE);
    expect(ok?.sessionLifetimeMs).toBe(0n);
    const again = await raw.request('SaslAuthenticate', 2, {
      authBytes: plainToken('admin', 'admin-secret'),
    });
    expect(again?.errorCode).toBe(ErrorCode.ILLEGAL_SASL_STATE);
    expect((await raw.request('Metadata', 1, { topics: null }))?.brokers).toHaveLength(1);
    raw.close();
  });
});

describe('SASL sessions (KIP-368)', () => {
  let broker: Broker;
  let port: number;
  const renewals: AuthenticationEvent[] = [];

  beforeAll(async () => {
    broker = await createBroker({
      storage: memoryStorage(),
      logger: silentLogger,
      connectionsMaxReauthMs: 400,
      sasl: { plainUsers: PLAIN_USERS },
      listeners: [{ name: 'SASL', host: '127.0.0.1', port: 0, securityProtocol: 'SASL_PLAINTEXT' }],
    });
    broker.on('authentication', (e) => e.reauthentication && renewals.push(e));
    port = (await broker.listen()).port;
  });

  afterAll(() => broker?.close());

  it('tells the client its session lifetime and closes the connection once it expired without re-authentication', async () => {
    const raw = await open(port);
    await raw.request('SaslHandshake', 1, { mechanism: 'PLAIN' });
    // Taken before the broker authenticates (and starts the session's clock), so it is a lower bound.
    const authenticatedAt = Date.now();
    const ok = await raw.request('SaslAuthenticate', 1, { authBytes: plainToken('alice', 'alice-secret') });
    expect(ok?.errorCode).toBe(ErrorCode.NONE);
    expect(Number(ok?.sessionLifetimeMs)).toBeGreaterThan(0);
    expect(Number(ok?.sessionLifetimeMs)).toBeLessThanOrEqual(400);
    // Served while the session lasts; once it expired, the next request closes the connection.
    await expect
      .poll(async () => (await raw.request('Metadata', 1, { topics: null })) === undefined, {
        timeout: 5000,
        interval: 50,
      })
      .toBe(true);
    expect(Date.now() - authenticatedAt).toBeGreaterThanOrEqual(400);
  });

  it('re-authenticates on the same connection and keeps serving it', async () => {
    const raw = await open(port);
    await raw.request('SaslHandshake', 1, { mechanism: 'PLAIN' });
    await raw.request('SaslAuthenticate', 1, { authBytes: plainToken('alice', 'alice-secret') });
    for (let i = 0; i < 3; i++) {
      expect((await raw.request('SaslHandshake', 1, { mechanism: 'PLAIN' }))?.errorCode).toBe(ErrorCode.NONE);
      const again = await raw.request('SaslAuthenticate', 1, {
        authBytes: plainToken('alice', 'alice-secret'),
      });
      expect(again?.errorCode).toBe(ErrorCode.NONE);
      expect((await raw.request('Metadata', 1, { topics: null }))?.brokers).toHaveLength(1);
    }
    expect(renewals.map((e) => e.principal)).toEqual(['User:alice', 'User:alice', 'User:alice']);
    // Re-authenticating as someone else is refused and closes the connection.
    await raw.request('SaslHandshake', 1, { mechanism: 'PLAIN' });
    const other = await raw.request('SaslAuthenticate', 1, {
      authBytes: plainToken('admin', 'admin-secret'),
    });
    expect(other?.errorCode).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    await raw.whenClosed;
  });
});

describe('OAUTHBEARER sessions', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let broker: Broker;
  let port: number;
  const logged: { msg: string; fields: Record<string, unknown> }[] = [];

  /** An RS256 token for `sub` that expires `ttlSeconds` from now (negative: in the past). */
  function token(sub: string, ttlSeconds: number): string {
    const now = Math.floor(Date.now() / 1000);
    const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const head = `${part({ alg: 'RS256', typ: 'JWT' })}.${part({ sub, iat: now - 60, exp: now + ttlSeconds })}`;
    return `${head}.${createSign('SHA256').update(head).sign(privateKey).toString('base64url')}`;
  }

  const initialResponse = (jwt: string) => Buffer.from(`n,,\u0001auth=Bearer ${jwt}\u0001\u0001`);

  beforeAll(async () => {
    const capture = (msg: string, fields: Record<string, unknown> = {}) => logged.push({ msg, fields });
    broker = await createBroker({
      storage: memoryStorage(),
      logger: { debug: capture, info: capture, warn: capture, error: capture },
      connectionFailedAuthenticationDelayMs: 0,
      sasl: {
        enabledMechanisms: ['OAUTHBEARER'],
        oauthBearer: { publicKey: publicKey.export({ format: 'pem', type: 'spki' }).toString() },
      },
      listeners: [{ name: 'SASL', host: '127.0.0.1', port: 0, securityProtocol: 'SASL_PLAINTEXT' }],
    });
    port = (await broker.listen()).port;
  });

  afterAll(() => broker?.close());

  it('ends the session of a token accepted within the clock skew after its expiry at its next request', async () => {
    const raw = await open(port);
    await raw.request('SaslHandshake', 1, { mechanism: 'OAUTHBEARER' });
    const ok = await raw.request('SaslAuthenticate', 1, { authBytes: initialResponse(token('carol', -5)) });
    expect(ok?.errorCode).toBe(ErrorCode.NONE);
    expect(ok?.sessionLifetimeMs).toBe(0n);
    expect(await raw.request('Metadata', 1, { topics: null })).toBeUndefined();
    await raw.whenClosed;
  });

  it('bounds the session by the token and logs why a token was refused, never the token', async () => {
    const raw = await open(port);
    await raw.request('SaslHandshake', 1, { mechanism: 'OAUTHBEARER' });
    const ok = await raw.request('SaslAuthenticate', 1, { authBytes: initialResponse(token('carol', 3600)) });
    expect(Number(ok?.sessionLifetimeMs)).toBeGreaterThan(3_500_000);
    expect(Number(ok?.sessionLifetimeMs)).toBeLessThanOrEqual(3_600_000);
    raw.close();
    const refused = await open(port);
    await refused.request('SaslHandshake', 1, { mechanism: 'OAUTHBEARER' });
    const expired = token('carol', -3600);
    const first = await refused.request('SaslAuthenticate', 1, { authBytes: initialResponse(expired) });
    expect(first?.authBytes.toString()).toBe('{"status":"invalid_token"}');
    const final = await refused.request('SaslAuthenticate', 1, { authBytes: Buffer.from([1]) });
    expect(final?.errorCode).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    const line = logged.find((l) => l.msg === 'authentication failed');
    expect(String(line?.fields.detail)).toMatch(/expired/);
    expect(JSON.stringify(logged)).not.toContain(expired.split('.')[2]);
  });
});
