import {
  clickhouseStorage,
  type EnsureViewResult,
  memoryStorage,
  type Storage,
  type ViewDefinitionInput,
  type ViewInfo,
} from '@kch/storage';
import type { StorageSpec } from './options.js';

/** The storage a `--storage` spec names. Nothing is opened yet (createBroker opens it). */
export function createStorage(
  spec: StorageSpec,
  options: { database: string; lingerMs?: number; chdbSettings?: Record<string, string> },
): Storage {
  const common = {
    database: options.database,
    ...(options.lingerMs !== undefined ? { lingerMs: options.lingerMs } : {}),
  };
  switch (spec.kind) {
    case 'memory':
      return memoryStorage();
    case 'chdb':
      return clickhouseStorage({ chdb: spec.dir, chdbSettings: options.chdbSettings, ...common });
    case 'url':
      return clickhouseStorage({ url: spec.url, ...common });
  }
}

/** Storages that run SQL for tools: the ClickHouse storage's `query(sql, format)`. */
export interface QueryableStorage {
  query(sql: string, format?: string): Promise<Buffer>;
}

export function isQueryable(storage: Storage): storage is Storage & QueryableStorage {
  return typeof (storage as Partial<QueryableStorage>).query === 'function';
}

/** Storages with materialized views on topics: the ClickHouse storage (see @kch/storage views). */
export interface ViewStorage {
  createView(definition: ViewDefinitionInput): Promise<ViewInfo>;
  ensureView(definition: ViewDefinitionInput): Promise<EnsureViewResult>;
  listViews(): Promise<ViewInfo[]>;
  dropView(name: string): Promise<void>;
}

export function hasViews(storage: Storage): storage is Storage & ViewStorage {
  const s = storage as Partial<ViewStorage>;
  return (
    typeof s.createView === 'function' &&
    typeof s.listViews === 'function' &&
    typeof s.dropView === 'function'
  );
}
