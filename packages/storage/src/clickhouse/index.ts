export {
  type BoundFormat,
  bindingOf,
  FORMAT_CONFIG,
  TABLE_CONFIG,
  VIRTUAL_COLUMNS,
} from './bound-table.js';
export { CHDB_INSTALL_HINT } from './chdb-transport.js';
export { ClickHouseStorage, clickhouseStorage } from './clickhouse-storage.js';
export {
  type ClusterConfig,
  type ClusterOptions,
  clusterOptionsSchema,
  DEFAULT_ZOOKEEPER_PATH,
} from './cluster-options.js';
export {
  type ClickHouseStorageConfig,
  type ClickHouseStorageOptions,
  clickhouseStorageOptionsSchema,
} from './options.js';
export {
  DEFAULT_TOPIC_TABLE_SETTINGS,
  MIGRATIONS,
  type Migration,
  RESERVED_PREFIX,
  type TableSettings,
  TOPIC_COLUMNS,
  topicTableDdl,
} from './schema.js';
export { isSqlStorage, SQL_STORAGE, type SqlStorage } from './sql-storage.js';
export {
  INTEGRATION_VIRTUAL_COLUMNS,
  type IntegrationTable,
  type IntegrationTableInput,
  integrationTableDdl,
  integrationTableSchema,
  parseTablesConfig,
  type TopicBinding,
  tablesConfigSchema,
  topicBindings,
} from './tables-config.js';
export type { ClickHouseTransport, InsertOptions, Settings as TransportSettings } from './transport.js';
export {
  type EnsureViewResult,
  parseViewDefinition,
  TOPIC_PLACEHOLDER,
  type ViewDefinition,
  type ViewDefinitionInput,
  ViewError,
  type ViewInfo,
  viewDefinitionSchema,
} from './views.js';
