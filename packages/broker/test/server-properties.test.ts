import { describe, expect, it } from 'vitest';
import { parseJaasConfig } from '../src/properties/jaas.js';
import {
  brokerOptionsFromProperties,
  JavaPropertiesError,
  parseJavaProperties,
} from '../src/server-properties.js';

/** The options, unknown properties and errors of a server.properties text. */
const fromText = (text: string) => brokerOptionsFromProperties(parseJavaProperties(text));

describe('parseJavaProperties (java.util.Properties.load)', () => {
  it('takes =, : and whitespace as separators, with whitespace around them skipped (the javadoc examples)', () => {
    const props = parseJavaProperties(
      'Truth = Beauty\n Truth2:Beauty\nTruth3                    :Beauty\ncheeses\n',
    );
    expect(props).toEqual({ Truth: 'Beauty', Truth2: 'Beauty', Truth3: 'Beauty', cheeses: '' });
    // Only one = or : belongs to the separator; the rest is the value.
    expect(parseJavaProperties('a==b\nc = = d\ne:f:g\nh i j')).toEqual({
      a: '=b',
      c: '= d',
      e: 'f:g',
      h: 'i j',
    });
  });

  it('joins continued lines, dropping the backslash, the line break and the next line’s leading whitespace', () => {
    const text = [
      'fruits                           apple, banana, pear, \\',
      '                                  cantaloupe, watermelon, \\',
      '                                  kiwi, mango',
    ].join('\n');
    expect(parseJavaProperties(text)).toEqual({
      fruits: 'apple, banana, pear, cantaloupe, watermelon, kiwi, mango',
    });
    // \r\n and \r end lines too, continued or not.
    expect(parseJavaProperties('a=1\\\r\n   2\r\nb=3\rc=4')).toEqual({ a: '12', b: '3', c: '4' });
    // An even number of backslashes escapes itself, not the line break.
    expect(parseJavaProperties('a=x\\\\\nb=y')).toEqual({ a: 'x\\', b: 'y' });
    // A backslash at the very end continues nothing and is dropped.
    expect(parseJavaProperties('a=x\\')).toEqual({ a: 'x' });
    // A continued line's next line is data even when it starts with a comment character.
    expect(parseJavaProperties('a=b\\\n  #c')).toEqual({ a: 'b#c' });
  });

  it('skips comments (# and !, after whitespace too) and blank lines; a comment cannot be continued', () => {
    const text = '# a comment \\\nkey=value\n   ! another\n\n \t \nsecond=2\n#x=1';
    expect(parseJavaProperties(text)).toEqual({ key: 'value', second: '2' });
    // # and ! inside a value are data.
    expect(parseJavaProperties('a=b # not a comment')).toEqual({ a: 'b # not a comment' });
  });

  it('reads escapes: \\t \\n \\r \\f, \\uXXXX, and a backslash before any other character stands for it', () => {
    const props = parseJavaProperties(
      'tabs=a\\tb\\nc\\rd\\fe\ne\\u0301=caf\\u00e9 \\uD83D\\uDE00\nquotes=\\"x\\\'\nb=\\b\\z\\\\',
    );
    expect(props).toEqual({
      tabs: 'a\tb\nc\rd\fe',
      'e\u0301': 'café 😀',
      quotes: '"x\'',
      b: 'bz\\',
    });
  });

  it('lets keys hold separators and whitespace when escaped', () => {
    expect(parseJavaProperties('\\:\\= = colon and equals\nkey\\ with\\ spaces value\na\\#b=1')).toEqual({
      ':=': 'colon and equals',
      'key with spaces': 'value',
      'a#b': '1',
    });
    // Whitespace ends the key even before an = further on.
    expect(parseJavaProperties('key with=spaces')).toEqual({ key: 'with=spaces' });
  });

  it('keeps the last value of a key given twice, and refuses a malformed \\u escape as Java does', () => {
    expect(parseJavaProperties('a=1\na=2')).toEqual({ a: '2' });
    expect(() => parseJavaProperties('a=\\u00g1')).toThrow(JavaPropertiesError);
    // Only one u: \uu0041 is malformed.
    expect(() => parseJavaProperties('a=\\uu0041')).toThrow('Malformed \\uxxxx encoding.');
    expect(() => parseJavaProperties('a=\\u12')).toThrow('Malformed');
  });
});

