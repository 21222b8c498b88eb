/**
 * Kafka's server.properties in kch's terms: `parseJavaProperties` reads the file's format (that of
 * java.util.Properties.load), and `brokerOptionsFromProperties` maps Kafka's property names and
 * meanings onto `createBroker` options, so that an operator's Kafka configuration, its security
 * section above all, works unchanged.
 *
 * Three outcomes for each property: kch acts on it (an option), kch has no use for it (`unknown`:
 * log.dirs, num.network.threads, controller.*, ... are harmless; kch names them in one warning, as
 * Kafka warns of configs it does not know), or kch cannot honour its value (`errors`: an unknown
 * security protocol, an SSL listener without a key store, a Java class kch cannot run), which stops
 * the start. Every value is checked as Kafka's ConfigDef checks it, with Kafka's messages.
 */
import { BrokerOptionsError, type BrokerOptionsInput, parseBrokerOptions } from './options.js';
import { listenersFromProperties } from './properties/listeners.js';
import { type Prop, PropertyReader } from './properties/reader.js';
import { saslFromProperties } from './properties/sasl.js';
import { listenerTls } from './properties/tls.js';
import { parseConfigValue, TOPIC_CONFIGS } from './topic-configs.js';

export { JaasConfigError, type JaasEntry, parseJaasConfig } from './properties/jaas.js';
export { JavaPropertiesError, parseJavaProperties } from './properties/java-properties.js';

export type PropertiesBrokerOptions = Partial<Omit<BrokerOptionsInput, 'storage' | 'logger'>>;

export interface BrokerOptionsFromProperties {
  /** The createBroker options the properties set (only those: kch's defaults fill the rest). */
  options: PropertiesBrokerOptions;
  /** Properties kch has no use for, sorted: harmless, and named in one warning. */
  unknown: string[];
  /** Values kch cannot honour, each naming its property: the broker must not start. */
  errors: string[];
}

/** authorizer.class.name values that turn on kch's ACL authorizer (KRaft's, ZooKeeper's, the old one). */
const AUTHORIZERS = [
  'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
  'kafka.security.authorizer.AclAuthorizer',
  'kafka.security.auth.SimpleAclAuthorizer',
];

/** Java classes a server.properties may name that are Kafka's defaults, which kch does itself. */
const DEFAULT_CLASSES: Record<string, string> = {
  'principal.builder.class': 'org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder',
  'ssl.engine.factory.class': 'org.apache.kafka.common.security.ssl.DefaultSslEngineFactory',
};

/**
 * Broker configs with a createBroker option of the same meaning: [property, option, type, min]. The
 * minimum is Kafka's, or kch's where kch needs more (a message.max.bytes of 0 would refuse every batch).
 */
const NUMBERS: readonly [string, keyof PropertiesBrokerOptions, 'int' | 'long', number][] = [
  ['num.partitions', 'defaultPartitions', 'int', 1],
  ['message.max.bytes', 'messageMaxBytes', 'int', 1],
  ['socket.request.max.bytes', 'maxRequestSize', 'int', 1],
  ['group.min.session.timeout.ms', 'groupMinSessionTimeoutMs', 'int', 1],
  ['group.max.session.timeout.ms', 'groupMaxSessionTimeoutMs', 'int', 1],
  ['group.initial.rebalance.delay.ms', 'groupInitialRebalanceDelayMs', 'int', 0],
  ['group.max.size', 'groupMaxSize', 'int', 1],
  ['group.consumer.session.timeout.ms', 'consumerGroupSessionTimeoutMs', 'int', 1],
  ['group.consumer.heartbeat.interval.ms', 'consumerGroupHeartbeatIntervalMs', 'int', 1],
  ['group.consumer.max.size', 'consumerGroupMaxSize', 'int', 1],
  ['transaction.max.timeout.ms', 'transactionMaxTimeoutMs', 'int', 1],
  [
    'transaction.abort.timed.out.transaction.cleanup.interval.ms',
    'transactionAbortTimedOutIntervalMs',
    'int',
    1,
  ],
  ['transactional.id.expiration.ms', 'transactionalIdExpirationMs', 'int', 1],
  ['log.cleaner.backoff.ms', 'logCleanerBackoffMs', 'long', 1],
  ['connections.max.reauth.ms', 'connectionsMaxReauthMs', 'long', 0],
  ['connection.failed.authentication.delay.ms', 'connectionFailedAuthenticationDelayMs', 'int', 0],
];

