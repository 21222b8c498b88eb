export { Broker, createBroker, type ListenOptions } from './broker.js';
export type {
  AuthenticationEvent,
  BrokerEvents,
  ClientTelemetryEvent,
  CompactionEvent,
  InvalidRecordsEvent,
  RequestEvent,
} from './events.js';
export { DEAD_LETTER_HEADERS } from './ingest/dead-letters.js';
export type { StandardSchemaV1 } from './ingest/value-schemas.js';
export { TopicDeclarationError } from './log/declared-topics.js';
export { jsonLogger, type Logger, type LogLevel, silentLogger } from './logger.js';
export {
  BrokerMetrics,
  type BrokerMetricsOptions,
  brokerMetrics,
  type MetricsRegistry,
  PROMETHEUS_CONTENT_TYPE,
} from './metrics.js';
export {
  type BrokerConfig,
  BrokerOptionsError,
  type BrokerOptionsInput,
  brokerOptionsSchema,
  type DeclaredTopic,
  declaredTopicSchema,
} from './options.js';
export { pemText } from './properties/tls.js';
// Kafka's ACL vocabulary and SCRAM derivation, which `kch acls` and `kch users` share with the broker;
// the SASL mechanisms, which also authenticate users of the admin HTTP server.
export {
  AclOperation,
  AclPermissionType,
  CLUSTER_NAME,
  formatAccessControlEntry,
  formatResourcePattern,
  operationName,
  PatternType,
  parseOperation,
  parsePatternType,
  pascalCase,
  patternTypeName,
  permissionTypeName,
  ResourceType,
  resourceTypeName,
  supportedOperations,
  WILDCARD_HOST,
} from './security/acl-codes.js';
export { javaHostAddress } from './security/authorize.js';
export type { Authorizer, Requester } from './security/authorizer.js';
export type { SaslMechanismName, SecurityProtocol, TlsOptions } from './security/options.js';
export { createMechanism, SaslAuthenticationError } from './security/sasl/mechanism.js';
export {
  SCRAM_HASHES,
  SCRAM_MECHANISM_TYPES,
  SCRAM_MIN_ITERATIONS,
  type ScramMechanismName,
  saltedPassword,
  scramMechanismOfType,
} from './security/sasl/scram.js';
export { ListenerTls } from './security/tls.js';
export {
  type BrokerOptionsFromProperties,
  brokerOptionsFromProperties,
  JaasConfigError,
  type JaasEntry,
  JavaPropertiesError,
  type PropertiesBrokerOptions,
  parseJaasConfig,
  parseJavaProperties,
} from './server-properties.js';
export { validateTopicConfigs } from './topic-configs.js';
