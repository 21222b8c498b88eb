import { MemoryBrokerConfigStore, type RecordCheck, type Storage } from '@kch/storage';
import type { EventEmitter } from 'eventemitter3';
import type { Leadership, PartitionLeader } from './cluster/leadership.js';
import { DynamicBrokerConfigs } from './dynamic-broker-configs.js';
import type { BrokerEvents } from './events.js';
import { CommittedReaders } from './groups/committed-readers.js';
import type { GroupCoordinator } from './groups/coordinator.js';
import { codeSchemaChecks } from './log/declared-topics.js';
import type { LogCleaner } from './log/log-cleaner.js';
import { LEADER_EPOCH } from './log/partition-log.js';
import type { Topic, TopicManager } from './log/topics.js';
import type { Logger } from './logger.js';
import type { BrokerConfig } from './options.js';
import { ClientQuotas } from './quotas/client-quotas.js';
import type { BrokerSecurity } from './security/context.js';
import { ClientTelemetry } from './telemetry/client-telemetry.js';
import { brokerTopicDefaults } from './topic-configs.js';
import type { TransactionCoordinator } from './transactions/coordinator.js';

/** Everything a handler reaches: configuration, storage, topics, groups, events. One per broker. */
export class BrokerContext {
  /**
   * Where the clients of each listener are told to connect (advertised.listeners), by listener name,
   * in the order the listeners were opened; set by `listen`.
   */
  readonly advertisedListeners = new Map<string, { host: string; port: number; securityProtocol: string }>();
  /**
   * Topic config defaults set at the broker level (topicDefaults, message.max.bytes, and the dynamic
   * broker configs over them): one object, changed in place when a dynamic config changes.
   */
  readonly topicDefaults: Record<string, string>;
  /** Dynamic broker configs (AlterConfigs on BROKER resources); `load()` them before serving. */
  readonly dynamicConfigs: DynamicBrokerConfigs;
  /**
   * Record checks of schemas given in code (`topics.<name>.schema` as a zod schema), by topic. They
   * cannot be stored with the topic, so they apply while this broker runs.
   */
  readonly codeChecks: ReadonlyMap<string, RecordCheck>;
  /** Client quotas (KIP-13, KIP-55, KIP-124), from the security store; `load()` them before serving. */
  readonly quotas: ClientQuotas;
  /** Client telemetry (KIP-714): subscriptions and the latest values clients pushed. */
  readonly telemetry: ClientTelemetry;
  /** Which consumer groups read with read_committed, for their lag (metrics). */
  readonly committedReaders = new CommittedReaders();
  /** Partition leadership among several brokers over one database; unset with one broker. */
  leadership: Leadership | undefined;
  /**
   * The transaction coordinator, or unset where transactions cannot be served (see
   * `transactionsRefused`).
   */
  transactions: TransactionCoordinator | undefined;
  /** The log cleaner (docs/compaction.md); unset when log.cleaner.enable is off. */
  cleaner: LogCleaner | undefined;
  /** Set when the broker begins to close: long polls return at once. */
  closing = false;
  private readonly closingListeners = new Set<() => void>();

  constructor(
    readonly config: BrokerConfig,
    readonly storage: Storage,
    readonly logger: Logger,
    readonly topics: TopicManager,
    readonly groups: GroupCoordinator,
    readonly events: EventEmitter<BrokerEvents>,
    readonly security: BrokerSecurity,
  ) {
    this.topicDefaults = brokerTopicDefaults(config);
    this.dynamicConfigs = new DynamicBrokerConfigs(
      storage.brokerConfigs ?? new MemoryBrokerConfigStore(),
      config,
      this.topicDefaults,
      () => config.nodeId,
      storage.setTopicDefaults && ((d) => storage.setTopicDefaults!(d)),
    );
    this.codeChecks = codeSchemaChecks(config);
    this.quotas = new ClientQuotas(security.store);
    this.telemetry = new ClientTelemetry(config.clientTelemetry);
  }

  /**
   * Why this broker serves no transactions, in words for the producer that asked; null when it does.
   * They need a storage that stages transactional batches (Storage.transactions), and for now one
   * broker per database.
   */
  transactionsRefused(): string | null {
    if (this.transactions) return null;
    if (!this.storage.transactions)
      return `Transactions are not supported by this kch broker's storage (${this.storage.name}) yet: produce without a transactional.id.`;
    if (this.topics?.ledByCluster)
      return 'Transactions are not supported yet where several kch brokers share one database: produce without a transactional.id, or run one broker.';
    return 'Transactions are not supported by this kch broker: it runs no transaction coordinator.';
  }

  /** The address Metadata and FindCoordinator give a client that came in on `listener`. */
  advertisedFor(listener: string): { host: string; port: number } {
    const a = this.advertisedListeners.get(listener) ?? this.advertised;
    return { host: a.host, port: a.port };
  }

  /** The first listener's advertised address (before `listen`: Kafka's default, 127.0.0.1:9092). */
  get advertised(): { host: string; port: number } {
    for (const a of this.advertisedListeners.values()) return { host: a.host, port: a.port };
    return { host: '127.0.0.1', port: 9092 };
  }

  /** The partition's leader: this broker when it is alone; null while no live broker leads it. */
  leaderOf(topic: Topic, partition: number): PartitionLeader | null {
    if (!this.leadership) return { nodeId: this.config.nodeId, epoch: LEADER_EPOCH };
    return this.leadership.leaderOf(topic.record.topicId, partition);
  }

  /**
   * The group's coordinator as a client that came in on `listener` reaches it: this broker when it
   * is alone; with several, the live holder of the group's slot, or null while there is none.
   */
  coordinatorFor(groupId: string, listener: string): { nodeId: number; host: string; port: number } | null {
    if (!this.leadership) return { nodeId: this.config.nodeId, ...this.advertisedFor(listener) };
    const nodeId = this.leadership.coordinatorOf(groupId);
    return this.brokersFor(listener).find((b) => b.nodeId === nodeId) ?? null;
  }

  /** The transaction coordinator as a client that came in on `listener` reaches it: this broker. */
  transactionCoordinatorFor(listener: string): { nodeId: number; host: string; port: number } {
    return { nodeId: this.config.nodeId, ...this.advertisedFor(listener) };
  }

  /**
   * The live brokers as a client that came in on `listener` reaches them: this one alone, or every
   * registered member with an endpoint of that listener (Kafka's brokers share listener names).
   */
  brokersFor(listener: string): { nodeId: number; host: string; port: number; rack: string | null }[] {
    // This broker first-hand (with several, it serves the request even before its first look).
    const brokers = [{ nodeId: this.config.nodeId, ...this.advertisedFor(listener), rack: this.config.rack }];
    if (!this.leadership) return brokers;
    for (const m of this.leadership.liveMembers()) {
      const endpoint = m.endpoints.find((e) => e.listener === listener);
      if (m.nodeId !== this.config.nodeId && endpoint)
        brokers.push({ nodeId: m.nodeId, host: endpoint.host, port: endpoint.port, rack: m.rack });
    }
    return brokers;
  }

  onClosing(listener: () => void): void {
    this.closingListeners.add(listener);
  }

  offClosing(listener: () => void): void {
    this.closingListeners.delete(listener);
  }

  beginClosing(): void {
    this.closing = true;
    for (const l of [...this.closingListeners]) l();
  }
}