function general(reader: PropertyReader, options: PropertiesBrokerOptions): void {
  const set = options as Record<string, unknown>;
  for (const [name, option, type, min] of NUMBERS) {
    const n = reader.number(reader.get(name), type, min);
    if (n !== undefined) set[option] = n;
  }
  const nodeId = reader.number(reader.get('node.id'), 'int');
  const brokerId = reader.number(reader.get('broker.id'), 'int');
  if (nodeId !== undefined && brokerId !== undefined && nodeId !== brokerId)
    reader.error(`broker.id (${brokerId}) and node.id (${nodeId}) must be equal when both are set`);
  const id = nodeId ?? brokerId;
  // -1 is Kafka's "not set" (a generated id); kch then keeps its own default.
  if (id !== undefined && id < -1) reader.error(`node.id must be greater than or equal to 0, got ${id}`);
  else if (id !== undefined && id >= 0) options.nodeId = id;
  const rack = reader.get('broker.rack');
  if (rack) options.rack = rack.value.trim();
  const autoCreate = reader.boolean(reader.get('auto.create.topics.enable'));
  if (autoCreate !== undefined) options.autoCreateTopics = autoCreate;
  const cleaner = reader.boolean(reader.get('log.cleaner.enable'));
  if (cleaner !== undefined) options.logCleanerEnable = cleaner;
  const telemetryMaxBytes = reader.number(reader.get('telemetry.max.bytes'), 'int', 1);
  if (telemetryMaxBytes !== undefined) options.clientTelemetry = { maxBytes: telemetryMaxBytes };
  const assignors = reader.get('group.consumer.assignors');
  if (assignors) {
    // Kafka takes class names too; kch knows its two assignors by their short names.
    const names = assignors.value
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== '');
    const unknown = names.filter((n) => n !== 'uniform' && n !== 'range');
    if (unknown.length > 0 || names.length === 0)
      reader.error(`group.consumer.assignors must list uniform and/or range, got ${assignors.value}`);
    else options.consumerGroupAssignors = names as ('uniform' | 'range')[];
  }
  const migration = reader.get('group.consumer.migration.policy');
  if (migration) {
    // Kafka's CaseInsensitiveValidString.
    const policy = migration.value.trim().toLowerCase();
    if (policy === 'disabled' || policy === 'upgrade' || policy === 'downgrade' || policy === 'bidirectional')
      options.consumerGroupMigrationPolicy = policy;
    else
      reader.error(
        `group.consumer.migration.policy must be one of disabled, upgrade, downgrade, bidirectional, got ${migration.value}`,
      );
  }
  const retentionMinutes = reader.number(reader.get('offsets.retention.minutes'), 'int', 1);
  if (retentionMinutes !== undefined) options.offsetsRetentionMs = retentionMinutes * 60_000;

  const queued = reader.get('queued.max.request.bytes');
  const queuedBytes = reader.number(queued, 'long');
  if (queued && queuedBytes !== undefined) {
    // Kafka bounds nothing when it is 0 or less (its default is -1).
    options.queuedMaxRequestBytes = queuedBytes > 0 ? queuedBytes : Number.MAX_SAFE_INTEGER;
    const max = options.maxRequestSize;
    if (queuedBytes > 0 && max !== undefined && queuedBytes < max)
      reader.error('queued.max.request.bytes must be larger or equal to socket.request.max.bytes');
  }
}

/**
 * Topic config defaults from their broker synonyms (log.retention.ms for retention.ms,
 * log.cleanup.policy for cleanup.policy, ...), as Kafka applies them to every topic without an
 * override. log.retention.ms wins over log.retention.minutes over log.retention.hours, as in Kafka.
 */
function topicDefaults(reader: PropertyReader, options: PropertiesBrokerOptions): void {
  const defaults: Record<string, string> = {};
  const ms = reader.number(reader.get('log.retention.ms'), 'long');
  const minutes = reader.number(reader.get('log.retention.minutes'), 'int');
  const hours = reader.number(reader.get('log.retention.hours'), 'int');
  const retention =
    ms ?? (minutes !== undefined ? minutes * 60_000 : hours !== undefined ? hours * 3_600_000 : undefined);
  if (retention === 0) reader.error('log.retention.ms must be unlimited (-1) or, greater than or equal to 1');
  else if (retention !== undefined) defaults['retention.ms'] = String(retention < 0 ? -1 : retention);
  for (const def of TOPIC_CONFIGS) {
    const synonym = def.brokerSynonym;
    // message.max.bytes is an option of its own; log.retention.* is above.
    if (!synonym || synonym === 'message.max.bytes' || synonym === 'log.retention.ms') continue;
    const prop = reader.get(synonym);
    if (!prop) continue;
    try {
      defaults[def.name] = parseConfigValue({ ...def, name: synonym }, prop.value);
    } catch (e) {
      reader.error((e as Error).message);
    }
  }
  if (Object.keys(defaults).length > 0) options.topicDefaults = defaults;
}

