/**
 * The broker's own configs as DescribeConfigs reports them (Kafka's names and defaults, read from the
 * running broker, with the dynamic values of ./dynamic-broker-configs.ts over them), and the checks of
 * a change to them. Topic configs are in ./topic-configs.ts.
 */
import { KafkaProtocolError } from '@kch/protocol';
import { DYNAMIC_BROKER_CONFIGS, type DynamicLayers } from './dynamic-broker-configs.js';
import type { BrokerConfig } from './options.js';
import { DEFAULT_QUEUED_MAX_REQUEST_BYTES } from './server/request-memory.js';
import {
  brokerTopicDefaults,
  type ConfigDefinition,
  ConfigSource,
  type ConfigSynonym,
  type DescribedConfig,
  parseConfigValue,
  TOPIC_CONFIGS,
} from './topic-configs.js';

/** What the broker config table reads from the running broker. */
export interface BrokerView {
  config: BrokerConfig;
  advertisedListeners: ReadonlyMap<string, { host: string; port: number; securityProtocol: string }>;
  storage: { location: string };
  dynamicConfigs: DynamicLayers;
}

interface BrokerConfigDefinition extends ConfigDefinition {
  value(b: BrokerView): string | null;
}

/**
 * The broker's own configs that matter to clients and tools, under Kafka's names, with Kafka's
 * defaults. The broker defaults of topic configs (log.retention.ms, message.max.bytes, ...) are added
 * from TOPIC_CONFIGS.
 */
