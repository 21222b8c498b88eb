import { type ApiDescriptor, ApiKeys, apiByKey } from '@kch/protocol';
import type { RecordCheck, Storage } from '@kch/storage';
import type { EventEmitter } from 'eventemitter3';
import { brokerTopicDefaults } from './configs.js';
import type { BrokerEvents } from './events.js';
import type { GroupCoordinator } from './groups/coordinator.js';
import type { ApiHandler } from './handler.js';
import { codeSchemaChecks } from './log/declared-topics.js';
import type { TopicManager } from './log/topics.js';
import type { Logger } from './logger.js';
import type { BrokerConfig } from './options.js';

/** An API this broker serves: the handler with the version range it serves and the codec's descriptor. */
export interface ServedApi {
  readonly descriptor: ApiDescriptor;
  readonly handler: ApiHandler;
  readonly minVersion: number;
  readonly maxVersion: number;
}

/** Everything a handler reaches: configuration, storage, topics, groups, events. One per broker. */
export class BrokerContext {
  /** Host and port clients are told to connect to; set by `listen`. */
  advertised = { host: '127.0.0.1', port: 9092 };
  /** Served APIs indexed by API key. */
  readonly apis: (ServedApi | undefined)[] = [];
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

  register(handler: ApiHandler): void {
    const descriptor = apiByKey(ApiKeys[handler.api])!;
    const minVersion = Math.max(handler.minVersion ?? descriptor.minVersion, descriptor.minVersion);
    const maxVersion = Math.min(handler.maxVersion ?? descriptor.maxVersion, descriptor.maxVersion);
    this.apis[descriptor.apiKey] = { descriptor, handler, minVersion, maxVersion };
  }

  /** The versions this broker serves, per API: what ApiVersions advertises. */
  servedVersions(): { apiKey: number; minVersion: number; maxVersion: number }[] {
    const out: { apiKey: number; minVersion: number; maxVersion: number }[] = [];
    for (const api of this.apis) {
      if (api)
        out.push({ apiKey: api.descriptor.apiKey, minVersion: api.minVersion, maxVersion: api.maxVersion });
    }
    return out;
  }
}
