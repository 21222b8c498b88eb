/**
 * The broker's own configs as DescribeConfigs reports them (Kafka's names and defaults, read from the
 * running broker), and the refusal of changes to them: kch takes its settings from `createBroker`
 * options. Topic configs are in ./topic-configs.ts.
 */
import { KafkaProtocolError } from '@kch/protocol';
import type { BrokerConfig } from './options.js';
import { DEFAULT_QUEUED_MAX_REQUEST_BYTES } from './server/request-memory.js';
import {
  brokerTopicDefaults,
  type ConfigDefinition,
  ConfigSource,
  type ConfigSynonym,
  type DescribedConfig,
  TOPIC_CONFIGS,
} from './topic-configs.js';

/** What the broker config table reads from the running broker. */
export interface BrokerView {
  config: BrokerConfig;
  advertisedListeners: ReadonlyMap<string, { host: string; port: number; securityProtocol: string }>;
  storage: { location: string };
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

/**
 * The broker's configs as DescribeConfigs reports them for this broker's id, in name order. Values
 * set by the broker's options are STATIC_BROKER_CONFIG, the rest DEFAULT_CONFIG. All are read-only:
 * kch takes its settings from `createBroker` options and changes none of them at run time.
 */
export function describeBrokerConfigs(b: BrokerView): DescribedConfig[] {
  const entries: { def: ConfigDefinition; value: string | null; isStatic: boolean }[] = [];
  for (const def of BROKER_CONFIGS) {
    const value = def.value(b);
    entries.push({ def, value, isStatic: value !== def.defaultValue });
  }
  const topicDefaults = brokerTopicDefaults(b.config);
  for (const def of TOPIC_CONFIGS) {
    if (def.brokerSynonym === undefined) continue;
    const set = topicDefaults[def.name];
    entries.push({
      def: { ...def, name: def.brokerSynonym },
      value: set ?? def.defaultValue,
      isStatic: set !== undefined,
    });
  }
  entries.sort((x, y) => (x.def.name < y.def.name ? -1 : x.def.name > y.def.name ? 1 : 0));
  return entries.map(({ def, value, isStatic }) => {
    const sensitive = def.sensitive ?? false;
    const shown = (v: string | null) => (sensitive ? null : v);
    const synonyms: ConfigSynonym[] = [];
    if (isStatic)
      synonyms.push({ name: def.name, value: shown(value), source: ConfigSource.STATIC_BROKER_CONFIG });
    if (def.defaultValue !== null) {
      synonyms.push({ name: def.name, value: shown(def.defaultValue), source: ConfigSource.DEFAULT_CONFIG });
    }
    return {
      name: def.name,
      value: shown(value),
      source: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG,
      readOnly: true,
      sensitive,
      synonyms,
      type: def.type,
      doc: def.doc,
    };
  });
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

/**
 * The error for a change to broker configs: kch has no dynamic broker configs, so any value set is
 * refused as Kafka refuses its read-only ones (DynamicBrokerConfig.validateConfigs).
 */
export function brokerConfigChangeError(keys: readonly string[]): KafkaProtocolError | null {
  if (keys.length === 0) return null;
  return new KafkaProtocolError(
    'INVALID_REQUEST',
    `Cannot update these configs dynamically: Set(${keys.join(', ')}); kch takes broker settings from its createBroker options`,
  );
}
