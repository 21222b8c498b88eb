import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { banner } from '../src/commands/broker.js';
import { OptionsError, resolveBrokerOptions } from '../src/options.js';
import { brokerArgs, runKch, startKch } from './kch-process.js';

const dir = mkdtempSync(join(tmpdir(), 'kch-server-properties-'));
function propertiesFile(
  text: string | Buffer,
  name = `s${Math.random().toString(36).slice(2)}.properties`,
): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** An OptionsError with exactly `message`. */
const optionsError = (...lines: string[]) => new OptionsError(lines.join('\n'));

const SECURITY = `
listeners=CLIENTS://0.0.0.0:9093,LOCAL://127.0.0.1:9092
advertised.listeners=CLIENTS://kafka.example.com:9093,LOCAL://127.0.0.1:9092
listener.security.protocol.map=CLIENTS:SASL_SSL,LOCAL:PLAINTEXT
sasl.enabled.mechanisms=PLAIN
listener.name.clients.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\
    user_alice="alice-secret";
ssl.keystore.type=PEM
ssl.keystore.location=/etc/kch/server.pem
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
`;

describe('kch broker --server-properties and --override', () => {
  it('maps the properties beneath kch’s own options: flags, then KCH_*, then --config, then overrides, then the file', () => {
    const file = propertiesFile(
      'num.partitions=3\nauto.create.topics.enable=false\ngroup.initial.rebalance.delay.ms=100\nlog.retention.hours=1\nlog.cleanup.policy=compact\nlog.dirs=/tmp/kafka-logs\n',
    );
    const config = join(dir, 'kch.json');
    writeFileSync(config, JSON.stringify({ topicConfig: { 'cleanup.policy': 'delete' } }));
    const { options, serverProperties } = resolveBrokerOptions(
      {
        'server-properties': file,
        override: ['num.partitions=4', 'message.max.bytes=2000000', 'queued.max.request.bytes=200000000'],
        'group-initial-rebalance-delay-ms': '0',
        config,
      },
      { KCH_AUTO_CREATE_TOPICS: 'true' },
    );
    expect(options).toMatchObject({
      partitions: 4,
      autoCreateTopics: true,
      groupInitialRebalanceDelayMs: 0,
      queuedMaxRequestBytes: 200000000,
      // Topic defaults merge key by key, the properties beneath the rest.
      topicConfig: { 'retention.ms': '3600000', 'cleanup.policy': 'delete' },
    });
    // What kch's own options have no flag for goes to createBroker as it is.
    expect(serverProperties).toEqual({ broker: { messageMaxBytes: 2000000 }, unknown: ['log.dirs'] });
  });

  it('passes listeners, TLS, SASL and the authorizer on to createBroker', () => {
    const { options, serverProperties } = resolveBrokerOptions(
      { 'server-properties': propertiesFile(SECURITY), storage: 'memory' },
      {},
    );
    expect(options.storage).toEqual({ kind: 'memory' });
    expect(serverProperties!.unknown).toEqual([]);
    expect(serverProperties!.broker).toEqual({
      authorizer: { superUsers: ['User:admin'], allowEveryoneIfNoAclFound: false },
      sasl: { enabledMechanisms: ['PLAIN'] },
      listeners: [
        {
          name: 'CLIENTS',
          host: '0.0.0.0',
          port: 9093,
          securityProtocol: 'SASL_SSL',
          advertisedHost: 'kafka.example.com',
          advertisedPort: 9093,
          tls: { cert: '/etc/kch/server.pem', key: '/etc/kch/server.pem', clientAuth: 'none' },
          plainUsers: { alice: 'alice-secret' },
        },
        {
          name: 'LOCAL',
          host: '127.0.0.1',
          port: 9092,
          securityProtocol: 'PLAINTEXT',
          advertisedHost: '127.0.0.1',
          advertisedPort: 9092,
        },
      ],
    });
    // KCH_SERVER_PROPERTIES names the file too.
    const fromEnv = resolveBrokerOptions({}, { KCH_SERVER_PROPERTIES: propertiesFile('num.partitions=5') });
    expect(fromEnv.options.partitions).toBe(5);
  });

  it('refuses kch’s own address beside listeners, naming both', () => {
    const file = propertiesFile(SECURITY);
    expect(() => resolveBrokerOptions({ 'server-properties': file, port: '9095' }, {})).toThrowError(
      optionsError(
        'invalid options:',
        `  --port "9095": cannot be combined with listeners in ${file}, which says where the broker listens; give one or the other`,
      ),
    );
    const overridden = () =>
      resolveBrokerOptions(
        { override: ['listeners=PLAINTEXT://:9092'] },
        { KCH_HOST: '0.0.0.0', KCH_ADVERTISED_HOST: 'kch' },
      );
    expect(overridden).toThrow(
      'KCH_HOST="0.0.0.0": cannot be combined with --override listeners, which says where the broker listens',
    );
    expect(overridden).toThrow('KCH_ADVERTISED_HOST="kch": cannot be combined with --override listeners');
    // Without listeners, advertised.listeners is kch's advertised address, and kch's flags win over it.
    const advertised = propertiesFile('advertised.listeners=PLAINTEXT://kch.internal:19092');
    expect(resolveBrokerOptions({ 'server-properties': advertised }, {}).options).toMatchObject({
      advertisedHost: 'kch.internal',
      advertisedPort: 19092,
    });
    expect(
      resolveBrokerOptions({ 'server-properties': advertised, 'advertised-port': '29092' }, {}).options,
    ).toMatchObject({ advertisedHost: 'kch.internal', advertisedPort: 29092 });
  });

  it('names where each problem came from: the file, an override, or the value kch’s own check refuses', () => {
    const file = propertiesFile('num.partitions=200000\nlisteners=PLAINTEXT://:9092\n');
    expect(() =>
      resolveBrokerOptions({ 'server-properties': file, override: ['sasl.enabled.mechanisms=GSSAPI'] }, {}),
    ).toThrowError(
      optionsError(
        'invalid options:',
        `  --server-properties ${file} with --override: sasl.enabled.mechanisms: GSSAPI (Kerberos) is not supported by kch; enable PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER instead`,
        `  num.partitions in ${file} (200000): must be a whole number of partitions, 1 or more`,
      ),
    );
    expect(() => resolveBrokerOptions({ override: ['=x'] }, {})).toThrowError(
      optionsError('invalid options:', '  --override "=x": needs a property name, as name=value'),
    );
    const missing = join(dir, 'missing.properties');
    expect(() => resolveBrokerOptions({ 'server-properties': missing }, {})).toThrowError(
      optionsError('invalid options:', `  --server-properties ${missing}: does not exist`),
    );
    expect(() => resolveBrokerOptions({ 'server-properties': propertiesFile('a=\\u12') }, {})).toThrow(
      /is not a properties file Kafka would read: Malformed \\uxxxx encoding\.$/,
    );
  });

  it('reads the file as UTF-8, and as ISO-8859-1 when it is not UTF-8', () => {
    const latin1 = propertiesFile(Buffer.from('broker.rack=Zürich\n', 'latin1'));
    const utf8 = propertiesFile('broker.rack=Zürich\n');
    for (const file of [latin1, utf8])
      expect(resolveBrokerOptions({ 'server-properties': file }, {}).serverProperties!.broker.rack).toBe(
        'Zürich',
      );
  });

  it('exits 2 with the message before opening anything', async () => {
    const file = propertiesFile(
      'listeners=SSL://:9093\nssl.keystore.type=PKCS12\nssl.keystore.location=/etc/kch/server.p12\n',
    );
    const r = await runKch(['broker', '--storage', 'memory', '--server-properties', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      [
        'kch broker: invalid options:',
        `  --server-properties ${file}: ssl.keystore.location: the key store type is PKCS12, and kch reads PEM only: convert it with \`openssl pkcs12 -in /etc/kch/server.p12 -out /etc/kch/server.pem -nodes\` (-nodes leaves the key unencrypted: protect the file, or drop -nodes and set ssl.key.password to the pass phrase openssl asks for), then set ssl.keystore.type=PEM and ssl.keystore.location to the PEM file`,
        'Run `kch broker --help` for the options.',
        '',
      ].join('\n'),
    );
    const usage = await runKch(['broker', '--help']);
    expect(usage.stdout).toContain('--server-properties <file>');
    expect(usage.stdout).toContain('--override <name=value>');
  });

  it('starts with the properties applied, and names the unused ones in one warning', async () => {
    const file = propertiesFile(
      'broker.id=0\nlog.dirs=/tmp/kafka-logs\nnum.network.threads=3\nmessage.max.bytes=3000000\n',
    );
    const kch = await startKch(
      brokerArgs('memory', '--server-properties', file, '--override', 'num.partitions=2'),
    );
    try {
      const warnings = kch
        .stderr()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .filter((l) => l.level === 'warn');
      expect(warnings).toMatchObject([
        {
          msg: 'server properties kch has no use for, ignored: log.dirs, num.network.threads',
          properties: ['log.dirs', 'num.network.threads'],
        },
      ]);
      const admin = new Kafka({
        clientId: 'props-test',
        brokers: [kch.bootstrap],
        logLevel: logLevel.NOTHING,
      }).admin();
      await admin.connect();
      try {
        const { resources } = await admin.describeConfigs({
          includeSynonyms: false,
          resources: [
            {
              type: ConfigResourceTypes.BROKER,
              name: '0',
              configNames: ['message.max.bytes', 'num.partitions', 'node.id'],
            },
          ],
        });
        const values = Object.fromEntries(
          resources[0]!.configEntries.map((e) => [e.configName, e.configValue]),
        );
        expect(values).toEqual({ 'message.max.bytes': '3000000', 'num.partitions': '2', 'node.id': '0' });
      } finally {
        await admin.disconnect();
      }
    } finally {
      await kch.stop('SIGKILL');
    }
  });

  it('shows every listener in the banner, and how to connect to a plaintext one when there is one', () => {
    const base = {
      version: '0',
      storage: 'memory',
      database: 'kafka',
      sqlAvailable: false,
      admin: null,
      adminToken: false,
    };
    const listener = (
      name: string,
      securityProtocol: string,
      host: string,
      port: number,
      advertised = host,
    ) => ({
      name,
      securityProtocol,
      host,
      port,
      advertised: { host: advertised, port },
    });
    const sasl = listener('CLIENTS', 'SASL_SSL', '0.0.0.0', 9093, 'kafka.example.com');
    const local = listener('LOCAL', 'PLAINTEXT', '::1', 9094);
    const two = banner({ ...base, listening: sasl, advertised: sasl.advertised, listeners: [sasl, local] });
    expect(two).toContain(
      [
        '  Kafka     0.0.0.0:9093  (CLIENTS, SASL_SSL, advertised as kafka.example.com:9093)',
        '            [::1]:9094  (LOCAL, PLAINTEXT)',
      ].join('\n'),
    );
    expect(two).toContain('Connect:\n  kcat      kcat -b [::1]:9094 -L');
    const one = banner({ ...base, listening: sasl, advertised: sasl.advertised, listeners: [sasl] });
    expect(one).toContain('  Kafka     0.0.0.0:9093  (advertised as kafka.example.com:9093)\n');
    expect(one).toContain(
      "Connect (to CLIENTS, SASL_SSL: add the client's security settings):\n  kcat      kcat -b kafka.example.com:9093 -L",
    );
  });
});
