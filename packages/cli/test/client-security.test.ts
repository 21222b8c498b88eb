/**
 * The client commands' security options (--command-config with Kafka client properties, and the
 * --security-protocol, --sasl-*, --ssl-* flags): what they are read as and what is refused before
 * connecting, then real connections over TCP to a broker in process with every kind of listener, and
 * what the commands say when TLS or SASL fails.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipEachUnless } from '../../broker/test/helpers/skip.js';
import { openssl } from '../../broker/test/helpers/tools.js';
import { clientOptions } from '../src/client/kafka-config.js';
import { kafkaSecurity, securitySettings } from '../src/client/security.js';
import { ExitCode } from '../src/command.js';
import consume from '../src/commands/consume.js';
import groups from '../src/commands/groups.js';
import produce from '../src/commands/produce.js';
import topics from '../src/commands/topics.js';
import { run } from './client-helpers.js';
import { addScramUser, type SecureBroker, saslFlags, startSecureBroker } from './security-helpers.js';

let s: SecureBroker;

beforeAll(async () => {
  if (!openssl.available) return;
  s = await startSecureBroker();
  await addScramUser(s.broker, 'bob', 'bob-secret', 'SCRAM-SHA-512');
});
afterAll(() => s?.close());

/** A Kafka client properties file. */
const properties = (text: string) => s.file(`client-${Math.random().toString(36).slice(2)}.properties`, text);

/** The settings as a command would check them, or the message of what is refused. */
async function security(flags: Record<string, string>, env: NodeJS.ProcessEnv = {}) {
  try {
    return kafkaSecurity(await securitySettings(flags, env));
  } catch (e) {
    return (e as Error).message;
  }
}

