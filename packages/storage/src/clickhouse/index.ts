export { CHDB_INSTALL_HINT } from './chdb-transport.js';
export { ClickHouseStorage, clickhouseStorage } from './clickhouse-storage.js';
export {
  type ClickHouseStorageConfig,
  type ClickHouseStorageOptions,
  clickhouseStorageOptionsSchema,
} from './options.js';
export {
  MIGRATIONS,
  type Migration,
  RESERVED_PREFIX,
  TOPIC_COLUMNS,
  topicTableDdl,
} from './schema.js';
export type { ClickHouseTransport, InsertOptions, Settings as TransportSettings } from './transport.js';
