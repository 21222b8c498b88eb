/**
 * Kafka's dynamic broker configs (KIP-226): set by AlterConfigs and IncrementalAlterConfigs on a BROKER
 * resource, for every broker ("" , DYNAMIC_DEFAULT_BROKER_CONFIG) or one (its id,
 * DYNAMIC_BROKER_CONFIG), kept in the storage's BrokerConfigStore so they outlast a restart and are
 * shared by the brokers of one database, and applied without a restart.
 *
 * kch makes dynamic only the configs whose change it truly applies at once: broker defaults of topic
 * configs that every Produce reads (through `BrokerContext.topicDefaults`, which this class keeps),
 * and those the storage applies to its tables (retention.ms, cleanup.policy: Storage.setTopicDefaults,
 * told of each change). Kafka makes every topic-config synonym dynamic; kch refuses the others as
 * Kafka refuses its read-only configs.
 */
import type { BrokerConfigStore } from '@kch/storage';
import { brokerTopicDefaults, TOPIC_CONFIGS, type TopicConfigDefinition } from './topic-configs.js';

/** The topic configs whose broker synonyms are dynamic in kch, by topic config name. */
const LIVE_TOPIC_DEFAULTS: readonly string[] = [
  'cleanup.policy', // compact: Produce refuses records without a key; the log cleaner compacts
  'max.message.bytes', // message.max.bytes: the largest batch Produce accepts
  'message.timestamp.after.max.ms',
  'message.timestamp.before.max.ms',
  'message.timestamp.type', // LogAppendTime: Produce stamps batches with the broker's time
  'retention.ms', // log.retention.ms: the TTL of the tables of topics without their own
];

/** The dynamic broker configs, by broker config name, with the topic config each is the default of. */
export const DYNAMIC_BROKER_CONFIGS: ReadonlyMap<string, TopicConfigDefinition> = new Map(
  TOPIC_CONFIGS.filter((d) => d.brokerSynonym !== undefined && LIVE_TOPIC_DEFAULTS.includes(d.name)).map(
    (d) => [d.brokerSynonym!, d],
  ),
);

/** The dynamic configs of the two resources that apply to this broker, by broker config name. */
export interface DynamicLayers {
  /** The cluster-wide defaults (resource ""). */
  readonly cluster: Readonly<Record<string, string>>;
  /** This broker's own (resource = its node id), which win over the cluster-wide ones. */
  readonly broker: Readonly<Record<string, string>>;
}

export class DynamicBrokerConfigs implements DynamicLayers {
  cluster: Record<string, string> = {};
  broker: Record<string, string> = {};
  private loads = 0;
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param topicDefaults the broker's effective topic defaults, changed in place: every reader of
   *   `BrokerContext.topicDefaults` sees a change at once.
   * @param nodeId read at each load: a broker's id may be assigned after it starts.
   * @param storageDefaults told the topic defaults whenever they change (Storage.setTopicDefaults:
   *   the storage takes those it applies itself, retention.ms and cleanup.policy on ClickHouse).
   */
  constructor(
    private readonly store: BrokerConfigStore,
    private readonly staticConfig: Parameters<typeof brokerTopicDefaults>[0],
    private readonly topicDefaults: Record<string, string>,
    private readonly nodeId: () => number,
    private readonly storageDefaults?: (defaults: Readonly<Record<string, string>>) => Promise<void>,
  ) {
    this.storageSaw = storageKey(topicDefaults);
  }

  /** The storage's topic defaults as last given to it (createBroker gives it the static ones). */
  private storageSaw: string;

  /** Reads the stored configs and applies them; a load overtaken by a later one applies nothing. */
  async load(): Promise<void> {
    const load = ++this.loads;
    const entries = await this.store.list();
    if (load !== this.loads) return;
    const own = String(this.nodeId());
    const cluster: Record<string, string> = {};
    const broker: Record<string, string> = {};
    for (const e of entries) {
      if (e.resource === '') cluster[e.name] = e.value;
      else if (e.resource === own) broker[e.name] = e.value;
    }
    this.cluster = cluster;
    this.broker = broker;
    this.apply();
    const key = storageKey(this.topicDefaults);
    if (key !== this.storageSaw && this.storageDefaults) {
      await this.storageDefaults({ ...this.topicDefaults });
      this.storageSaw = key;
    }
  }

  /**
   * Reads the stored configs again every `intervalMs` until `stop`, so a change made through another
   * broker over the same database applies here too. A failed read keeps the values last read; `warn`
   * hears of the first failure of a run of them, not of every one.
   */
  follow(intervalMs: number, warn: (error: Error) => void): void {
    let failing = false;
    this.timer = setInterval(() => {
      this.load().then(
        () => {
          failing = false;
        },
        (e: unknown) => {
          if (!failing) warn(e as Error);
          failing = true;
        },
      );
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The topic defaults the broker's options set, beneath the dynamic ones. */
  staticTopicDefaults(): Record<string, string> {
    return brokerTopicDefaults(this.staticConfig);
  }

  /** The stored configs of a resource ("" or this broker's id). */
  of(resource: string): Record<string, string> {
    return { ...(resource === '' ? this.cluster : this.broker) };
  }

  /**
   * Makes `canonical` (validated by ./broker-configs.ts) the whole set of the resource's dynamic
   * configs: stores the changes, then reads and applies what is stored.
   */
  async replace(resource: string, canonical: Record<string, string>): Promise<void> {
    const current = this.of(resource);
    const changes: Record<string, string | null> = {};
    for (const name of Object.keys(current)) if (!(name in canonical)) changes[name] = null;
    for (const [name, value] of Object.entries(canonical)) if (current[name] !== value) changes[name] = value;
    if (Object.keys(changes).length === 0) return;
    await this.store.alter(resource, changes);
    await this.load();
  }

  /** Static topic defaults, then the cluster-wide dynamic ones, then this broker's. */
  private apply(): void {
    const effective = this.staticTopicDefaults();
    for (const layer of [this.cluster, this.broker]) {
      for (const [name, value] of Object.entries(layer)) {
        const def = DYNAMIC_BROKER_CONFIGS.get(name);
        if (def) effective[def.name] = value;
      }
    }
    for (const key of Object.keys(this.topicDefaults)) delete this.topicDefaults[key];
    Object.assign(this.topicDefaults, effective);
  }
}

/** Topic defaults as one string to compare, whatever order their keys were set in. */
function storageKey(defaults: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(defaults).sort(([a], [b]) => (a < b ? -1 : 1)));
}
