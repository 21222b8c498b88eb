export { Broker, createBroker, type ListenOptions } from './broker.js';
export type { AuthenticationEvent, BrokerEvents, InvalidRecordsEvent, RequestEvent } from './events.js';
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
export {
  type BrokerOptionsFromProperties,
  brokerOptionsFromProperties,
  JavaPropertiesError,
  type PropertiesBrokerOptions,
  parseJavaProperties,
} from './server-properties.js';
export { validateTopicConfigs } from './topic-configs.js';
