/**
 * What a storage whose topics are ClickHouse tables offers tools beyond the Storage contract: any SQL
 * (`kch sql`, the admin endpoint `POST /sql`), materialized views over topics (`kch views`) and the
 * integration tables config. `clickhouseStorage()` is one; {@link isSqlStorage} tells.
 */
import type { Storage } from '../storage.js';
import type { TopicBinding } from './tables-config.js';
import type { EnsureViewResult, ViewDefinitionInput, ViewInfo } from './views.js';

/**
 * The mark a SqlStorage carries. A registered symbol, so that a storage made by another copy of this
 * package (its ESM and CJS builds, two versions in one tree) is recognized too.
 */
export const SQL_STORAGE: unique symbol = Symbol.for('kch.SqlStorage');

export interface SqlStorage extends Storage {
  readonly [SQL_STORAGE]: true;
  /**
   * Runs any SQL and returns the result as ClickHouse wrote it in `format` (TabSeparated by default;
   * a FORMAT clause in the SQL wins), held in memory. INVALID_REQUEST for a statement ClickHouse
   * refused (with its message), UNAVAILABLE when ClickHouse could not be reached.
   */
  query(sql: string, format?: string): Promise<Buffer>;
  /** The quoted, qualified table of a topic's records; UNKNOWN_TOPIC_OR_PARTITION for no such topic. */
  topicTable(topic: string): string;
  createView(definition: ViewDefinitionInput): Promise<ViewInfo>;
  /** Creates the view unless one has its name; says whether an existing one has this definition. */
  ensureView(definition: ViewDefinitionInput): Promise<EnsureViewResult>;
  listViews(): Promise<ViewInfo[]>;
  dropView(name: string): Promise<void>;
  /** Creates the tables of a tables config that do not exist, and returns which topics bind to which. */
  applyTablesConfig(input: unknown): Promise<TopicBinding[]>;
}

export function isSqlStorage(storage: Storage): storage is SqlStorage {
  return SQL_STORAGE in storage && storage[SQL_STORAGE] === true;
}