/** Kafka's SecurityUtils.parseKafkaPrincipal, for each of super.users' semicolon-separated entries. */
function superUsers(reader: PropertyReader, prop: Prop | undefined): string[] {
  const users: string[] = [];
  for (const entry of (prop?.value ?? '').split(';')) {
    const user = entry.trim();
    if (user === '') continue;
    if (!/^[^:]+:.+$/.test(user)) {
      reader.error(`${prop!.name}: expected a string in format principalType:principalName but got ${user}`);
    } else users.push(user);
  }
  return users;
}

function authorizer(reader: PropertyReader, options: PropertiesBrokerOptions): void {
  for (const [name, dflt] of Object.entries(DEFAULT_CLASSES)) {
    const prop = reader.get(name);
    if (prop && prop.value.trim() !== dflt && prop.value.trim() !== '')
      reader.error(`${name}: kch cannot load the Java class ${prop.value.trim()}; it works as ${dflt} does`);
  }
  const prop = reader.get('authorizer.class.name');
  const className = prop?.value.trim() ?? '';
  if (className === '') return;
  if (!AUTHORIZERS.includes(className)) {
    reader.error(
      `authorizer.class.name: kch cannot load the Java class ${className}; ${AUTHORIZERS[0]} (or ${AUTHORIZERS[1]}) turns on kch's ACL authorizer`,
    );
    return;
  }
  // Read only with an authorizer: without one, Kafka does not use them either.
  const allowEveryone = reader.get('allow.everyone.if.no.acl.found');
  options.authorizer = {
    superUsers: superUsers(reader, reader.get('super.users')),
    // StandardAuthorizer's Boolean.parseBoolean: anything but "true" is false, never an error.
    allowEveryoneIfNoAclFound: allowEveryone?.value.trim().toLowerCase() === 'true',
  };
}

/** Listener-prefixed properties whose listener name is not in lower case: Kafka never reads them. */
function miscasedListenerPrefixes(reader: PropertyReader, listeners: readonly string[]): void {
  for (const name of reader.names()) {
    const m = /^listener\.name\.([^.]+)\./.exec(name);
    if (!m || m[1] === m[1]!.toLowerCase()) continue;
    if (listeners.includes(m[1]!.toUpperCase()))
      reader.error(
        `${name}: Kafka reads listener properties with the listener name in lower case (listener.name.${m[1]!.toLowerCase()}.…); as written it applies to nothing`,
      );
  }
}

/**
 * createBroker options from Kafka server properties (parsed with `parseJavaProperties`, overrides
 * applied), with what kch has no use for and what it cannot honour.
 */
export function brokerOptionsFromProperties(
  props: Readonly<Record<string, string>>,
): BrokerOptionsFromProperties {
  const reader = new PropertyReader(props);
  const options: PropertiesBrokerOptions = {};
  general(reader, options);
  topicDefaults(reader, options);
  authorizer(reader, options);

  const { listeners, advertisedHost, advertisedPort } = listenersFromProperties(reader);
  if (advertisedHost !== undefined) options.advertisedHost = advertisedHost;
  if (advertisedPort !== undefined) options.advertisedPort = advertisedPort;
  if (listeners) {
    miscasedListenerPrefixes(
      reader,
      listeners.map((l) => l.name),
    );
    const { sasl, listeners: saslByListener } = saslFromProperties(reader, listeners);
    if (Object.keys(sasl).length > 0) options.sasl = sasl;
    options.listeners = listeners.map((l) => {
      const tls =
        l.securityProtocol === 'SSL' || l.securityProtocol === 'SASL_SSL'
          ? listenerTls(reader, l.name, l.securityProtocol)
          : undefined;
      return { ...l, ...(tls ? { tls } : {}), ...saslByListener.get(l.name) };
    });
  } else {
    const sasl = saslFromProperties(reader, []).sasl;
    if (Object.keys(sasl).length > 0) options.sasl = sasl;
  }

  if (reader.errors.length === 0) {
    // What each property allowed may still not combine (group.min above group.max, ...).
    try {
      parseBrokerOptions(options);
    } catch (e) {
      if (!(e instanceof BrokerOptionsError)) throw e;
      reader.error(e.message);
    }
  }
  return { options, unknown: reader.unused(), errors: reader.errors };
}
