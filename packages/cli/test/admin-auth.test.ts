/**
 * The admin server with security: https with the broker's certificate, and once the broker has an
 * authorizer, /sql and /views only for an authenticated user of the broker (HTTP Basic with a PLAIN
 * or SCRAM user, or an OAUTHBEARER JWT) with Alter or Describe on the cluster; 401 and 403 as HTTP
 * says them; /metrics and /healthz open. Over real TCP, against a broker in process, with raw https
 * requests and with `kch sql` and `kch views`; then `kch broker`'s options for it.
 */
import { request } from 'node:https';
import {
  AclOperation,
  AclPermissionType,
  type BrokerMetrics,
  brokerMetrics,
  CLUSTER_NAME,
  PatternType,
  ResourceType,
  silentLogger,
} from '@kch/broker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipEachUnless } from '../../broker/test/helpers/skip.js';
import { openssl } from '../../broker/test/helpers/tools.js';
import { type AdminServer, startAdminServer } from '../src/admin/server.js';
import { ExitCode } from '../src/command.js';
import sql from '../src/commands/sql.js';
import views from '../src/commands/views.js';
import { OptionsError, resolveBrokerOptions } from '../src/options.js';
import { run, startTestBroker } from './client-helpers.js';
import { startKch } from './kch-process.js';
import { addScramUser, type SecureBroker, startSecureBroker } from './security-helpers.js';

let s: SecureBroker;
let metrics: BrokerMetrics;
let admin: AdminServer;

