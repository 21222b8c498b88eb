/**
 * A broker with security, in process, for the tests of the client security options, `kch users`,
 * `kch acls`, `kch quotas` and the admin server's authentication: listeners of every security
 * protocol on free loopback ports (the TLS ones advertised as localhost, which the test certificate
 * names), PLAIN users in the configuration, SCRAM users in the store, OAUTHBEARER tokens verified
 * against a JWKS file, and the ACL authorizer with User:admin as super user.
 */
import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Broker,
  type BrokerOptionsInput,
  createBroker,
  type ScramMechanismName,
  silentLogger,
} from '@kch/broker';
import { memoryStorage } from '@kch/storage';
import { scramCredential } from '../../broker/src/security/sasl/scram.js';
import { makeCertificates, type TestCertificates } from '../../broker/test/helpers/certs.js';

export const ISSUER = 'https://idp.kch.test';

export interface SecureBroker {
  broker: Broker;
  certs: TestCertificates;
  /** host:port of each listener: PLAINTEXT, SASL_PLAINTEXT, SASL_SSL, SSL (client certificates required). */
  at: Record<'PLAINTEXT' | 'SASL_PLAINTEXT' | 'SASL_SSL' | 'SSL', string>;
  /** A JWT signed by the key the broker trusts, naming `sub`, expiring in `ttlSeconds` (negative: expired). */
  token(sub: string, ttlSeconds?: number): string;
  /** Writes a file in the certificates' directory and returns its path. */
  file(name: string, content: string): string;
  close(): Promise<void>;
}

/** Adds a SCRAM credential straight to the broker's store, as AlterUserScramCredentials would. */
export async function addScramUser(
  broker: Broker,
  user: string,
  password: string,
  mechanism: ScramMechanismName = 'SCRAM-SHA-256',
): Promise<void> {
  await broker.context.security.store.putScramCredential(
    await scramCredential(user, mechanism, password, 4096),
  );
}

function signedToken(key: KeyObject, sub: string, ttlSeconds: number): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = `${part({ alg: 'RS256', typ: 'JWT', kid: 'test-key' })}.${part({ sub, iss: ISSUER, iat: now - 60, exp: now + ttlSeconds })}`;
  return `${head}.${createSign('SHA256').update(head).sign(key).toString('base64url')}`;
}

export async function startSecureBroker(options: Partial<BrokerOptionsInput> = {}): Promise<SecureBroker> {
  const certs = makeCertificates();
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwksFile = join(certs.dir, 'jwks.json');
  writeFileSync(
    jwksFile,
    JSON.stringify({
      keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256', use: 'sig' }],
    }),
  );
  const tls = { cert: certs.serverCert, key: certs.serverKey };
  const broker = await createBroker({
    storage: memoryStorage(),
    logger: process.env.KCH_TEST_LOG ? undefined : silentLogger,
    groupInitialRebalanceDelayMs: 0,
    // Failed authentications are answered at once: the tests make several on purpose.
    connectionFailedAuthenticationDelayMs: 0,
    sasl: {
      enabledMechanisms: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'],
      plainUsers: { admin: 'admin-secret', alice: 'alice-secret' },
      oauthBearer: { jwksFile, expectedIssuer: ISSUER },
    },
    authorizer: { superUsers: ['User:admin'] },
    listeners: [
      { name: 'PLAINTEXT', host: '127.0.0.1', port: 0, securityProtocol: 'PLAINTEXT' },
      {
        name: 'SASL_PLAINTEXT',
        host: '127.0.0.1',
        port: 0,
        securityProtocol: 'SASL_PLAINTEXT',
        saslMechanisms: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'],
      },
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
    ...options,
  });
  await broker.listen();
  const port = (name: string) => broker.boundListeners.get(name)!.port;
  return {
    broker,
    certs,
    at: {
      PLAINTEXT: `127.0.0.1:${port('PLAINTEXT')}`,
      SASL_PLAINTEXT: `127.0.0.1:${port('SASL_PLAINTEXT')}`,
      SASL_SSL: `localhost:${port('SASL_SSL')}`,
      SSL: `localhost:${port('SSL')}`,
    },
    token: (sub, ttlSeconds = 3600) => signedToken(privateKey, sub, ttlSeconds),
    file(name, content) {
      const path = join(certs.dir, name);
      writeFileSync(path, content);
      return path;
    },
    async close() {
      await broker.close();
      rmSync(certs.dir, { recursive: true, force: true });
    },
  };
}

/** The flags of a SASL_PLAINTEXT connection as `user` (the password goes in KCH_SASL_PASSWORD). */
export function saslFlags(at: string, user: string, mechanism = 'PLAIN'): string[] {
  return [
    '-b',
    at,
    '--security-protocol',
    'SASL_PLAINTEXT',
    '--sasl-mechanism',
    mechanism,
    '--sasl-username',
    user,
  ];
}