describe('parseJaasConfig (Kafka’s JaasConfig)', () => {
  it('reads login modules, control flags and options, quoted or not', () => {
    expect(
      parseJaasConfig(
        'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice=\'alice;secret\';',
      ),
    ).toEqual([
      {
        loginModule: 'org.apache.kafka.common.security.plain.PlainLoginModule',
        controlFlag: 'required',
        options: {
          username: 'admin',
          password: 'admin-secret',
          user_admin: 'admin-secret',
          user_alice: 'alice;secret',
        },
      },
    ]);
    const two = parseJaasConfig('A REQUIRED x=1;\n// a comment\nB optional /* also */ y=two ;');
    expect(two.map((e) => [e.loginModule, e.controlFlag, e.options])).toEqual([
      ['A', 'required', { x: '1' }],
      ['B', 'optional', { y: 'two' }],
    ]);
  });

  it('reads StreamTokenizer escapes in quoted strings, and cuts an unquoted / as a comment, as Kafka does', () => {
    expect(parseJaasConfig('M required a="x\\"y\\\\z\\n\\101";')[0]!.options).toEqual({ a: 'x"y\\z\nA' });
    expect(() => parseJaasConfig('M required path=/etc/x;')).toThrow(
      "Value not specified for key 'path' in JAAS config",
    );
  });

  it('refuses what Kafka refuses, with its messages', () => {
    expect(() => parseJaasConfig('')).toThrow('Login module not specified in JAAS config');
    expect(() => parseJaasConfig('M')).toThrow('Login module control flag not specified in JAAS config');
    expect(() => parseJaasConfig('M always;')).toThrow(
      "Invalid login module control flag 'always' in JAAS config",
    );
    expect(() => parseJaasConfig('M required a="b"')).toThrow(
      'JAAS config entry not terminated by semi-colon',
    );
    expect(() => parseJaasConfig('M required a;')).toThrow("Value not specified for key 'a' in JAAS config");
  });
});

