/**
 * Real clients over real TLS and SASL: librdkafka through python3-confluent-kafka and kcat (PLAIN,
 * SCRAM-SHA-256/512, OAUTHBEARER with a signed token and the unsecured development token, TLS client
 * certificates), and kafka-python (PLAIN and SCRAM, over SASL_SSL and SASL_PLAINTEXT).
 */
import { createSign, generateKeyPairSync } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Broker, createBroker, silentLogger } from '@kch/broker';
import { memoryStorage } from '@kch/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scramCredential } from '../src/security/sasl/scram.js';
import { makeCertificates, type TestCertificates } from './helpers/certs.js';
import { run } from './helpers/run.js';
import { skipEachUnless } from './helpers/skip.js';
import { confluentKafka, kafkaPython, kcat, openssl, PYTHON } from './helpers/tools.js';

const script = (name: string) => fileURLToPath(new URL(`./python/${name}`, import.meta.url));

const ISSUER = 'https://idp.kch.test';

function base64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** A JWT signed RS256 with `key`, naming `sub`, expiring in `ttlSeconds` (negative: expired). */
function signedToken(
  key: ReturnType<typeof generateKeyPairSync>['privateKey'],
  sub: string,
  ttlSeconds: number,
): { token: string; exp: number } {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + ttlSeconds;
  const head = `${base64url({ alg: 'RS256', typ: 'JWT', kid: 'test-key' })}.${base64url({ sub, iss: ISSUER, iat: now - 60, exp })}`;
  const signature = createSign('SHA256').update(head).sign(key).toString('base64url');
  return { token: `${head}.${signature}`, exp };
}

interface Setup {
  certs: TestCertificates;
  broker: Broker;
  unsecured: Broker;
  ports: Record<string, number>;
  unsecuredPort: number;
  privateKey: ReturnType<typeof generateKeyPairSync>['privateKey'];
}

const needed = {
  available: openssl.available && (confluentKafka.available || kcat.available || kafkaPython.available),
  reason: [openssl, confluentKafka, kcat, kafkaPython].find((t) => !t.available)?.reason ?? '',
};

