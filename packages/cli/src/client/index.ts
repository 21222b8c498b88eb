/**
 * The CLI's small Kafka client, over @kch/protocol: what `kch topics`, `produce`, `consume` and `groups`
 * are built on.
 */
export * from './admin.js';
export {
  type BrokerAddress,
  BrokerConnection,
  type ClientOptions,
  type ClusterMetadata,
  DEFAULT_BOOTSTRAP_SERVER,
  DEFAULT_CLIENT_ID,
  KafkaClient,
  type PartitionMetadata,
  parseBootstrap,
  type RequestOptions,
  type TopicMetadata,
  withRetries,
} from './client.js';
export { Connection, type ConnectionOptions, formatAddress } from './connection.js';
export {
  type ConsumeOptions,
  type ConsumeResult,
  consume,
  type StartPosition,
  startPositions,
} from './consumer.js';
export { BrokerError, CliError, exitCodeOf, UnavailableError, UsageError } from './errors.js';
export { type FetchedRecord, type FetchOptions, fetchOnce, type PartitionFetch } from './fetcher.js';
export { type Assignment, GroupMember, type GroupMemberOptions, rangeAssign } from './group.js';
export { murmur2, partitionForKey, StickyPartitioner } from './partitioner.js';
export { type Acks, type Delivery, type ProduceRecord, Producer, type ProducerOptions } from './producer.js';
