import { clickhouseStorage, isSqlStorage, memoryStorage, type Storage } from '@kch/storage';
import type { StorageSpec } from './options.js';

/** The storage a `--storage` spec names. Nothing is opened yet (createBroker opens it). */
export function createStorage(
  spec: StorageSpec,
  options: {
    database: string;
    lingerMs?: number;
    chdbSettings?: Record<string, string>;
    /** A self-managed ClickHouse cluster behind a server URL (`clickhouseStorage({ cluster })`). */
    clickhouseCluster?: string;
  },
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
      return clickhouseStorage({
        url: spec.url,
        ...common,
        ...(options.clickhouseCluster !== undefined ? { cluster: { name: options.clickhouseCluster } } : {}),
      });
  }
}

/**
 * Whether the storage runs SQL for tools (`kch sql`, `POST /sql`) and has materialized views (`kch
 * views`): both are @kch/storage's SqlStorage (the ClickHouse storage), under the names the admin
 * server and the declared views ask by.
 */
export { isSqlStorage as isQueryable, isSqlStorage as hasViews };
