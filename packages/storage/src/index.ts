export * from './clickhouse/index.js';
export { memberAddress, nodeIdInUse } from './cluster-member.js';
export {
  type AppendSettlement,
  appendEnd,
  earlierAppendRejected,
  InFlightAppends,
} from './in-flight-appends.js';
export { MemoryBrokerConfigStore } from './memory/memory-broker-configs.js';
export { MemoryClusterStore } from './memory/memory-cluster.js';
export { aclKey, MemorySecurityStore, quotaEntityKey } from './memory/memory-security.js';
export { MemoryStorage, memoryStorage } from './memory/memory-storage.js';
export { MemoryTransactionStore } from './memory/memory-transactions.js';
export {
  addSequence,
  lastProducerBatches,
  PRODUCER_BATCHES_KEPT,
  producerBatchInfo,
} from './producer-batches.js';
export * from './storage.js';
export { storedBatchOf } from './stored-batch.js';
export { isStaged, markerType, openTransactionsOf } from './transaction-batches.js';
export { KeyedTurns, Turns } from './turns.js';