// biome-ignore format: one config per line reads as the table it is
const BROKER_CONFIGS: readonly BrokerConfigDefinition[] = [
  { name: 'advertised.listeners', type: 'string', defaultValue: null, value: (b) => [...b.advertisedListeners].map(([name, a]) => `${name}://${a.host}:${a.port}`).join(','), doc: 'The addresses clients are told to connect to, per listener (advertisedHost/advertisedPort or a listener\'s advertised address, else the address it listens on).' },
  { name: 'listener.security.protocol.map', type: 'string', defaultValue: 'SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT', value: (b) => [...b.advertisedListeners].map(([name, a]) => `${name}:${a.securityProtocol}`).join(','), doc: 'The security protocol of each listener (listeners[].securityProtocol).' },
  { name: 'allow.everyone.if.no.acl.found', type: 'boolean', defaultValue: 'false', value: (b) => String(b.config.authorizer?.allowEveryoneIfNoAclFound ?? false), doc: 'Whether an action on a resource no ACL names is allowed (authorizer.allowEveryoneIfNoAclFound).' },
  { name: 'authorizer.class.name', type: 'string', defaultValue: '', value: (b) => (b.config.authorizer ? 'org.apache.kafka.metadata.authorizer.StandardAuthorizer' : ''), doc: 'Set when ACLs are checked (the authorizer option): kch applies StandardAuthorizer\'s rules.' },
  { name: 'connection.failed.authentication.delay.ms', type: 'int', defaultValue: '100', value: (b) => String(b.config.connectionFailedAuthenticationDelayMs), doc: 'How long a failed authentication waits before it is answered and the connection closed (connectionFailedAuthenticationDelayMs).' },
  { name: 'connections.max.reauth.ms', type: 'long', defaultValue: '0', value: (b) => String(b.config.connectionsMaxReauthMs), doc: 'Longest an authenticated session lasts before the client must re-authenticate; 0 for no limit (connectionsMaxReauthMs).' },
  { name: 'sasl.enabled.mechanisms', type: 'list', defaultValue: 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512', value: (b) => b.config.sasl.enabledMechanisms.join(','), doc: 'SASL mechanisms offered on SASL listeners (sasl.enabledMechanisms); kch does not offer GSSAPI, Kafka\'s default.' },
  { name: 'super.users', type: 'string', defaultValue: '', value: (b) => b.config.authorizer?.superUsers.join(';') ?? '', doc: 'Principals allowed everything (authorizer.superUsers).' },
  { name: 'auto.create.topics.enable', type: 'boolean', defaultValue: 'true', value: (b) => String(b.config.autoCreateTopics), doc: 'Whether a Metadata request for a missing topic creates it (autoCreateTopics).' },
  { name: 'broker.id', type: 'int', defaultValue: '-1', value: (b) => String(b.config.nodeId), doc: 'This broker\'s id (nodeId).' },
  { name: 'broker.rack', type: 'string', defaultValue: null, value: (b) => b.config.rack, doc: 'The rack of this broker (rack).' },
  { name: 'default.replication.factor', type: 'int', defaultValue: '1', value: () => '1', doc: 'kch keeps one replica of each partition; its storage provides the durability.' },
  { name: 'delete.topic.enable', type: 'boolean', defaultValue: 'true', value: () => 'true', doc: 'Topics can always be deleted.' },
  { name: 'group.consumer.assignors', type: 'list', defaultValue: 'uniform,range', value: (b) => b.config.consumerGroupAssignors.join(','), doc: 'Server-side assignors of KIP-848 consumer groups, the first the default (consumerGroupAssignors).' },
  { name: 'group.consumer.heartbeat.interval.ms', type: 'int', defaultValue: '5000', value: (b) => String(b.config.consumerGroupHeartbeatIntervalMs), doc: 'How often KIP-848 consumer group members heartbeat (consumerGroupHeartbeatIntervalMs).' },
  { name: 'group.consumer.max.size', type: 'int', defaultValue: '2147483647', value: (b) => String(b.config.consumerGroupMaxSize), doc: 'Largest number of members in a KIP-848 consumer group (consumerGroupMaxSize).' },
  { name: 'group.consumer.migration.policy', type: 'string', defaultValue: 'bidirectional', value: (b) => b.config.consumerGroupMigrationPolicy, doc: 'Which online conversions between classic and KIP-848 consumer groups happen: disabled, upgrade, downgrade or bidirectional (consumerGroupMigrationPolicy).' },
  { name: 'group.consumer.session.timeout.ms', type: 'int', defaultValue: '45000', value: (b) => String(b.config.consumerGroupSessionTimeoutMs), doc: 'Session timeout of KIP-848 consumer group members (consumerGroupSessionTimeoutMs).' },
  { name: 'group.initial.rebalance.delay.ms', type: 'int', defaultValue: '3000', value: (b) => String(b.config.groupInitialRebalanceDelayMs), doc: 'How long the first rebalance of an empty group waits for more members (groupInitialRebalanceDelayMs).' },
  { name: 'group.max.session.timeout.ms', type: 'int', defaultValue: '1800000', value: (b) => String(b.config.groupMaxSessionTimeoutMs), doc: 'Largest session timeout a consumer may ask for (groupMaxSessionTimeoutMs).' },
  { name: 'group.max.size', type: 'int', defaultValue: '2147483647', value: (b) => String(b.config.groupMaxSize), doc: 'Largest number of members in a group (groupMaxSize).' },
  { name: 'group.min.session.timeout.ms', type: 'int', defaultValue: '6000', value: (b) => String(b.config.groupMinSessionTimeoutMs), doc: 'Smallest session timeout a consumer may ask for (groupMinSessionTimeoutMs).' },
  { name: 'log.cleaner.backoff.ms', type: 'long', defaultValue: '15000', value: (b) => String(b.config.logCleanerBackoffMs), doc: 'How often the log cleaner looks for partitions to compact (logCleanerBackoffMs).' },
  { name: 'log.cleaner.enable', type: 'boolean', defaultValue: 'true', value: (b) => String(b.config.logCleanerEnable), doc: 'Whether topics with cleanup.policy compact are compacted (logCleanerEnable).' },
  { name: 'log.dirs', type: 'string', defaultValue: null, value: (b) => b.storage.location, doc: 'Where the log lives: the storage the broker was given.' },
  { name: 'node.id', type: 'int', defaultValue: '-1', value: (b) => String(b.config.nodeId), doc: 'This broker\'s id (nodeId).' },
  { name: 'num.partitions', type: 'int', defaultValue: '1', value: (b) => String(b.config.defaultPartitions), doc: 'Partitions of auto-created topics and of CreateTopics with -1 (defaultPartitions).' },
  { name: 'offsets.retention.minutes', type: 'int', defaultValue: '10080', value: (b) => String(Math.floor(b.config.offsetsRetentionMs / 60_000)), doc: 'How long committed offsets of an empty group are kept (offsetsRetentionMs).' },
  { name: 'process.roles', type: 'list', defaultValue: '', value: () => 'broker,controller', doc: 'kch is broker and controller in one process.' },
  { name: 'queued.max.request.bytes', type: 'long', defaultValue: String(DEFAULT_QUEUED_MAX_REQUEST_BYTES), value: (b) => String(b.config.queuedMaxRequestBytes), doc: 'Bytes of requests read and not yet answered at which the broker stops reading from its connections (queuedMaxRequestBytes).' },
  { name: 'socket.request.max.bytes', type: 'int', defaultValue: '104857600', value: (b) => String(b.config.maxRequestSize), doc: 'Largest request accepted; larger ones close the connection (maxRequestSize).' },
  { name: 'transaction.abort.timed.out.transaction.cleanup.interval.ms', type: 'int', defaultValue: '10000', value: (b) => String(b.config.transactionAbortTimedOutIntervalMs), doc: 'How often transactions past their timeout are aborted (transactionAbortTimedOutIntervalMs).' },
  { name: 'transaction.max.timeout.ms', type: 'int', defaultValue: '900000', value: (b) => String(b.config.transactionMaxTimeoutMs), doc: 'Largest transaction.timeout.ms a producer may ask for (transactionMaxTimeoutMs).' },
  { name: 'transactional.id.expiration.ms', type: 'int', defaultValue: '604800000', value: (b) => String(b.config.transactionalIdExpirationMs), doc: 'How long an idle transactional id is kept (transactionalIdExpirationMs).' },
];

