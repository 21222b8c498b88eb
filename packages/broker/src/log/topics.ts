/**
 * The broker's view of its topics: the records loaded from storage at start, the partition logs
 * (opened lazily), and the operations of the admin APIs. Storage is the source of truth; this is the
 * in-memory index in front of it.
 */
import { randomBytes } from 'node:crypto';
import { KafkaProtocolError } from '@kch/protocol';
import { type Storage, StorageError, type TopicRecord } from '@kch/storage';
import type { EventEmitter } from 'eventemitter3';
import type { BrokerEvents, Requester } from '../events.js';
import { type Logger, silentLogger } from '../logger.js';
import { validateTopicConfigs } from '../topic-configs.js';
import { PartitionLog, storageFailure } from './partition-log.js';
import { TailCache } from './tail-cache.js';
import { topicNameError } from './topic-names.js';

export interface Topic {
  readonly record: TopicRecord;
  readonly logs: PartitionLog[];
}

export { topicNameError } from './topic-names.js';

export function newTopicId(): string {
  // As Kafka's Uuid.randomUuid: never the zero uuid, never one whose printed form starts with '-'
  // (it would read as an option on a command line).
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-') && id !== 'AAAAAAAAAAAAAAAAAAAAAA') return id;
  }
}

/** The requester of changes the broker makes on its own account. */
const BROKER_ITSELF: Requester = { via: 'broker' };

export class TopicManager {
  private readonly byName = new Map<string, Topic>();
  private readonly byId = new Map<string, Topic>();
  readonly cache: TailCache;
  /**
   * Set when several brokers share the data: a partition log starts without leadership and serves
   * only once this broker wins it (../cluster/leadership.ts).
   */
  ledByCluster = false;
  /** Creations in progress, so concurrent auto-creations of one name create it once. */
  private readonly creating = new Map<string, Promise<Topic>>();

  constructor(
    private readonly storage: Storage,
    cacheBytes: number,
    private readonly events: EventEmitter<BrokerEvents>,
    private readonly logger: Logger = silentLogger,
  ) {
    this.cache = new TailCache(cacheBytes);
  }

  async load(): Promise<void> {
    for (const record of await this.storage.listTopics()) this.index(record);
  }

  private index(record: TopicRecord): Topic {
    const logs = Array.from({ length: record.partitionCount }, (_, p) => this.newLog(record.name, p));
    const topic: Topic = { record, logs };
    this.byName.set(record.name, topic);
    this.byId.set(record.topicId, topic);
    return topic;
  }

  private newLog(topic: string, partition: number): PartitionLog {
    const log = new PartitionLog(topic, partition, this.storage, this.cache);
    if (this.ledByCluster) log.awaitLeadership();
    return log;
  }

  get(name: string): Topic | undefined {
    return this.byName.get(name);
  }

  getById(topicId: string): Topic | undefined {
    return this.byId.get(topicId);
  }

  list(): Topic[] {
    return [...this.byName.values()];
  }

  /** The partition's log, or undefined when the topic or partition does not exist. */
  log(topic: string, partition: number): PartitionLog | undefined {
    return this.byName.get(topic)?.logs[partition];
  }