describe('brokerOptionsFromProperties', () => {
  it('maps Kafka’s own KRaft server.properties: its broker listener, and the rest it has no use for', () => {
    const result = fromText(`
############################# Server Basics #############################
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:9093
############################# Socket Server Settings #############################
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
inter.broker.listener.name=PLAINTEXT
advertised.listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600
############################# Log Basics #############################
log.dirs=/tmp/kraft-combined-logs
num.partitions=1
num.recovery.threads.per.data.dir=1
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
log.retention.hours=168
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
`);
    expect(result.errors).toEqual([]);
    expect(result.options).toEqual({
      nodeId: 1,
      maxRequestSize: 104857600,
      defaultPartitions: 1,
      topicDefaults: { 'retention.ms': '604800000', 'segment.bytes': '1073741824' },
      // The controller listener is left out: kch has no controller quorum to serve.
      listeners: [
        {
          name: 'PLAINTEXT',
          host: '0.0.0.0',
          port: 9092,
          securityProtocol: 'PLAINTEXT',
          advertisedHost: 'localhost',
          advertisedPort: 9092,
        },
      ],
    });
    expect(result.unknown).toEqual([
      'controller.listener.names',
      'controller.quorum.bootstrap.servers',
      'inter.broker.listener.name',
      'log.dirs',
      'log.retention.check.interval.ms',
      'num.io.threads',
      'num.network.threads',
      'num.recovery.threads.per.data.dir',
      'offsets.topic.replication.factor',
      'process.roles',
      'share.coordinator.state.topic.min.isr',
      'share.coordinator.state.topic.replication.factor',
      'socket.receive.buffer.bytes',
      'socket.send.buffer.bytes',
      'transaction.state.log.min.isr',
      'transaction.state.log.replication.factor',
    ]);
  });

  it('maps a complete security section: SASL_SSL and SSL listeners, PEM key stores, JAAS users, ACLs', () => {
    const result = fromText(`
listeners=INTERNAL://127.0.0.1:9092,EXTERNAL://0.0.0.0:9093,MTLS://[::1]:9094
advertised.listeners=INTERNAL://127.0.0.1:9092,EXTERNAL://kafka.example.com:9093,MTLS://[::1]:9094
listener.security.protocol.map=INTERNAL:SASL_PLAINTEXT,EXTERNAL:SASL_SSL,MTLS:SSL
inter.broker.listener.name=INTERNAL
sasl.mechanism.inter.broker.protocol=PLAIN
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512

listener.name.internal.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\
    username="admin" \\
    password="admin-secret" \\
    user_admin="admin-secret";
listener.name.external.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\
    username="admin" \\
    password="admin-secret" \\
    user_admin="admin-secret" \\
    user_alice="alice-secret";
listener.name.external.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\
    username="admin" password="admin-secret";
listener.name.external.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\
    username="admin" password="admin-secret";

# Broker-wide TLS, and a listener that wants client certificates.
ssl.keystore.type=PEM
ssl.keystore.location=/etc/kafka/ssl/server.pem
ssl.key.password=key-pass
ssl.truststore.type=PEM
ssl.truststore.location=/etc/kafka/ssl/ca.pem
ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT
ssl.endpoint.identification.algorithm=https
listener.name.external.ssl.keystore.location=/etc/kafka/ssl/external.pem

authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin; User:CN=broker,OU=Kafka
allow.everyone.if.no.acl.found=false
connections.max.reauth.ms=3600000
connection.failed.authentication.delay.ms=1000
`);
    expect(result.errors).toEqual([]);
    const tls = {
      cert: '/etc/kafka/ssl/server.pem',
      key: '/etc/kafka/ssl/server.pem',
      keyPassword: 'key-pass',
      ca: '/etc/kafka/ssl/ca.pem',
      principalMappingRules: 'RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT',
    };
    expect(result.options).toEqual({
      connectionsMaxReauthMs: 3600000,
      connectionFailedAuthenticationDelayMs: 1000,
      authorizer: { superUsers: ['User:admin', 'User:CN=broker,OU=Kafka'], allowEveryoneIfNoAclFound: false },
      sasl: { enabledMechanisms: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] },
      listeners: [
        {
          name: 'INTERNAL',
          host: '127.0.0.1',
          port: 9092,
          securityProtocol: 'SASL_PLAINTEXT',
          advertisedHost: '127.0.0.1',
          advertisedPort: 9092,
          plainUsers: { admin: 'admin-secret' },
        },
        {
          name: 'EXTERNAL',
          host: '0.0.0.0',
          port: 9093,
          securityProtocol: 'SASL_SSL',
          advertisedHost: 'kafka.example.com',
          advertisedPort: 9093,
          // Kafka applies the broker-wide ssl.client.auth to SSL listeners only (KIP-684).
          tls: {
            ...tls,
            cert: '/etc/kafka/ssl/external.pem',
            key: '/etc/kafka/ssl/external.pem',
            clientAuth: 'none',
          },
          plainUsers: { admin: 'admin-secret', alice: 'alice-secret' },
        },
        {
          name: 'MTLS',
          host: '::1',
          port: 9094,
          securityProtocol: 'SSL',
          advertisedHost: '::1',
          advertisedPort: 9094,
          tls: { ...tls, clientAuth: 'required' },
        },
      ],
    });
    expect(result.unknown).toEqual([
      'inter.broker.listener.name',
      'sasl.mechanism.inter.broker.protocol',
      'ssl.endpoint.identification.algorithm',
    ]);
  });

  it('takes PEM in the properties (KIP-651), rewrapped for OpenSSL when continued over lines', () => {
    const result = fromText(`
listeners=SSL://:9093
ssl.keystore.type=PEM
ssl.keystore.certificate.chain=-----BEGIN CERTIFICATE----- \\
  MIIBszCCAVmgAwIBAgIUQ0VSVElGSUNBVEVDRVJUSUZJQ0FURUNFUlRJRklDQVRFMAoGCCqGSM49BAMC \\
  -----END CERTIFICATE-----
ssl.keystore.key=-----BEGIN PRIVATE KEY-----\\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\\n-----END PRIVATE KEY-----
ssl.truststore.type=PEM
ssl.truststore.certificates=-----BEGIN CERTIFICATE----- MIIBAAA= -----END CERTIFICATE----- \\
  -----BEGIN CERTIFICATE----- MIIBBBB= -----END CERTIFICATE-----
`);
    expect(result.errors).toEqual([]);
    expect(result.options.listeners![0]!.tls).toEqual({
      cert: [
        '-----BEGIN CERTIFICATE-----',
        'MIIBszCCAVmgAwIBAgIUQ0VSVElGSUNBVEVDRVJUSUZJQ0FURUNFUlRJRklDQVRF',
        'MAoGCCqGSM49BAMC',
        '-----END CERTIFICATE-----',
        '',
      ].join('\n'),
      key: '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n',
      ca: '-----BEGIN CERTIFICATE-----\nMIIBAAA=\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nMIIBBBB=\n-----END CERTIFICATE-----\n',
      clientAuth: 'none',
    });
  });

  it('keeps kch’s own address without `listeners`, taking advertised.listeners for its PLAINTEXT listener', () => {
    const result = fromText('advertised.listeners=PLAINTEXT://kch.internal:19092\nbroker.id=3');
    expect(result).toEqual({
      options: { nodeId: 3, advertisedHost: 'kch.internal', advertisedPort: 19092 },
      unknown: [],
      errors: [],
    });
    expect(fromText('advertised.listeners=SSL://kch.internal:19093').errors).toEqual([
      'advertised.listeners listener names must be equal to or a subset of the ones defined in listeners. Found SSL. The valid options based on the current configuration are PLAINTEXT',
    ]);
  });

  it('maps the broker configs kch has an option for, with Kafka’s parsing and precedence', () => {
    const result = fromText(`
broker.id=7
broker.rack=eu-1a
auto.create.topics.enable=FALSE
message.max.bytes=2097152
queued.max.request.bytes=-1
group.min.session.timeout.ms=1000
group.max.session.timeout.ms=60000
group.initial.rebalance.delay.ms=0
group.max.size=50
group.consumer.session.timeout.ms=30000
group.consumer.heartbeat.interval.ms=2000
group.consumer.max.size=10
group.consumer.assignors=range, uniform
group.consumer.migration.policy=Upgrade
offsets.retention.minutes=60
log.cleaner.enable=false
log.cleaner.backoff.ms=500
telemetry.max.bytes=65536
log.retention.ms=-5
log.retention.hours=1
log.cleanup.policy=delete, compact
compression.type=zstd
`);
    expect(result.errors).toEqual([]);
    expect(result.options).toEqual({
      nodeId: 7,
      rack: 'eu-1a',
      autoCreateTopics: false,
      messageMaxBytes: 2097152,
      // Kafka bounds nothing at -1.
      queuedMaxRequestBytes: Number.MAX_SAFE_INTEGER,
      groupMinSessionTimeoutMs: 1000,
      groupMaxSessionTimeoutMs: 60000,
      groupInitialRebalanceDelayMs: 0,
      groupMaxSize: 50,
      consumerGroupSessionTimeoutMs: 30000,
      consumerGroupHeartbeatIntervalMs: 2000,
      consumerGroupMaxSize: 10,
      consumerGroupAssignors: ['range', 'uniform'],
      consumerGroupMigrationPolicy: 'upgrade',
      offsetsRetentionMs: 3_600_000,
      logCleanerEnable: false,
      logCleanerBackoffMs: 500,
      clientTelemetry: { maxBytes: 65536 },
      // log.retention.ms wins over hours; below zero is forever.
      topicDefaults: { 'retention.ms': '-1', 'cleanup.policy': 'delete,compact', 'compression.type': 'zstd' },
    });
    expect(fromText('group.consumer.assignors=sticky').errors).toEqual([
      'group.consumer.assignors must list uniform and/or range, got sticky',
    ]);
    expect(fromText('group.consumer.migration.policy=sideways').errors).toEqual([
      'group.consumer.migration.policy must be one of disabled, upgrade, downgrade, bidirectional, got sideways',
    ]);
    expect(fromText('log.retention.minutes=30\nlog.retention.hours=1').options.topicDefaults).toEqual({
      'retention.ms': '1800000',
    });
  });

  it('turns the authorizer on only for Kafka’s authorizer classes; super.users alone is unused', () => {
    expect(
      fromText(
        'authorizer.class.name=kafka.security.authorizer.AclAuthorizer\nallow.everyone.if.no.acl.found=TRUE',
      ).options,
    ).toEqual({
      authorizer: { superUsers: [], allowEveryoneIfNoAclFound: true },
    });
    expect(fromText('super.users=User:admin\nauthorizer.class.name=')).toEqual({
      options: {},
      unknown: ['super.users'],
      errors: [],
    });
    expect(fromText('authorizer.class.name=com.example.RangerAuthorizer').errors).toEqual([
      "authorizer.class.name: kch cannot load the Java class com.example.RangerAuthorizer; org.apache.kafka.metadata.authorizer.StandardAuthorizer (or kafka.security.authorizer.AclAuthorizer) turns on kch's ACL authorizer",
    ]);
  });

  it('takes the broker-wide sasl.jaas.config for mechanisms without their own, which Kafka ignores', () => {
    const result = fromText(`
listeners=SASL_PLAINTEXT://127.0.0.1:9092
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_bob="pw";
`);
    expect(result.errors).toEqual([]);
    expect(result.options.sasl).toEqual({ plainUsers: { bob: 'pw' } });
    expect(result.options.listeners![0]).not.toHaveProperty('plainUsers');
  });

  it('maps OAUTHBEARER: a JWKS file for signed tokens, or the unsecured mode its JAAS options ask for', () => {
    const secured = fromText(`
listeners=SASL_SSL://:9093
ssl.keystore.type=PEM
ssl.keystore.location=/k.pem
sasl.enabled.mechanisms=OAUTHBEARER
listener.name.sasl_ssl.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;
sasl.oauthbearer.jwks.endpoint.url=file:///etc/kafka/jwks.json
sasl.oauthbearer.expected.issuer=https://issuer.example
sasl.oauthbearer.expected.audience=kafka, kafka-admin
sasl.oauthbearer.sub.claim.name=client_id
sasl.oauthbearer.clock.skew.seconds=10
`);
    expect(secured.errors).toEqual([]);
    expect(secured.options.sasl).toEqual({
      enabledMechanisms: ['OAUTHBEARER'],
      oauthBearer: {
        jwksFile: '/etc/kafka/jwks.json',
        expectedIssuer: 'https://issuer.example',
        expectedAudience: ['kafka', 'kafka-admin'],
        subClaimName: 'client_id',
        clockSkewSeconds: 10,
      },
    });
    const unsecured = fromText(`
listeners=SASL_PLAINTEXT://:9092
sasl.enabled.mechanisms=OAUTHBEARER
listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \\
    unsecuredLoginStringClaim_sub="admin" unsecuredValidatorAllowableClockSkewMs="1500";
`);
    expect(unsecured.errors).toEqual([]);
    expect(unsecured.options.sasl!.oauthBearer).toEqual({
      allowUnsecured: true,
      subClaimName: 'sub',
      clockSkewSeconds: 2,
    });
    const http = fromText(`
listeners=SASL_PLAINTEXT://:9092
sasl.enabled.mechanisms=OAUTHBEARER
sasl.oauthbearer.jwks.endpoint.url=https://issuer.example/jwks
`);
    expect(http.errors).toEqual([
      'sasl.oauthbearer.jwks.endpoint.url: kch does not fetch keys over HTTP: download the JWKS to a file (curl -fsSo /etc/kch/jwks.json https://issuer.example/jwks) and set sasl.oauthbearer.jwks.endpoint.url=file:///etc/kch/jwks.json; kch reads the file again when it changes',
    ]);
    expect(
      fromText('listeners=SASL_PLAINTEXT://:9092\nsasl.enabled.mechanisms=OAUTHBEARER').errors[0],
    ).toMatch(/^listener SASL_PLAINTEXT enables OAUTHBEARER without saying how tokens are checked/);
  });

  describe('what kch cannot honour', () => {
    const errorsOf = (text: string) => fromText(text).errors;

    it('listeners that do not parse, have no security protocol, or share a name or a port', () => {
      expect(errorsOf('listeners=PLAINTEXT://localhost')).toEqual([
        'listeners: Unable to parse PLAINTEXT://localhost to a broker endpoint (NAME://host:port)',
      ]);
      expect(errorsOf('listeners=CLIENT://:9092')).toEqual([
        'listeners: No security protocol defined for listener CLIENT: add CLIENT:<PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL> to listener.security.protocol.map',
      ]);
      expect(errorsOf('listeners=A://:9092\nlistener.security.protocol.map=A:TRACE')).toEqual([
        'listener.security.protocol.map: Invalid security protocol `TRACE` (kch knows PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)',
      ]);
      expect(errorsOf('listeners=PLAINTEXT://:9092,SASL_PLAINTEXT://:9092')[0]).toMatch(
        /^listeners: Each listener must have a different port unless exactly one listener has an IPv4 address/,
      );
      // An IPv4 and an IPv6 address may share a port.
      expect(
        errorsOf(
          'listeners=PLAINTEXT://127.0.0.1:9092,SSL://[::1]:9092\nssl.keystore.type=PEM\nssl.keystore.location=/k.pem',
        ),
      ).toEqual([]);
      expect(errorsOf('listeners=PLAINTEXT://:9092,plaintext://:9093')[0]).toMatch(
        /Each listener must have a different name/,
      );
      expect(errorsOf('listeners=PLAINTEXT://:9092\nadvertised.listeners=PLAINTEXT://0.0.0.0:9092')).toEqual([
        'advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. Use a routable IP address.',
      ]);
    });

    it('an SSL listener without a PEM key store, saying how to convert a Java one', () => {
      expect(errorsOf('listeners=SSL://:9093')).toEqual([
        'listener SSL is SSL and needs a key store: ssl.keystore.type=PEM with ssl.keystore.location (a PEM file of the key and the certificate chain), or ssl.keystore.certificate.chain and ssl.keystore.key',
      ]);
      expect(
        errorsOf(
          'listeners=SSL://:9093\nssl.keystore.location=/var/private/ssl/server.keystore.jks\nssl.keystore.password=test1234',
        ),
      ).toEqual([
        "ssl.keystore.location: the key store type is JKS (Kafka's default), and kch reads PEM only: convert it with `keytool -importkeystore -srckeystore /var/private/ssl/server.keystore.jks -destkeystore /var/private/ssl/server.keystore.p12 -deststoretype PKCS12 && openssl pkcs12 -in /var/private/ssl/server.keystore.p12 -out /var/private/ssl/server.keystore.pem -nodes` (-nodes leaves the key unencrypted: protect the file, or drop -nodes and set ssl.key.password to the pass phrase openssl asks for), then set ssl.keystore.type=PEM and ssl.keystore.location to the PEM file",
      ]);
      expect(
        errorsOf('listeners=SSL://:9093\nssl.keystore.type=PKCS12\nssl.keystore.location=/s/server.p12')[0],
      ).toContain(
        'the key store type is PKCS12, and kch reads PEM only: convert it with `openssl pkcs12 -in /s/server.p12 -out /s/server.pem -nodes`',
      );
      // A PEM file without ssl.keystore.type is read as JKS by Kafka: the slip is named, not a conversion.
      expect(errorsOf('listeners=SSL://:9093\nssl.keystore.location=/etc/kafka/server.pem')).toEqual([
        "ssl.keystore.location: ssl.keystore.type is not set, so the file is read as JKS (Kafka's default); for a PEM file, set ssl.keystore.type=PEM",
      ]);
      expect(
        errorsOf(
          'listeners=SSL://:9093\nssl.keystore.type=PEM\nssl.keystore.location=/k.pem\nssl.keystore.password=x',
        ),
      ).toEqual([
        'ssl.keystore.password: SSL key store password cannot be specified with PEM format, only key password may be specified (ssl.key.password, for an encrypted key)',
      ]);
      expect(
        errorsOf(
          'listeners=SSL://:9093\nssl.keystore.key=-----BEGIN PRIVATE KEY-----x-----END PRIVATE KEY-----',
        )[0],
      ).toBe(
        'ssl.keystore.key: SSL private key can be specified only for PEM, but key store type is JKS: set ssl.keystore.type=PEM',
      );
    });

    it('a Java trust store only when client certificates are checked; otherwise it is unused', () => {
      const base =
        'listeners=SSL://:9093\nssl.keystore.type=PEM\nssl.keystore.location=/k.pem\nssl.truststore.location=/t.jks\nssl.truststore.password=p\n';
      expect(fromText(base)).toMatchObject({
        errors: [],
        unknown: ['ssl.truststore.location', 'ssl.truststore.password'],
      });
      expect(errorsOf(`${base}ssl.client.auth=required`)[0]).toMatch(
        /^ssl\.truststore\.location: the trust store type is JKS \(Kafka's default\), and kch reads PEM only: convert it with `keytool -importkeystore/,
      );
      expect(errorsOf(`${base}ssl.client.auth=always`)).toEqual([
        'Invalid value always for configuration ssl.client.auth: String must be one of: required, requested, none',
      ]);
    });

    it('GSSAPI when asked for (Kafka’s default mechanism is not assumed), and unknown mechanisms', () => {
      expect(errorsOf('listeners=SASL_PLAINTEXT://:9092')).toEqual([]);
      expect(errorsOf('listeners=SASL_PLAINTEXT://:9092\nsasl.enabled.mechanisms=GSSAPI,PLAIN')).toEqual([
        'sasl.enabled.mechanisms: GSSAPI (Kerberos) is not supported by kch; enable PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER instead',
      ]);
      expect(
        errorsOf(
          'listeners=SASL_PLAINTEXT://:9092\nlistener.name.sasl_plaintext.sasl.enabled.mechanisms=plain',
        ),
      ).toEqual([
        'listener.name.sasl_plaintext.sasl.enabled.mechanisms: unknown SASL mechanism plain; kch supports PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER',
      ]);
    });

    it('JAAS configs that do not parse or name another module, and Java classes kch cannot run', () => {
      const sasl = 'listeners=SASL_PLAINTEXT://:9092\nsasl.enabled.mechanisms=PLAIN\n';
      expect(
        errorsOf(
          `${sasl}listener.name.sasl_plaintext.plain.sasl.jaas.config=PlainLoginModule required user_a="b"`,
        ),
      ).toEqual([
        'listener.name.sasl_plaintext.plain.sasl.jaas.config: JAAS config entry not terminated by semi-colon',
      ]);
      expect(
        errorsOf(
          `${sasl}listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
        ),
      ).toEqual([
        'listener.name.sasl_plaintext.plain.sasl.jaas.config: PLAIN takes org.apache.kafka.common.security.plain.PlainLoginModule, not org.apache.kafka.common.security.scram.ScramLoginModule',
      ]);
      expect(
        errorsOf(
          `${sasl}listener.name.sasl_plaintext.plain.sasl.server.callback.handler.class=com.example.LdapHandler`,
        ),
      ).toEqual([
        'listener.name.sasl_plaintext.plain.sasl.server.callback.handler.class: kch cannot load the Java class com.example.LdapHandler; it checks PLAIN itself',
      ]);
      expect(errorsOf('principal.builder.class=com.example.Builder')[0]).toMatch(
        /^principal\.builder\.class: kch cannot load the Java class/,
      );
    });

    it('values Kafka refuses, a listener prefix Kafka would never read, and options that do not combine', () => {
      expect(errorsOf('num.partitions=zero\nauto.create.topics.enable=yes')).toEqual([
        'Invalid value zero for configuration num.partitions: Not a number of type INT',
        'Invalid value yes for configuration auto.create.topics.enable: Expected value to be either true or false',
      ]);
      expect(errorsOf('socket.request.max.bytes=1000\nqueued.max.request.bytes=100')).toEqual([
        'queued.max.request.bytes must be larger or equal to socket.request.max.bytes',
      ]);
      expect(
        errorsOf(
          'listeners=SSL://:9093\nlistener.name.SSL.ssl.keystore.type=PEM\nssl.keystore.type=PEM\nssl.keystore.location=/k.pem',
        ),
      ).toEqual([
        'listener.name.SSL.ssl.keystore.type: Kafka reads listener properties with the listener name in lower case (listener.name.ssl.…); as written it applies to nothing',
      ]);
      expect(errorsOf('group.min.session.timeout.ms=9000\ngroup.max.session.timeout.ms=8000')[0]).toMatch(
        /groupMinSessionTimeoutMs \(9000\) is above groupMaxSessionTimeoutMs \(8000\)/,
      );
      expect(
        errorsOf(
          'super.users=admin\nauthorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
        ),
      ).toEqual(['super.users: expected a string in format principalType:principalName but got admin']);
    });
  });
});
