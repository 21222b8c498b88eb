import type { RecordCheck, Storage } from '@kch/storage';
import type { EventEmitter } from 'eventemitter3';
import type { BrokerEvents } from './events.js';
import type { GroupCoordinator } from './groups/coordinator.js';
import { codeSchemaChecks } from './log/declared-topics.js';
import type { TopicManager } from './log/topics.js';
import type { Logger } from './logger.js';
import type { BrokerConfig } from './options.js';
import type { BrokerSecurity } from './security/context.js';
import { brokerTopicDefaults } from './topic-configs.js';

/** Everything a handler reaches: configuration, storage, topics, groups, events. One per broker. */
export class BrokerContext {
  /** Host and port clients are told to connect to; set by `listen`. */
  advertised = { host: '127.0.0.1', port: 9092 };
  /** Topic config defaults set at the broker level (topicDefaults, message.max.bytes). */
  readonly topicDefaults: Record<string, string>;
  /**
   * Record checks of schemas given in code (`topics.<name>.schema` as a zod schema), by topic. They
   * cannot be stored with the topic, so they apply while this broker runs.
   */
  readonly codeChecks: ReadonlyMap<string, RecordCheck>;
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
    this.codeChecks = codeSchemaChecks(config);
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
