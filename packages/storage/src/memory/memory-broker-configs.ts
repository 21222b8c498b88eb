import type { BrokerConfigEntry, BrokerConfigStore } from '../storage.js';

/** Dynamic broker configs in process memory: gone when the process exits. */
export class MemoryBrokerConfigStore implements BrokerConfigStore {
  /** By resource, then by config name. */
  private readonly resources = new Map<string, Map<string, string>>();

  async list(): Promise<BrokerConfigEntry[]> {
    const out: BrokerConfigEntry[] = [];
    for (const [resource, configs] of this.resources) {
      for (const [name, value] of configs) out.push({ resource, name, value });
    }
    return out;
  }

  async alter(resource: string, changes: Readonly<Record<string, string | null>>): Promise<void> {
    const configs = this.resources.get(resource) ?? new Map<string, string>();
    for (const [name, value] of Object.entries(changes)) {
      if (value === null) configs.delete(name);
      else configs.set(name, value);
    }
    if (configs.size === 0) this.resources.delete(resource);
    else this.resources.set(resource, configs);
  }
}
