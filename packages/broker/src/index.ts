export { Broker, createBroker, type ListenOptions } from './broker.js';
export type { BrokerEvents, RequestEvent } from './events.js';
export { jsonLogger, type Logger, type LogLevel, silentLogger } from './logger.js';
export {
  type BrokerConfig,
  BrokerOptionsError,
  type BrokerOptionsInput,
  brokerOptionsSchema,
} from './options.js';
