import { MemorySecurityStore } from '@kch/storage';
import { EventEmitter } from 'eventemitter3';
import { apiTable } from './api-table.js';
import { Leadership, LOOK_INTERVAL_MS } from './cluster/leadership.js';
import { Membership } from './cluster/membership.js';
import { BrokerContext } from './context.js';
import type { BrokerEvents } from './events.js';
import { GroupCoordinator } from './groups/coordinator.js';
import { keepTableGroupsAtEnd, type TableGroups } from './groups/table-groups.js';
import { HANDLERS } from './handlers/index.js';
import { applyDeclaredTopics } from './log/declared-topics.js';
import { LogCleaner } from './log/log-cleaner.js';
import { TopicManager } from './log/topics.js';
import { jsonLogger, type Logger } from './logger.js';
import { type BrokerConfig, type BrokerOptionsInput, parseBrokerOptions } from './options.js';
import { Authorizer } from './security/authorizer.js';
import { advertisedAddress, resolveListeners } from './security/listeners.js';
import { KafkaServer } from './server/server.js';
import { brokerTopicDefaults } from './topic-configs.js';
import { TransactionCoordinator } from './transactions/coordinator.js';

export interface ListenOptions {
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /** Port to bind; 0 picks a free one. Default 9092. */
  port?: number;
}

/** How long `close` lets in-flight requests finish before it drops connections. */
const CLOSE_GRACE_MS = 10_000;

/**
 * A Kafka broker over a Storage. Create it with {@link createBroker}; it emits {@link BrokerEvents}.
 */
export class Broker extends EventEmitter<BrokerEvents> {
  private readonly server: KafkaServer;
  private address: { host: string; port: number } | undefined;
  private readonly bound = new Map<string, { host: string; port: number; securityProtocol: string }>();
  private closed: Promise<void> | undefined;
  private membership: Membership | undefined;

  /** @internal use createBroker */
  constructor(
    readonly context: BrokerContext,
    private readonly tableGroups: TableGroups,
    /** Whether the node id is to be assigned by the cluster store (none was given). */
    private readonly assignNodeId = false,
  ) {
    super();
    this.server = new KafkaServer(context, apiTable(HANDLERS));
  }

  get config(): BrokerConfig {
    return this.context.config;
  }

  /** Bytes of requests read and not yet answered, across connections (bounded by queuedMaxRequestBytes). */
  get queuedRequestBytes(): number {
    return this.server.requestMemory.bytes;
  }

  /** Bytes of batches handed to storage and not stored yet (bounded by maxPendingStorageBytes). */
  get pendingStorageBytes(): number {
    return this.context.topics.backlog.bytes;
  }

  /** Client connections open now, on every listener. */
  get openConnections(): number {
    return this.server.connections.size;
  }

  /** Where clients connect, once listening. */
  get listeningOn(): { host: string; port: number } | undefined {
    return this.address;
  }

  /**
   * Opens the listeners: those of the `listeners` option (then without `options`), or one PLAINTEXT
   * listener at `options.host`:`options.port`. Resolves with the first listener's bound address;
   * `boundListeners` has them all.
   */
  async listen(options: ListenOptions = {}): Promise<{ host: string; port: number }> {
    if (this.closed) throw new Error('the broker is closed; create a new one');
    if (this.address)
      throw new Error(`the broker already listens on ${this.address.host}:${this.address.port}`);
    const listeners = resolveListeners(this.context.config, options);
    for (const listener of listeners) {
      const bound = await this.server.listen(listener);
      const advertised = advertisedAddress(listener, bound.port);
      this.context.advertisedListeners.set(listener.name, {
        ...advertised,
        securityProtocol: listener.securityProtocol,
      });
      this.bound.set(listener.name, { ...bound, securityProtocol: listener.securityProtocol });
      this.address ??= bound;
      this.context.logger.info('listening', {
        listener: listener.name,
        securityProtocol: listener.securityProtocol,
        ...bound,
        advertised,
        ...(listener.saslMechanisms.length > 0 ? { saslMechanisms: listener.saslMechanisms } : {}),
      });
    }
    const first = this.address!;
    await this.joinCluster();
    this.emit('listening', first);
    return first;
  }

