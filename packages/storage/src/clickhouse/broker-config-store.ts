/**
 * The storage's BrokerConfigStore: Kafka's dynamic broker configs in `_kch_broker_configs`
 * (./schema.ts, migration 6). Versioned as the security metadata is (./security-store.ts): a write
 * inserts rows with a newer version, a removal a row marked deleted, and `list` reads the latest row
 * of each key (FINAL), so it also sees what another broker over the same database wrote.
 */
import type { BrokerConfigEntry, BrokerConfigStore } from '../storage.js';
import { OrderedStore } from './ordered-store.js';
import { BROKER_CONFIG_ROW_COLUMNS, BROKER_CONFIGS_TABLE } from './schema.js';
import { storedBrokerConfigs } from './statements.js';
import { TsvWriter } from './tsv.js';

export class ClickHouseBrokerConfigStore extends OrderedStore implements BrokerConfigStore {
  async list(): Promise<BrokerConfigEntry[]> {
    this.backend.checkOpen();
    const r = await this.backend.select(
      'list dynamic broker configs',
      storedBrokerConfigs(this.backend.database),
    );
    const out: BrokerConfigEntry[] = [];
    while (!r.done) out.push({ resource: r.string(), name: r.string(), value: r.string() });
    return out;
  }

  alter(resource: string, changes: Readonly<Record<string, string | null>>): Promise<void> {
    return this.write(async () => {
      const entries = Object.entries(changes);
      if (entries.length === 0) return;
      const version = this.metadata.nextVersion();
      const w = new TsvWriter(128 * entries.length);
      for (const [name, value] of entries) {
        w.text(resource)
          .tab()
          .text(name)
          .tab()
          .text(value ?? '')
          .tab();
        w.int(value === null ? 1 : 0)
          .tab()
          .int(version)
          .newline();
      }
      const what = `alter the dynamic configs of broker resource '${resource}'`;
      await this.backend.insertRows(what, BROKER_CONFIGS_TABLE, BROKER_CONFIG_ROW_COLUMNS, w);
    });
  }
}
