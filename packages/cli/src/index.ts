export { type BrokerCommandOptions, brokerCommandSchema } from './options.js';
export { main } from './run.js';