describe('real clients over TLS and SASL', () => {
  skipEachUnless(openssl);
  let s: Setup;

  beforeAll(async () => {
    if (!needed.available) return;
    const certs = makeCertificates();
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwksFile = `${certs.dir}/jwks.json`;
    writeFileSync(
      jwksFile,
      JSON.stringify({
        keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256', use: 'sig' }],
      }),
    );
    const tls = { cert: certs.serverCert, key: certs.serverKey };
    const broker = await createBroker({
      storage: memoryStorage(),
      logger: silentLogger,
      groupInitialRebalanceDelayMs: 0,
      sasl: {
        enabledMechanisms: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'],
        plainUsers: { alice: 'alice-secret' },
        oauthBearer: { jwksFile, expectedIssuer: ISSUER },
      },
      listeners: [
        { name: 'SASL_PLAINTEXT', host: '127.0.0.1', port: 0, securityProtocol: 'SASL_PLAINTEXT' },
        {
          name: 'SASL_SSL',
          host: '127.0.0.1',
          port: 0,
          securityProtocol: 'SASL_SSL',
          advertisedHost: 'localhost',
          tls,
        },
        {
          name: 'SSL',
          host: '127.0.0.1',
          port: 0,
          securityProtocol: 'SSL',
          advertisedHost: 'localhost',
          tls: { ...tls, ca: certs.caCert, clientAuth: 'required' },
        },
      ],
    });
    await broker.listen();
    const store = broker.context.security.store;
    await store.putScramCredential(await scramCredential('bob', 'SCRAM-SHA-256', 'bob-secret', 4096));
    await store.putScramCredential(await scramCredential('bob', 'SCRAM-SHA-512', 'bob-secret', 4096));
    const unsecured = await createBroker({
      storage: memoryStorage(),
      logger: silentLogger,
      groupInitialRebalanceDelayMs: 0,
      sasl: { enabledMechanisms: ['OAUTHBEARER'], oauthBearer: { allowUnsecured: true } },
      listeners: [{ name: 'DEV', host: '127.0.0.1', port: 0, securityProtocol: 'SASL_PLAINTEXT' }],
    });
    const unsecuredPort = (await unsecured.listen()).port;
    const ports = Object.fromEntries([...broker.boundListeners].map(([name, b]) => [name, b.port]));
    s = { certs, broker, unsecured, ports, unsecuredPort, privateKey };
  });

  afterAll(async () => {
    await s?.broker.close();
    await s?.unsecured.close();
    if (s) rmSync(s.certs.dir, { recursive: true, force: true });
  });

  /** librdkafka properties for a listener of the main broker. */
  function rdkafka(
    listener: 'SASL_PLAINTEXT' | 'SASL_SSL' | 'SSL',
    extra: Record<string, string>,
  ): Record<string, string> {
    const host = listener === 'SASL_PLAINTEXT' ? '127.0.0.1' : 'localhost';
    return {
      'bootstrap.servers': `${host}:${s.ports[listener]}`,
      'security.protocol': listener,
      ...(listener === 'SASL_PLAINTEXT' ? {} : { 'ssl.ca.location': s.certs.caCert }),
      ...extra,
    };
  }

  async function confluent(config: Record<string, unknown>, topic: string) {
    const r = await run(PYTHON, [script('confluent_security.py'), JSON.stringify(config), topic], {
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { delivered: number; consumed: string[]; error: string | null };
  }

  const expected = Array.from({ length: 10 }, (_, i) => `secure-${i}`);

  describe('confluent-kafka', () => {
    skipEachUnless(confluentKafka);

    it.each([
      [
        'PLAIN',
        'SASL_PLAINTEXT',
        { 'sasl.mechanism': 'PLAIN', 'sasl.username': 'alice', 'sasl.password': 'alice-secret' },
      ],
      [
        'PLAIN',
        'SASL_SSL',
        { 'sasl.mechanism': 'PLAIN', 'sasl.username': 'alice', 'sasl.password': 'alice-secret' },
      ],
      [
        'SCRAM-SHA-256',
        'SASL_PLAINTEXT',
        { 'sasl.mechanism': 'SCRAM-SHA-256', 'sasl.username': 'bob', 'sasl.password': 'bob-secret' },
      ],
      [
        'SCRAM-SHA-256',
        'SASL_SSL',
        { 'sasl.mechanism': 'SCRAM-SHA-256', 'sasl.username': 'bob', 'sasl.password': 'bob-secret' },
      ],
      [
        'SCRAM-SHA-512',
        'SASL_SSL',
        { 'sasl.mechanism': 'SCRAM-SHA-512', 'sasl.username': 'bob', 'sasl.password': 'bob-secret' },
      ],
      [
        'a client certificate',
        'SSL',
        { 'ssl.certificate.location': 'CLIENT_CERT', 'ssl.key.location': 'CLIENT_KEY' },
      ],
    ] as const)('produces and consumes with %s over %s', async (mechanism, listener, extra) => {
      const props: Record<string, string> = { ...extra };
      if (props['ssl.certificate.location']) {
        props['ssl.certificate.location'] = s.certs.clientCert;
        props['ssl.key.location'] = s.certs.clientKey;
      }
      const topic = `ck-${mechanism.replace(/ /g, '-')}-${listener}`.toLowerCase();
      const out = await confluent(rdkafka(listener, props), topic);
      expect(out).toEqual({ delivered: 10, consumed: expected, error: null });
    });

    it('authenticates with a signed OAUTHBEARER token and refuses an expired one', async () => {
      const valid = signedToken(s.privateKey, 'carol', 3600);
      const ok = await confluent(
        {
          ...rdkafka('SASL_SSL', { 'sasl.mechanism': 'OAUTHBEARER' }),
          oauth_token: valid.token,
          oauth_expiry: valid.exp,
        },
        'ck-oauth',
      );
      expect(ok).toEqual({ delivered: 10, consumed: expected, error: null });
      const expired = signedToken(s.privateKey, 'carol', -3600);
      const refused = await confluent(
        {
          ...rdkafka('SASL_SSL', { 'sasl.mechanism': 'OAUTHBEARER', 'message.timeout.ms': '3000' }),
          oauth_token: expired.token,
          oauth_expiry: expired.exp + 7200,
        },
        'ck-oauth-expired',
      );
      expect(refused.delivered).toBe(0);
      expect(refused.error).toMatch(/Authentication failed|invalid_token|SASL/i);
    });

    it('refuses a wrong password with an authentication error, and nothing is stored', async () => {
      const out = await confluent(
        rdkafka('SASL_SSL', {
          'sasl.mechanism': 'SCRAM-SHA-512',
          'sasl.username': 'bob',
          'sasl.password': 'wrong',
          // Refused at once; the producer gives up when its messages time out.
          'message.timeout.ms': '3000',
        }),
        'ck-refused',
      );
      expect(out.delivered).toBe(0);
      expect(out.error).toMatch(/Authentication failed/);
      expect(s.broker.context.topics.get('ck-refused')).toBeUndefined();
    });
  });

  describe('kcat', () => {
    skipEachUnless(kcat);

    function kcatArgs(props: Record<string, string>): string[] {
      return Object.entries(props).flatMap(([k, v]) => ['-X', `${k}=${v}`]);
    }

    it('produces and consumes with SCRAM-SHA-512 over SASL_SSL', async () => {
      const props = rdkafka('SASL_SSL', {
        'sasl.mechanism': 'SCRAM-SHA-512',
        'sasl.username': 'bob',
        'sasl.password': 'bob-secret',
      });
      const { 'bootstrap.servers': bootstrap, ...rest } = props;
      const p = await run('kcat', ['-b', bootstrap!, ...kcatArgs(rest), '-P', '-t', 'kcat-scram'], {
        input: 'one\ntwo\n',
      });
      expect(p.code, p.stderr).toBe(0);
      const c = await run('kcat', [
        '-b',
        bootstrap!,
        ...kcatArgs(rest),
        '-C',
        '-t',
        'kcat-scram',
        '-e',
        '-q',
      ]);
      expect(c.code, c.stderr).toBe(0);
      expect(c.stdout).toBe('one\ntwo\n');
    });

    it('uses the unsecured OAUTHBEARER token only where the broker allows it', async () => {
      const dev = [
        '-X',
        'security.protocol=SASL_PLAINTEXT',
        '-X',
        'sasl.mechanism=OAUTHBEARER',
        '-X',
        'enable.sasl.oauthbearer.unsecure.jwt=true',
        '-X',
        'sasl.oauthbearer.config=principal=dave',
      ];
      const p = await run('kcat', ['-b', `127.0.0.1:${s.unsecuredPort}`, ...dev, '-L', '-m', '10']);
      expect(p.code, p.stderr).toBe(0);
      expect(p.stdout).toContain('1 brokers');
      const failures: string[] = [];
      const onAuth = (e: { error?: string; mechanism: string }) => e.error && failures.push(e.error);
      s.broker.on('authentication', onAuth);
      const refused = await run('kcat', [
        '-b',
        `127.0.0.1:${s.ports.SASL_PLAINTEXT}`,
        ...dev,
        '-L',
        '-m',
        '2',
      ]);
      s.broker.off('authentication', onAuth);
      expect(refused.code).not.toBe(0);
      expect(failures[0]).toMatch(/invalid_token|unsecured|alg/i);
    });
  });

  describe('kafka-python', () => {
    skipEachUnless(kafkaPython);

    it.each([
      [
        'PLAIN',
        'SASL_SSL',
        { sasl_mechanism: 'PLAIN', sasl_plain_username: 'alice', sasl_plain_password: 'alice-secret' },
      ],
      [
        'SCRAM-SHA-256',
        'SASL_PLAINTEXT',
        { sasl_mechanism: 'SCRAM-SHA-256', sasl_plain_username: 'bob', sasl_plain_password: 'bob-secret' },
      ],
    ] as const)('produces and consumes with %s over %s', async (mechanism, listener, extra) => {
      const host = listener === 'SASL_SSL' ? 'localhost' : '127.0.0.1';
      const config = {
        bootstrap_servers: `${host}:${s.ports[listener]}`,
        security_protocol: listener,
        ...(listener === 'SASL_SSL' ? { ssl_cafile: s.certs.caCert } : {}),
        ...extra,
      };
      const topic = `kp-${mechanism}-${listener}`.toLowerCase();
      const r = await run(PYTHON, [script('kafka_python_security.py'), JSON.stringify(config), topic], {
        timeoutMs: 60_000,
      });
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toEqual({ offsets: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], consumed: expected, error: null });
    });
  });
});