describe('client security options: what is refused before connecting', () => {
  skipEachUnless(openssl);

  it.each([
    [
      { 'sasl-username': 'bob' },
      '--sasl-username is given, but no security protocol: add --security-protocol SASL_SSL (or SASL_PLAINTEXT)',
    ],
    [
      { 'ssl-ca': 'CA' },
      '--ssl-ca is given, but no security protocol: add --security-protocol SSL (or SASL_SSL)',
    ],
    [
      { 'security-protocol': 'SSL', 'sasl-mechanism': 'PLAIN' },
      '--sasl-mechanism is given, but the security protocol is SSL, which has no SASL: use SASL_SSL',
    ],
    [
      { 'security-protocol': 'plaintext', 'ssl-ca': 'CA' },
      '--ssl-ca is given, but the security protocol is PLAINTEXT, which has no TLS: use SSL',
    ],
    [
      { 'security-protocol': 'TLS' },
      '--security-protocol must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, got "TLS"',
    ],
    [
      { 'security-protocol': 'SASL_SSL', 'sasl-mechanism': 'GSSAPI' },
      '--sasl-mechanism must be PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER, got "GSSAPI"',
    ],
    [
      { 'security-protocol': 'SASL_PLAINTEXT', 'sasl-username': 'bob' },
      /^SASL_PLAINTEXT needs a SASL mechanism: --sasl-mechanism PLAIN, /,
    ],
    [
      { 'security-protocol': 'SASL_PLAINTEXT', 'sasl-mechanism': 'SCRAM-SHA-256' },
      'SCRAM-SHA-256 needs a user: --sasl-username <user> with --sasl-password <password> or KCH_SASL_PASSWORD, or sasl.jaas.config in --command-config',
    ],
    [
      { 'security-protocol': 'SASL_PLAINTEXT', 'sasl-mechanism': 'PLAIN', 'sasl-username': 'bob' },
      "PLAIN needs the password of user bob: KCH_SASL_PASSWORD=<password> (which keeps it out of the shell's history) or --sasl-password <password>",
    ],
    [
      { 'security-protocol': 'SSL', 'ssl-cert': 'x.pem' },
      '--ssl-cert needs --ssl-key: a client certificate goes with its private key',
    ],
    [
      { 'security-protocol': 'SSL', 'ssl-ca': '/nonexistent/ca.pem' },
      '--ssl-ca /nonexistent/ca.pem: no such file',
    ],
  ])('refuses %j', async (given: Record<string, string>, message) => {
    const flags = { ...given, ...(given['ssl-ca'] === 'CA' ? { 'ssl-ca': s.certs.caCert } : {}) };
    const got = await security(flags);
    if (typeof message === 'string') expect(got).toBe(message);
    else expect(got).toMatch(message);
  });

  it('prints the problem without the usage and exits 2', async () => {
    const r = await run(topics, ['list', '--sasl-username', 'bob']);
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.stderr).toBe(
      'kch topics: --sasl-username is given, but no security protocol: add --security-protocol SASL_SSL (or SASL_PLAINTEXT)\n',
    );
  });

  it('takes the password from KCH_SASL_PASSWORD, under --sasl-password', async () => {
    const flags = {
      'security-protocol': 'SASL_SSL',
      'sasl-mechanism': 'SCRAM-SHA-512',
      'sasl-username': 'bob',
    };
    expect(await security(flags, { KCH_SASL_PASSWORD: 'from-env' })).toMatchObject({
      protocol: 'SASL_SSL',
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'bob', password: 'from-env' },
      tls: { verifyHostname: true },
      credentialsFrom: '--sasl-username and KCH_SASL_PASSWORD',
    });
    expect(
      await security({ ...flags, 'sasl-password': 'from-flag' }, { KCH_SASL_PASSWORD: 'from-env' }),
    ).toMatchObject({ sasl: { password: 'from-flag' }, credentialsFrom: '--sasl-username/--sasl-password' });
  });

  it('reads Kafka client properties: the protocol, the mechanism, the JAAS user, PEM trust and key stores', async () => {
    const file = properties(
      [
        'bootstrap.servers=localhost:9093',
        'security.protocol=sasl_ssl',
        'sasl.mechanism=SCRAM-SHA-256',
        'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\',
        '    username="alice" password="p\\u00e9ss";',
        'ssl.truststore.type=PEM',
        `ssl.truststore.location=${s.certs.caCert}`,
        'ssl.keystore.type=PEM',
        `ssl.keystore.certificate.chain=${readFileSync(s.certs.clientCert, 'utf8').trim().replaceAll('\n', ' \\\n  ')}`,
        `ssl.keystore.key=${readFileSync(s.certs.clientKey, 'utf8').trim().replaceAll('\n', ' \\\n  ')}`,
        'ssl.key.password=unused',
        'ssl.endpoint.identification.algorithm=',
      ].join('\n'),
    );
    const settings = await securitySettings({ 'command-config': file }, {});
    expect(settings.bootstrap).toBe('localhost:9093');
    const got = kafkaSecurity(settings);
    expect(got).toMatchObject({
      protocol: 'SASL_SSL',
      sasl: { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'péss' },
      tls: { ca: readFileSync(s.certs.caCert, 'utf8'), passphrase: 'unused', verifyHostname: false },
      credentialsFrom: `sasl.jaas.config in ${file}`,
      trustFrom: `ssl.truststore.location in ${file}`,
    });
    // The PEM continued over lines is rewrapped as OpenSSL reads it.
    expect(got.tls?.cert).toMatch(/^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=]{64}\n/);
    // What the library's connections get: node:tls options (the host name left unchecked) and SASL.
    const options = clientOptions([{ host: 'localhost', port: 9093 }], 1000, got);
    expect(options.tls).toMatchObject({ ca: got.tls?.ca, cert: got.tls?.cert, minVersion: 'TLSv1.2' });
    expect(options.tls?.checkServerIdentity?.('localhost', {} as never)).toBeUndefined();
    expect(options.sasl).toEqual({ mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'péss' });
  });

  it('takes flags over the file', async () => {
    const file = properties(
      'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret";\n',
    );
    expect(
      await security(
        { 'command-config': file, 'sasl-username': 'bob', 'sasl-mechanism': 'SCRAM-SHA-512' },
        { KCH_SASL_PASSWORD: 'bob-secret' },
      ),
    ).toMatchObject({
      protocol: 'SASL_PLAINTEXT',
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'bob', password: 'bob-secret' },
      credentialsFrom: '--sasl-username and KCH_SASL_PASSWORD',
    });
  });

  it.each([
    [
      'security.protocol=TLS',
      'security.protocol: Invalid value TLS for configuration security.protocol: String must be one of (case insensitive): PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL',
    ],
    [
      'sasl.mechanism=GSSAPI',
      'sasl.mechanism: GSSAPI (Kerberos) is not supported by kch; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER',
    ],
    [
      'sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="a"',
      'sasl.jaas.config: JAAS config entry not terminated by semi-colon',
    ],
    [
      'sasl.jaas.config=com.sun.security.auth.module.Krb5LoginModule required;',
      "sasl.jaas.config: kch's clients take org.apache.kafka.common.security.plain.PlainLoginModule, org.apache.kafka.common.security.scram.ScramLoginModule or org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule, not com.sun.security.auth.module.Krb5LoginModule",
    ],
    [
      'ssl.truststore.location=CA',
      "ssl.truststore.location: ssl.truststore.type is not set, so the file is read as JKS (Kafka's default); for a PEM file, set ssl.truststore.type=PEM",
    ],
    [
      'ssl.truststore.location=/etc/kafka/truststore.jks\nssl.truststore.password=changeit',
      'ssl.truststore.location: the trust store is JKS, and kch reads PEM only: convert it with `keytool -importkeystore -srckeystore /etc/kafka/truststore.jks -destkeystore store.p12 -deststoretype PKCS12 && openssl pkcs12 -in store.p12 -out truststore.pem -nokeys`, then set ssl.truststore.type=PEM and ssl.truststore.location to the PEM file',
    ],
    [
      'ssl.truststore.type=PEM\nssl.truststore.location=CA\nssl.truststore.password=x',
      'ssl.truststore.password: SSL trust store password cannot be specified for PEM format',
    ],
    [
      'ssl.keystore.type=PEM\nssl.keystore.key=-----BEGIN PRIVATE KEY----- x -----END PRIVATE KEY-----',
      'ssl.keystore.key: SSL private key is specified, but certificate chain is not specified (ssl.keystore.certificate.chain)',
    ],
    [
      'sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;\nsasl.oauthbearer.token.endpoint.url=https://idp.example.com/token',
      'sasl.oauthbearer.token.endpoint.url: kch reads a token from a file (file:///path/to/token), not from https://idp.example.com/token: fetch the token first, e.g. with curl, into a file',
    ],
    [
      'sasl.login.callback.handler.class=com.example.Handler',
      "sasl.login.callback.handler.class: kch's clients cannot run Java classes; remove it (kch has the standard behaviour built in)",
    ],
  ])('refuses the property %s with Kafka’s meaning', async (text, message) => {
    const file = properties(text.replaceAll('=CA', `=${s.certs.caCert}`));
    expect(await security({ 'command-config': file })).toBe(`--command-config ${file}: ${message}`);
  });

  it('names every problem of a file at once, and a file that is not there', async () => {
    const file = properties('security.protocol=TLS\nsasl.mechanism=KERBEROS\n');
    expect(await security({ 'command-config': file })).toBe(
      `--command-config ${file}:\n  security.protocol: Invalid value TLS for configuration security.protocol: String must be one of (case insensitive): PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL\n  sasl.mechanism: unknown SASL mechanism KERBEROS; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER`,
    );
    expect(await security({ 'command-config': '/nonexistent/client.properties' })).toBe(
      '--command-config /nonexistent/client.properties: no such file',
    );
  });

  it('makes the unsecured OAUTHBEARER token of OAuthBearerLoginModule for development', async () => {
    const file = properties(
      'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=OAUTHBEARER\nsasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="dev";\n',
    );
    const got = await security({ 'command-config': file });
    if (typeof got === 'string') throw new Error(got);
    const [header, claims, signature] = got.sasl!.token!().split('.');
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toEqual({ alg: 'none' });
    expect(JSON.parse(Buffer.from(claims!, 'base64url').toString())).toMatchObject({ sub: 'dev' });
    expect(signature).toBe('');
  });
});