beforeAll(async () => {
  if (!openssl.available) return;
  s = await startSecureBroker();
  await addScramUser(s.broker, 'bob', 'bob-secret', 'SCRAM-SHA-512');
  metrics = brokerMetrics(s.broker);
  admin = await startAdminServer({
    broker: s.broker,
    metrics,
    logger: silentLogger,
    host: '127.0.0.1',
    port: 0,
    // Not used once the broker has an authorizer.
    token: 'the-old-admin-token',
    tls: { cert: s.certs.serverCert, key: s.certs.serverKey },
  });
});
afterAll(async () => {
  await admin?.close();
  metrics?.close();
  await s?.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One https request to the admin server (by the name its certificate holds), trusting the test CA. */
function call(method: string, path: string, authorization?: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `https://localhost:${admin.port}${path}`,
      { method, ca: s.certs.pem(s.certs.caCert), headers: authorization ? { authorization } : {} },
      (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function grant(principal: string, operation: string): Promise<void> {
  await s.broker.context.security.authorizer!.createAcls([
    {
      resourceType: ResourceType.CLUSTER,
      resourceName: CLUSTER_NAME,
      patternType: PatternType.LITERAL,
      principal,
      host: '*',
      operation: AclOperation[operation as keyof typeof AclOperation],
      permissionType: AclPermissionType.ALLOW,
    },
  ]);
}

describe('the admin server of a broker with an authorizer, over https', () => {
  skipEachUnless(openssl);

  it('serves https, and /metrics and /healthz without credentials', async () => {
    expect(admin.url).toBe(`https://127.0.0.1:${admin.port}`);
    expect(admin.authorized).toBe(true);
    expect((await call('GET', '/metrics')).status).toBe(200);
    const health = await call('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok' });
  });

  it('answers 401 with the schemes it takes when there are no credentials, or wrong ones', async () => {
    const none = await call('POST', '/sql', undefined, 'SELECT 1');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe(
      'Basic realm="kch admin", charset="UTF-8", Bearer realm="kch admin"',
    );
    expect(none.body).toBe(
      'POST /sql needs a user of the broker: Authorization: Basic with a SCRAM user or a PLAIN user of its configuration, or Bearer with an OAUTHBEARER token (kch sql and kch views: --sasl-username with KCH_SASL_PASSWORD)\n',
    );
    for (const authorization of [
      basic('alice', 'wrong'),
      basic('nobody', 'x'),
      'Bearer the-old-admin-token',
    ]) {
      const r = await call('POST', '/sql', authorization, 'SELECT 1');
      expect(r.status, authorization).toBe(401);
      expect(r.body).toBe(
        'authentication failed for POST /sql: wrong user name or password, or an invalid token\n',
      );
    }
    expect((await call('GET', '/views', `Bearer ${s.token('admin', -600)}`)).status).toBe(401);
  });

  it('answers 403 naming the permission a user lacks, and serves once it is granted', async () => {
    const refused = await call('POST', '/sql', basic('alice', 'alice-secret'), 'SELECT 1');
    expect(refused).toMatchObject({
      status: 403,
      body: 'User:alice may not POST /sql: it needs Alter on the cluster; an administrator grants it with `kch acls add --allow-principal User:alice --operation Alter --cluster`\n',
    });
    await grant('User:alice', 'ALTER');
    // Past authorization: this broker's storage (memory) has no SQL.
    const allowed = await call('POST', '/sql', basic('alice', 'alice-secret'), 'SELECT 1');
    expect(allowed.status).toBe(501);
    expect(allowed.body).toMatch(/does not run SQL/);
  });

  it('lets a SCRAM user with Describe read views, not change them', async () => {
    const bob = basic('bob', 'bob-secret');
    expect((await call('GET', '/views', bob)).body).toMatch(
      /^User:bob may not GET \/views: it needs Describe on the cluster/,
    );
    await grant('User:bob', 'DESCRIBE');
    expect((await call('GET', '/views', bob)).status).toBe(501);
    const drop = await call('DELETE', '/views/v', bob);
    expect(drop).toMatchObject({ status: 403 });
    expect(drop.body).toMatch(/^User:bob may not DELETE \/views\/v: it needs Alter on the cluster/);
  });

  it('takes an OAUTHBEARER JWT as a bearer token', async () => {
    expect((await call('POST', '/sql', `Bearer ${s.token('admin')}`, 'SELECT 1')).status).toBe(501);
    expect((await call('POST', '/sql', `Bearer ${s.token('carol')}`, 'SELECT 1')).status).toBe(403);
  });

  it('is reached by kch sql and kch views with the client security options', async () => {
    const url = ['--admin-url', `https://localhost:${admin.port}`];
    const trusted = [...url, '--ssl-ca', s.certs.caCert];
    const noUser = await run(sql, [...trusted, 'SELECT 1']);
    expect(noUser).toMatchObject({
      code: ExitCode.FAILURE,
      stderr:
        "kch sql: the broker's admin server wants a user of the broker (it checks ACLs): --sasl-username <user> with KCH_SASL_PASSWORD=<password> (or --sasl-password), or --command-config with sasl.jaas.config\n",
    });
    const wrong = await run(sql, [...trusted, '--sasl-username', 'alice', 'SELECT 1'], {
      env: { KCH_SASL_PASSWORD: 'nope' },
    });
    expect(wrong.stderr).toBe(
      'kch sql: authentication failed for POST /sql: wrong user name or password, or an invalid token\n',
    );
    const carol = await run(views, ['list', ...trusted, '--sasl-username', 'carol', '--sasl-password', 'x']);
    expect(carol.code).toBe(ExitCode.FAILURE);
    await grant('User:alice', 'ALTER');
    const ok = await run(sql, [...trusted, '--sasl-username', 'alice', 'SELECT 1'], {
      env: { KCH_SASL_PASSWORD: 'alice-secret' },
    });
    // Authorized: the memory storage's answer.
    expect(ok.code).toBe(ExitCode.UNAVAILABLE);
    expect(ok.stderr).toMatch(/does not run SQL/);
    const untrusted = await run(sql, [...url, '--sasl-username', 'alice', 'SELECT 1'], {
      env: { KCH_SASL_PASSWORD: 'alice-secret' },
    });
    expect(untrusted.code).toBe(ExitCode.UNAVAILABLE);
    expect(untrusted.stderr).toMatch(
      /^kch sql: the certificate of https:\/\/localhost:\d+ is not trusted \(.+\): give the authority that signed it with --ssl-ca <file> \(PEM\)\n$/,
    );
    const token = s.file('admin-token.jwt', s.token('admin'));
    const file = s.file(
      'admin-http.properties',
      `sasl.mechanism=OAUTHBEARER\nsasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ;\nsasl.oauthbearer.token.endpoint.url=file://${token}\nssl.truststore.type=PEM\nssl.truststore.location=${s.certs.caCert}\n`,
    );
    const viaToken = await run(views, ['list', ...url, '--command-config', file]);
    expect(viaToken.stderr).toMatch(/has no materialized views/);
  });
});

describe('the admin server of a broker without an authorizer', () => {
  it('keeps the admin token', async () => {
    const b = await startTestBroker();
    const m = brokerMetrics(b.broker);
    const server = await startAdminServer({
      broker: b.broker,
      metrics: m,
      logger: silentLogger,
      host: '127.0.0.1',
      port: 0,
      token: 'the-admin-token',
    });
    try {
      expect(server.authorized).toBe(false);
      const post = (authorization?: string) =>
        fetch(`${server.url}/sql`, {
          method: 'POST',
          body: 'SELECT 1',
          headers: authorization ? { authorization } : {},
        });
      const refused = await post();
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="kch admin"');
      expect((await post('Bearer the-admin-token')).status).toBe(501);
    } finally {
      await server.close();
      m.close();
      await b.close();
    }
  });
});

describe('kch broker: the admin server’s TLS and authentication options', () => {
  const props = (text: string) => s.file(`server-${Math.random().toString(36).slice(2)}.properties`, text);
  skipEachUnless(openssl);

  it('refuses a certificate without its key, and --admin-tls listener without a TLS listener', () => {
    expect(() => resolveBrokerOptions({ 'admin-tls-cert': 'c.pem' }, {})).toThrowError(
      new OptionsError(
        'invalid options:\n  --admin-tls-key: is needed with --admin-tls-cert: the certificate goes with its key',
      ),
    );
    expect(() => resolveBrokerOptions({ 'admin-tls': 'listener' }, {})).toThrowError(
      new OptionsError(
        'invalid options:\n  --admin-tls "listener": the broker has no SSL or SASL_SSL listener to take a certificate from (listeners in --server-properties); give the admin server its own with --admin-tls-cert and --admin-tls-key',
      ),
    );
    expect(() => resolveBrokerOptions({ 'admin-tls': 'on' }, {})).toThrowError(
      /--admin-tls "on": must be listener or off/,
    );
  });

  it('needs no admin token on a non-loopback address when the broker has an authorizer', () => {
    expect(() => resolveBrokerOptions({ 'admin-host': '0.0.0.0' }, {})).toThrowError(
      /--admin-token: is required when the admin server listens on 0\.0\.0\.0/,
    );
    const file = props(
      'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\nsuper.users=User:admin\n',
    );
    const { options } = resolveBrokerOptions({ 'admin-host': '0.0.0.0', 'server-properties': file }, {});
    expect(options.adminHost).toBe('0.0.0.0');
  });

  it('serves https with the first TLS listener’s certificate', async () => {
    const file = props(
      [
        'listeners=SECURE://127.0.0.1:0',
        'listener.security.protocol.map=SECURE:SASL_SSL',
        'sasl.enabled.mechanisms=PLAIN',
        'listener.name.secure.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret";',
        'ssl.keystore.type=PEM',
        `ssl.keystore.certificate.chain=${s.certs.pem(s.certs.serverCert).trim().replaceAll('\n', '\\n')}`,
        `ssl.keystore.key=${s.certs.pem(s.certs.serverKey).trim().replaceAll('\n', '\\n')}`,
        'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
        'super.users=User:admin',
      ].join('\n'),
    );
    const kch = await startKch([
      'broker',
      '--admin-port',
      '0',
      '--storage',
      'memory',
      '--server-properties',
      file,
      '--admin-tls',
      'listener',
    ]);
    try {
      expect(kch.adminUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const url = kch.adminUrl!.replace('127.0.0.1', 'localhost');
      const r = await run(
        sql,
        ['--admin-url', url, '--ssl-ca', s.certs.caCert, '--sasl-username', 'admin', 'SELECT 1'],
        {
          env: { KCH_SASL_PASSWORD: 'admin-secret' },
        },
      );
      expect(r.stderr).toMatch(/does not run SQL/);
    } finally {
      await kch.stop();
    }
  });
});
