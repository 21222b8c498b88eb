/**
 * The integration `tables` of the broker's config: the tables are created (when missing) before the
 * broker starts, and their topics become declared topics bound to them, so the broker's own topic
 * declarations do the binding; each `group_name` becomes a table group (its offsets kept at the ends).
 */
import type { DeclaredTopic } from '@kch/broker';
import { type IntegrationTable, isSqlStorage, type Storage } from '@kch/storage';

export interface TableDeclarations {
  topics: Record<string, DeclaredTopic>;
  tableGroups: Record<string, string[]>;
}

/**
 * Creates the tables and merges their bindings into the declared topics. A topic declared with
 * another table than its `tables` entry is an error that names both.
 */
export async function declareTables(
  storage: Storage,
  tables: readonly IntegrationTable[],
  topics: Readonly<Record<string, DeclaredTopic>>,
): Promise<TableDeclarations> {
  const out: TableDeclarations = { topics: { ...topics }, tableGroups: {} };
  if (tables.length === 0) return out;
  if (!isSqlStorage(storage))
    throw new Error(`the storage (${storage.name}) has no tables: use chdb or a ClickHouse server`);
  await storage.open();
  for (const b of await storage.applyTablesConfig(tables)) {
    const declared = topics[b.topic];
    if (declared?.table !== undefined && declared.table !== b.table)
      throw new Error(
        `topic ${b.topic} is declared with table ${declared.table} in topics, and feeds ${b.table} in tables: bind it to one table`,
      );
    out.topics[b.topic] = {
      ...declared,
      table: b.table,
      format: b.configs['kch.format'] as DeclaredTopic['format'],
      ...(b.partitions !== undefined && declared?.partitions === undefined
        ? { partitions: b.partitions }
        : {}),
    };
    if (b.group !== undefined) out.tableGroups[b.group] = [...(out.tableGroups[b.group] ?? []), b.topic];
  }
  return out;
}