interface BrokerEntry {
  def: ConfigDefinition;
  /** The value set in the broker's options (STATIC_BROKER_CONFIG), if any. */
  staticValue: string | undefined;
}

/** Every broker config kch describes, by name: its own, then the broker synonyms of topic configs. */
function brokerEntries(b: BrokerView): Map<string, BrokerEntry> {
  const entries = new Map<string, BrokerEntry>();
  for (const def of BROKER_CONFIGS) {
    const value = def.value(b);
    entries.set(def.name, {
      def,
      staticValue: value !== def.defaultValue ? (value ?? undefined) : undefined,
    });
  }
  const topicDefaults = brokerTopicDefaults(b.config);
  for (const def of TOPIC_CONFIGS) {
    if (def.brokerSynonym === undefined) continue;
    entries.set(def.brokerSynonym, {
      def: { ...def, name: def.brokerSynonym },
      staticValue: topicDefaults[def.name],
    });
  }
  return entries;
}

/** The definitions of the broker configs kch knows, by name: those not dynamic cannot be set at run time. */
const KNOWN_BROKER_CONFIGS: ReadonlyMap<string, ConfigDefinition> = new Map<string, ConfigDefinition>([
  ...BROKER_CONFIGS.map((d): [string, ConfigDefinition] => [d.name, d]),
  ...TOPIC_CONFIGS.flatMap((d): [string, ConfigDefinition][] =>
    d.brokerSynonym === undefined ? [] : [[d.brokerSynonym, { ...d, name: d.brokerSynonym }]],
  ),
]);

/** The definition of a broker config kch knows (its type and default), or undefined. */
export function brokerConfigDefinition(name: string): ConfigDefinition | undefined {
  return KNOWN_BROKER_CONFIGS.get(name);
}

/**
 * One broker config as Kafka's ConfigHelper.createBrokerConfigEntry reports it: its synonyms are the
 * dynamic per-broker value, the dynamic default, the static value and the default, in that order (the
 * per-broker one left out for the cluster-wide resource), the first being the value and its source.
 */