  /**
   * Creates a topic after validating it; with `validateOnly` nothing is created. Errors are the
   * KafkaProtocolErrors CreateTopics answers with.
   */
  async create(
    name: string,
    partitionCount: number,
    configs: Record<string, string>,
    validateOnly = false,
    by: Requester = BROKER_ITSELF,
  ): Promise<Topic | null> {
    const nameError = topicNameError(name);
    if (nameError) throw new KafkaProtocolError('INVALID_TOPIC_EXCEPTION', nameError);
    if (this.byName.has(name) || this.creating.has(name)) {
      throw new KafkaProtocolError('TOPIC_ALREADY_EXISTS', `topic ${name} already exists`);
    }
    if (!Number.isInteger(partitionCount) || partitionCount < 1) {
      throw new KafkaProtocolError(
        'INVALID_PARTITIONS',
        `a topic needs at least one partition; ${partitionCount} was asked for`,
      );
    }
    validateTopicConfigs(configs, {}, name);
    if (validateOnly) return null;
    const record: TopicRecord = {
      name,
      topicId: newTopicId(),
      partitionCount,
      configs,
      createdAt: Date.now(),
    };
    const creation = this.storage.createTopic(record).then(
      () => {
        this.events.emit('topic-created', {
          topic: name,
          topicId: record.topicId,
          partitions: partitionCount,
          by,
        });
        return this.index(record);
      },
      (e: unknown) => {
        const refusal = topicRefusal(e, name);
        // Metadata's answer to an auto-creation carries no message: the reason is here.
        this.logger.warn('topic not created', { topic: name, error: refusal.message, ...by });
        throw refusal;
      },
    );
    this.creating.set(name, creation);
    try {
      return await creation;
    } finally {
      this.creating.delete(name);
    }
  }

  /** The topic, created with the broker defaults when missing (auto.create.topics.enable). */
  async getOrCreate(name: string, partitionCount: number, by: Requester = BROKER_ITSELF): Promise<Topic> {
    const existing = this.byName.get(name) ?? (await this.creating.get(name));
    if (existing) return existing;
    try {
      return (await this.create(name, partitionCount, {}, false, by))!;
    } catch (e) {
      const raced = this.byName.get(name);
      if (raced) return raced;
      throw e;
    }
  }

  async delete(name: string, by: Requester = BROKER_ITSELF): Promise<void> {
    const topic = this.byName.get(name);
    if (!topic) throw new KafkaProtocolError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    let kept: string | undefined;
    try {
      kept = (await this.storage.deleteTopic(name))?.kept;
    } catch (e) {
      throw storageFailure(e, name, -1);
    }
    this.byName.delete(name);
    this.byId.delete(topic.record.topicId);
    for (const log of topic.logs) log.close();
    this.events.emit('topic-deleted', {
      topic: name,
      topicId: topic.record.topicId,
      by,
      ...(kept !== undefined ? { kept } : {}),
    });
  }

  async setPartitionCount(name: string, count: number): Promise<void> {
    const topic = this.byName.get(name);
    if (!topic) throw new KafkaProtocolError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    const current = topic.logs.length;
    if (count <= current) {
      throw new KafkaProtocolError(
        'INVALID_PARTITIONS',
        `topic ${name} has ${current} partitions; the new count must be larger, but ${count} was asked for`,
      );
    }
    try {
      await this.storage.setPartitionCount(name, count);
    } catch (e) {
      throw storageFailure(e, name, -1);
    }
    for (let p = current; p < count; p++) topic.logs.push(this.newLog(name, p));
    topic.record.partitionCount = count;
  }

  async setConfigs(name: string, configs: Record<string, string>): Promise<void> {
    const topic = this.byName.get(name);
    if (!topic) throw new KafkaProtocolError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    validateTopicConfigs(configs, {}, name);
    try {
      await this.storage.setTopicConfigs(name, configs);
    } catch (e) {
      throw topicRefusal(e, name);
    }
    topic.record.configs = { ...configs };
  }
}

/**
 * A storage's failure to create a topic or set its configs. When the storage refuses what it was
 * asked (INVALID_REQUEST: a config it cannot honour, such as a table binding on memory storage, or a
 * table that does not exist), the client gets INVALID_CONFIG with the storage's reason, not a server
 * error: the request can succeed with other values.
 */
function topicRefusal(e: unknown, topic: string): KafkaProtocolError {
  if (e instanceof StorageError && e.kind === 'INVALID_TOPIC') {
    return new KafkaProtocolError('INVALID_TOPIC_EXCEPTION', e.message, { cause: e });
  }
  if (e instanceof StorageError && e.kind === 'INVALID_REQUEST') {
    return new KafkaProtocolError('INVALID_CONFIG', `topic ${topic}: ${e.message}`, { cause: e });
  }
  return storageFailure(e, topic, -1);
}