describe('client security options against a broker', () => {
  skipEachUnless(openssl);
  const admin = () => saslFlags(s.at.SASL_PLAINTEXT, 'admin');
  const asAdmin = { KCH_SASL_PASSWORD: 'admin-secret' };

  it('produces and consumes over SASL_PLAINTEXT with PLAIN, the password from KCH_SASL_PASSWORD', async () => {
    const p = await run(produce, ['plain-orders', ...admin()], { input: 'one\ntwo\n', env: asAdmin });
    expect(p).toMatchObject({ code: ExitCode.OK, stderr: '' });
    const c = await run(consume, ['plain-orders', '--from-beginning', '--exit-at-end', ...admin()], {
      env: asAdmin,
    });
    expect(c).toMatchObject({
      code: ExitCode.OK,
      stdout: 'one\ntwo\n',
      stderr: 'Processed a total of 2 messages\n',
    });
    const t = await run(topics, ['list', ...admin()], { env: asAdmin });
    expect(t.stdout).toContain('plain-orders\n');
    expect((await run(groups, ['list', ...admin()], { env: asAdmin })).code).toBe(ExitCode.OK);
  });

  it('authenticates with SCRAM-SHA-512 from the flags', async () => {
    const r = await run(topics, [
      'list',
      ...saslFlags(s.at.SASL_PLAINTEXT, 'bob', 'SCRAM-SHA-512'),
      '--sasl-password',
      'bob-secret',
    ]);
    // bob may describe no topic: the list is empty, and the connection worked.
    expect(r).toMatchObject({ code: ExitCode.OK, stdout: '', stderr: '' });
  });

  it('connects over SASL_SSL with a --command-config holding the JAAS user and the CA as PEM text', async () => {
    const ca = readFileSync(s.certs.caCert, 'utf8').trim().replaceAll('\n', ' \\\n  ');
    const file = properties(
      `bootstrap.servers=${s.at.SASL_SSL}\nsecurity.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";\nssl.truststore.type=PEM\nssl.truststore.certificates=${ca}\n`,
    );
    const r = await run(topics, ['create', 'tls-orders', '--command-config', file]);
    expect(r).toMatchObject({ code: ExitCode.OK, stdout: 'Created topic tls-orders.\n', stderr: '' });
  });

  it('authenticates with an OAUTHBEARER token read from a file', async () => {
    const token = s.file('admin.jwt', `${s.token('admin')}\n`);
    const config = (tokenFile: string) =>
      properties(
        `security.protocol=SASL_SSL\nsasl.mechanism=OAUTHBEARER\nsasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ;\nsasl.oauthbearer.token.endpoint.url=file://${tokenFile}\nssl.truststore.type=PEM\nssl.truststore.location=${s.certs.caCert}\n`,
      );
    const ok = await run(topics, [
      'create',
      'token-orders',
      '-b',
      s.at.SASL_SSL,
      '--command-config',
      config(token),
    ]);
    expect(ok).toMatchObject({ code: ExitCode.OK, stdout: 'Created topic token-orders.\n' });
    const expired = s.file('expired.jwt', s.token('admin', -600));
    const refused = await run(topics, ['list', '-b', s.at.SASL_SSL, '--command-config', config(expired)]);
    expect(refused.code).toBe(ExitCode.FAILURE);
    expect(refused.stderr).toMatch(
      new RegExp(
        `^kch topics: authentication failed with OAUTHBEARER at localhost:\\d+: check the token in file://${expired}\\n$`,
      ),
    );
  });

  it('presents a client certificate to an SSL listener that requires one', async () => {
    const tls = ['-b', s.at.SSL, '--security-protocol', 'SSL', '--ssl-ca', s.certs.caCert];
    const ok = await run(topics, [
      'list',
      ...tls,
      '--ssl-cert',
      s.certs.clientCert,
      '--ssl-key',
      s.certs.clientKey,
    ]);
    expect(ok).toMatchObject({ code: ExitCode.OK, stderr: '' });
    const without = await run(topics, ['list', ...tls]);
    expect(without.code).toBe(ExitCode.UNAVAILABLE);
    expect(without.stderr).toContain(
      'if its listener requires client certificates, give --ssl-cert and --ssl-key',
    );
  });

  it('says the password is wrong, and where it came from', async () => {
    const r = await run(topics, ['list', ...saslFlags(s.at.SASL_PLAINTEXT, 'bob', 'SCRAM-SHA-512')], {
      env: { KCH_SASL_PASSWORD: 'wrong' },
    });
    expect(r.code).toBe(ExitCode.FAILURE);
    expect(r.stderr).toMatch(
      /^kch topics: authentication failed for user bob with SCRAM-SHA-512 at 127\.0\.0\.1:\d+: check --sasl-username and KCH_SASL_PASSWORD\n$/,
    );
  });

  it('names the mechanisms a listener offers when the one asked for is not', async () => {
    const r = await run(topics, ['list', ...saslFlags(s.at.SASL_PLAINTEXT, 'carol', 'OAUTHBEARER')]);
    // Refused before connecting: OAUTHBEARER needs a token, which flags cannot give.
    expect(r.stderr).toMatch(/^kch topics: OAUTHBEARER needs a token: in --command-config, /);
    const file = properties(
      'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=OAUTHBEARER\nsasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="dev";\n',
    );
    const offered = await run(topics, ['list', '-b', s.at.SASL_PLAINTEXT, '--command-config', file]);
    expect(offered.code).toBe(ExitCode.FAILURE);
    expect(offered.stderr).toMatch(
      /^kch topics: 127\.0\.0\.1:\d+ does not take SASL mechanism OAUTHBEARER on this listener; it takes PLAIN, SCRAM-SHA-256, SCRAM-SHA-512: choose one with --sasl-mechanism \(sasl\.mechanism in --command-config\)\n$/,
    );
  });

  it('says what to change when the protocol does not match the listener', async () => {
    const plainToTls = await run(topics, ['list', '-b', s.at.SASL_SSL]);
    expect(plainToTls.code).toBe(ExitCode.UNAVAILABLE);
    expect(plainToTls.stderr).toContain(
      'if its listener takes TLS or SASL, connect with --security-protocol and its settings (or --command-config)',
    );
    const tlsToPlain = await run(topics, ['list', '-b', s.at.PLAINTEXT, '--security-protocol', 'SSL']);
    expect(tlsToPlain.code).toBe(ExitCode.FAILURE);
    expect(tlsToPlain.stderr).toMatch(
      /^kch topics: 127\.0\.0\.1:\d+ does not speak TLS \(it closed the connection during the TLS handshake\): check the port, and use the security protocol of that listener/,
    );
    const saslToPlain = await run(topics, ['list', ...saslFlags(s.at.PLAINTEXT, 'admin')], { env: asAdmin });
    expect(saslToPlain.stderr).toMatch(/^kch topics: 127\.0\.0\.1:\d+ takes no SASL on this listener/);
  });

  it('says which authority to give when the broker’s certificate is not trusted', async () => {
    const r = await run(topics, ['list', '-b', s.at.SSL, '--security-protocol', 'SSL']);
    expect(r.code).toBe(ExitCode.FAILURE);
    expect(r.stderr).toMatch(
      /^kch topics: the certificate of localhost:\d+ is not trusted \(.+\): give the authority that signed it with --ssl-ca <file> \(PEM\), or ssl\.truststore\.\* in --command-config\n$/,
    );
  });

  it('says which ACL is missing when the broker refuses an operation', async () => {
    const r = await run(produce, ['plain-orders', ...saslFlags(s.at.SASL_PLAINTEXT, 'alice')], {
      input: 'x\n',
      env: { KCH_SASL_PASSWORD: 'alice-secret' },
    });
    expect(r.code).toBe(ExitCode.FAILURE);
    expect(r.stderr).toContain('TOPIC_AUTHORIZATION_FAILED');
    expect(r.stderr).toContain(
      'User:alice lacks an ACL for this: an administrator can grant it with `kch acls add`',
    );
  });
});
