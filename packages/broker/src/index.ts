export { Broker, createBroker, type ListenOptions } from './broker.js';
export { validateTopicConfigs } from './configs.js';
export type { BrokerEvents, RequestEvent } from './events.js';
export { jsonLogger, type Logger, type LogLevel, silentLogger } from './logger.js';
export {
  BrokerMetrics,
  brokerMetrics,
  Counter,
  Gauge,
  Histogram,
  MetricsRegistry,
  PROMETHEUS_CONTENT_TYPE,
} from './metrics.js';
export {
  type BrokerConfig,
  BrokerOptionsError,
  type BrokerOptionsInput,
  brokerOptionsSchema,
} from './options.js';