  /**
   * Registers with the storage's cluster store, when it has one, before any client is served: under
   * the node id given, or the one the store assigns. Where the store lets several brokers share the
   * database, partition leadership and coordinator slots are then shared with the other brokers.
   * A refusal (the node id is a live broker's, or the store allows one broker and another serves)
   * closes the listeners again and is thrown.
   */
  private async joinCluster(): Promise<void> {
    const store = this.context.storage.cluster;
    if (!store) return;
    const membership = new Membership(store, this.context.logger, (reason) => {
      this.context.logger.error('broker stops', { reason });
      void this.close();
    });
    this.membership = membership;
    const endpoints = [...this.context.advertisedListeners].map(([listener, a]) => ({ listener, ...a }));
    try {
      const nodeId = await membership.join(
        this.assignNodeId ? null : this.config.nodeId,
        this.config.rack,
        endpoints,
      );
      if (this.assignNodeId) {
        this.config.nodeId = nodeId;
        this.context.logger.info('node id assigned', { nodeId });
        // The broker's own dynamic configs are those stored under the id it now has.
        await this.context.dynamicConfigs.load();
      }
      if (store.manyBrokers) {
        const leadership = new Leadership(
          store,
          membership,
          this.context.topics,
          this.context.groups,
          nodeId,
          this.context.logger,
          this.context.topicDefaults,
        );
        this.context.leadership = leadership;
        // Dynamic broker configs set through another broker apply here at the next look too.
        this.context.dynamicConfigs.follow(LOOK_INTERVAL_MS, (e) =>
          this.context.logger.warn('dynamic broker configs not read', { error: e.message }),
        );
        // Groups are coordinated by the holders of their slots from now on, this broker's among them.
        this.context.groups.shareSlots(membership);
        // New partitions get their leaders before their creation is answered, not at the next look.
        this.context.topics.placeLeaders = () => leadership.look();
        await leadership.start();
      }
    } catch (e) {
      this.membership = undefined;
      await this.server.close(0);
      this.address = undefined;
      this.bound.clear();
      throw e;
    }
  }

  /** Every listener's bound address, by listener name, once listening. */
  get boundListeners(): ReadonlyMap<string, { host: string; port: number; securityProtocol: string }> {
    return this.bound;
  }

