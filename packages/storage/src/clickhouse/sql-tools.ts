/**
 * The ClickHouse storage's part for tools, beyond the Storage contract (./sql-storage.ts): people's
 * SQL, the integration tables config, and the host materialized views are made through (./views.ts).
 */
import { StorageError } from '../storage.js';
import type { Backend } from './backend.js';
import type { PartitionWriter } from './partition-writer.js';
import { createDatabase } from './statements.js';
import {
  integrationTableDdl,
  parseTablesConfig,
  type TopicBinding,
  tableOfEntry,
  topicBindings,
} from './tables-config.js';
import type { TopicCatalog } from './topic-catalog.js';
import { backendFailure, describeFailure } from './transport.js';
import type { ViewHost } from './views.js';

export class SqlTools {
  constructor(
    private readonly backend: Backend,
    private readonly catalog: TopicCatalog,
    private readonly writer: PartitionWriter,
  ) {}

  /** See SqlStorage.query. */
  async query(sql: string, format = 'TabSeparated'): Promise<Buffer> {
    const b = this.backend;
    b.checkOpen();
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(format))
      throw new StorageError(
        'INVALID_REQUEST',
        `${JSON.stringify(format)} is not a ClickHouse format name`,
        false,
      );
    const t = b.t.query ? b.t : b.unwrapped!;
    try {
      return await t.query!(sql, format);
    } catch (e) {
      if (e instanceof StorageError) throw e;
      const f = backendFailure(e);
      if (f.code !== undefined && !f.transient)
        throw new StorageError('INVALID_REQUEST', describeFailure(f), false, { cause: e });
      throw b.unavailable('run the query', f, e);
    }
  }

  /**
   * Applies an integration `tables` config (./tables-config.ts): creates the tables that do not exist
   * and returns which topics bind to which table. Binding itself is the broker's part (topic configs).
   */
  async applyTablesConfig(input: unknown): Promise<TopicBinding[]> {
    const b = this.backend;
    b.checkOpen();
    const tables = parseTablesConfig(input);
    for (const t of tables) {
      const [db] = tableOfEntry(t, b.database);
      if (db !== b.database) await b.command(`create the database ${db}`, createDatabase(db, b.dialect));
      try {
        await b.t.command(integrationTableDdl(t, b.database, b.dialect));
      } catch (e) {
        const f = backendFailure(e);
        if (f.transient) throw b.unavailable(`create the table ${t.name}`, f, e);
        throw new StorageError(
          'INVALID_REQUEST',
          `ClickHouse refused to create the table ${t.name} of the tables config: ${describeFailure(f)}`,
          false,
          { cause: e },
        );
      }
    }
    return topicBindings(tables);
  }

  /** What ./views.ts makes views through. */
  viewHost(): ViewHost {
    this.backend.checkOpen();
    return {
      database: this.backend.database,
      dialect: this.backend.dialect,
      query: (sql, format) => this.query(sql, format),
      topicTable: (name) => this.topicTable(name),
      isBound: (name) => this.catalog.topicOf(name).bound !== null,
      topicNames: async () => this.catalog.names(),
      holdAppends: (topic, f) => this.writer.holdAppends(topic, f),
    };
  }

  /** See SqlStorage.topicTable. */
  topicTable(name: string): string {
    this.backend.checkOpen();
    return this.catalog.topicOf(name).table;
  }
}