function describeEntry(
  name: string,
  entry: BrokerEntry | undefined,
  layers: DynamicLayers,
  perBroker: boolean,
): DescribedConfig {
  const def = entry?.def;
  const sensitive = def?.sensitive ?? false;
  const shown = (v: string | null) => (sensitive ? null : v);
  const synonyms: ConfigSynonym[] = [];
  const add = (value: string | null | undefined, source: number) => {
    if (value !== undefined && value !== null) synonyms.push({ name, value: shown(value), source });
  };
  if (perBroker) add(layers.broker[name], ConfigSource.DYNAMIC_BROKER_CONFIG);
  add(layers.cluster[name], ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG);
  add(entry?.staticValue, ConfigSource.STATIC_BROKER_CONFIG);
  add(def?.defaultValue, ConfigSource.DEFAULT_CONFIG);
  const first = synonyms[0];
  return {
    name,
    value: first ? first.value : null,
    source: first?.source ?? ConfigSource.DEFAULT_CONFIG,
    // A config kch does not know (Kafka allows custom ones) can be changed as it was set.
    readOnly: def !== undefined && !DYNAMIC_BROKER_CONFIGS.has(name),
    sensitive,
    synonyms,
    type: def?.type ?? 'string',
    doc: def?.doc ?? 'A config kch does not know, kept as it was set.',
  };
}

const byName = (x: { name: string }, y: { name: string }) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0);

/**
 * The broker's configs as DescribeConfigs reports them for this broker's id, in name order. Values
 * set by the broker's options are STATIC_BROKER_CONFIG, values set by AlterConfigs
 * DYNAMIC_BROKER_CONFIG (this broker) or DYNAMIC_DEFAULT_BROKER_CONFIG (every broker), the rest
 * DEFAULT_CONFIG. Only the configs kch applies at run time are not read-only.
 */
export function describeBrokerConfigs(b: BrokerView): DescribedConfig[] {
  const entries = brokerEntries(b);
  const layers = b.dynamicConfigs;
  const names = new Set([...entries.keys(), ...Object.keys(layers.cluster), ...Object.keys(layers.broker)]);
  return [...names].map((name) => describeEntry(name, entries.get(name), layers, true)).sort(byName);
}

/**
 * The cluster-wide dynamic defaults (the BROKER resource ""), as Kafka describes them: only the configs
 * set there, each with its default, static and default synonyms.
 */
export function describeClusterDefaultConfigs(b: BrokerView): DescribedConfig[] {
  const entries = brokerEntries(b);
  const layers = b.dynamicConfigs;
  return Object.keys(layers.cluster)
    .map((name) => describeEntry(name, entries.get(name), layers, false))
    .sort(byName);
}

/**
 * Kafka's DynamicBrokerConfig.validateConfigs and validateConfigTypes over the whole set a resource
 * would have: the broker configs kch knows that are not dynamic are refused together, then each
 * dynamic value is parsed (its canonical form kept). Names kch does not know are kept as they are, as
 * Kafka allows custom configs. Errors are INVALID_REQUEST, as ConfigAdminManager turns a
 * ConfigException into (KAFKA-13609).
 */
export function validateDynamicConfigs(configs: Readonly<Record<string, string>>): Record<string, string> {
  const refused = Object.keys(configs).filter(
    (n) => KNOWN_BROKER_CONFIGS.has(n) && !DYNAMIC_BROKER_CONFIGS.has(n),
  );
  if (refused.length > 0) {
    throw new KafkaProtocolError(
      'INVALID_REQUEST',
      `Cannot update these configs dynamically: Set(${refused.join(', ')})`,
    );
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(configs)) {
    const def = DYNAMIC_BROKER_CONFIGS.get(name);
    try {
      out[name] = def ? parseConfigValue({ ...def, name }, value) : value;
    } catch (e) {
      if (e instanceof KafkaProtocolError) throw new KafkaProtocolError('INVALID_REQUEST', e.message);
      throw e;
    }
  }
  // KafkaConfig's own check, which a topic's retention.ms does not have.
  if (out['log.retention.ms'] === '0')
    throw new KafkaProtocolError(
      'INVALID_REQUEST',
      'log.retention.ms must be unlimited (-1) or, greater than or equal to 1',
    );
  return out;
}

/* ------------------------------------------------------------------------------------------------ */
/* Resource names                                                                                   */
/* ------------------------------------------------------------------------------------------------ */

/** Java's Integer.parseInt, or null where it throws. */
export function parseJavaInt(s: string): number | null {
  if (!/^[+-]?\d+$/.test(s)) return null;
  const n = Number(s);
  return n >= -(2 ** 31) && n < 2 ** 31 ? n : null;
}