  /** Stops accepting, finishes in-flight requests, then closes groups and storage. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.context.beginClosing();
      this.context.dynamicConfigs.stop();
      // Partitions and coordinator slots are handed over first, so that the other brokers take them
      // at their next look (≤ 1 s) while this one finishes its requests: those still coming answer
      // NOT_LEADER_OR_FOLLOWER or NOT_COORDINATOR, and the clients move.
      await this.context.leadership
        ?.stop()
        .catch((e: unknown) =>
          this.context.logger.warn('partition leadership not released', { error: (e as Error).message }),
        );
      await this.server.close(CLOSE_GRACE_MS);
      await this.membership
        ?.leave()
        .catch((e: unknown) =>
          this.context.logger.warn('broker registration not removed', { error: (e as Error).message }),
        );
      await this.context.cleaner?.close();
      await this.tableGroups.close();
      await this.context.transactions?.close();
      await this.context.groups.close();
      await this.context.storage.close();
      this.address = undefined;
      this.bound.clear();
      this.context.logger.info('closed');
    })();
    return this.closed;
  }
}

/**
 * Creates a broker: validates options, opens storage, loads topics, creates or updates the topics
 * the options declare (a TopicDeclarationError says which and why when that fails), loads
 * groups. Call `listen` next.
 */
export async function createBroker(input: BrokerOptionsInput): Promise<Broker> {
  const { storage, logger: givenLogger, ...rest } = input;
  if (!storage)
    throw new Error('createBroker needs a storage, e.g. createBroker({ storage: memoryStorage() })');
  const config = parseBrokerOptions(rest);
  const logger = givenLogger ?? jsonLogger('info');
  const events = new EventEmitter<BrokerEvents>();
  await storage.open();
  // Before any topic is made (declared topics are next): retention by the broker's defaults too.
  await storage.setTopicDefaults?.(brokerTopicDefaults(config));
  const topics = new TopicManager(
    storage,
    config.tailCacheBytes,
    events,
    logger,
    config.maxPendingStorageBytes,
  );
  topics.ledByCluster = storage.cluster?.manyBrokers === true;
  await topics.load();
  await applyDeclaredTopics(topics, config, logger);
  // With many brokers each group is loaded by the holder of its slot, not by every broker at start.
  const groups = new GroupCoordinator({
    config,
    storage,
    logger,
    events,
    topics,
    sharedSlots: topics.ledByCluster,
  });
  const securityStore = storage.security ?? new MemorySecurityStore();
  if (!storage.security)
    logger.warn('security metadata kept in memory', {
      detail: `storage ${storage.name} keeps no SCRAM credentials, ACLs or quotas: they last until the broker stops`,
    });
  const authorizer = config.authorizer ? new Authorizer(config.authorizer, securityStore, logger) : undefined;
  await authorizer?.load();
  const context = new BrokerContext(config, storage, logger, topics, groups, events, {
    store: securityStore,
    authorizer,
  });
  await context.quotas.load();
  await context.dynamicConfigs.load();
  // Parked JoinGroup/SyncGroup requests are answered at once when the broker begins to close.
  context.onClosing(() => void groups.close());
  await groups.start();
  context.transactions = await startTransactions(context);
  if (config.logCleanerEnable) {
    context.cleaner = new LogCleaner({
      topics,
      topicDefaults: () => context.topicDefaults,
      backoffMs: config.logCleanerBackoffMs,
      states: storage.cleanerStates,
      logger,
      events,
    });
    context.cleaner.start();
  }
  const broker = new Broker(
    context,
    keepTableGroupsAtEnd(context, config.tableGroups),
    rest.nodeId === undefined,
  );
  logTopicChanges(events, logger);
  // Broker events are emitted on the context's emitter; the broker re-emits them to its listeners.
  for (const name of EVENT_NAMES)
    events.on(name, (...args: unknown[]) => broker.emit(name, ...(args as [never])));
  return broker;
}

/**
 * The transaction coordinator, where transactions can be served: over a storage that keeps them, by
 * one broker per database (coordination by slot among several brokers comes later).
 */
async function startTransactions(context: BrokerContext): Promise<TransactionCoordinator | undefined> {
  const store = context.storage.transactions;
  if (!store || context.topics.ledByCluster) return undefined;
  const { topics, groups } = context;
  const coordinator = new TransactionCoordinator({
    config: context.config,
    storage: context.storage,
    store,
    logger: context.logger,
    events: context.events,
    targets: {
      log: (topic, partition) => topics.log(topic, partition),
      commitOffsets: (group, offsets) => groups.commitTransactionalOffsets(group, offsets),
    },
  });
  await coordinator.start();
  return coordinator;
}

/**
 * Logs every topic creation and deletion, automatic or asked for, with who asked: they are what an
 * operator looks for when a topic appears or its data goes.
 */
function logTopicChanges(events: EventEmitter<BrokerEvents>, logger: Logger): void {
  events.on('topic-created', (e) =>
    logger.info('topic created', { topic: e.topic, topicId: e.topicId, partitions: e.partitions, ...e.by }),
  );
  events.on('topic-deleted', (e) => {
    logger.info('topic deleted', { topic: e.topic, topicId: e.topicId, ...e.by });
    if (e.kept !== undefined) logger.warn('topic deleted, table kept', { topic: e.topic, detail: e.kept });
  });
}

const EVENT_NAMES: (keyof BrokerEvents)[] = [
  'listening',
  'connection',
  'disconnect',
  'authentication',
  'request',
  'produce',
  'fetch',
  'topic-created',
  'topic-deleted',
  'group-change',
  'transaction',
  'compaction',
  'invalid-records',
  'client-telemetry',
  'error',
];
