/**
 * The broker's view of its topics: the records loaded from storage at start, the partition logs
 * (opened lazily), and the operations of the admin APIs. Storage is the source of truth; this is the
 * in-memory index in front of it.
 *
 * With several brokers over one storage (`storage.cluster?.manyBrokers`), others create, delete, grow
 * and reconfigure topics too: `refresh` reads the topics again and reconciles the index, on a miss
 * (before answering that a topic is unknown or creating it), and on a timer the broker owner starts.
 * Whether two brokers' creations of one name make one topic is the storage's to decide (its createTopic
 * fails with TOPIC_EXISTS for the loser; the ClickHouse storage claims the name in its cluster store).
 */
import { ErrorCode, KafkaProtocolError } from '@kch/protocol';
import { type Storage, StorageError, type TopicRecord } from '@kch/storage';
import type { EventEmitter } from 'eventemitter3';
import type { BrokerEvents, Requester } from '../events.js';
import { randomUuid } from '../kafka-uuid.js';
import { type Logger, silentLogger } from '../logger.js';
import { validateTopicConfigs } from '../topic-configs.js';
import { PartitionLog, storageFailure } from './partition-log.js';
import { DEFAULT_MAX_PENDING_STORAGE_BYTES, StorageBacklog } from './storage-backlog.js';
import { TailCache } from './tail-cache.js';
import { topicNameError } from './topic-names.js';
import { CoalescedRefresh } from './topic-refresh.js';

export interface Topic {
  readonly record: TopicRecord;
  readonly logs: PartitionLog[];
}

export { topicNameError } from './topic-names.js';

/** The requester of changes the broker makes on its own account. */
const BROKER_ITSELF: Requester = { via: 'broker' };
/** Pauses before reading again for a topic another broker is creating: about 1.5 s in all. */
const CREATION_WAITS_MS = [100, 200, 400, 800];
/** Who deleted a topic this broker learnt was deleted when it read the topics again. */
const ANOTHER_BROKER: Requester = { via: 'another broker' };

export class TopicManager {
  private readonly byName = new Map<string, Topic>();
  private readonly byId = new Map<string, Topic>();
  readonly cache: TailCache;
  /** Bytes handed to storage and not stored yet, bounded across every partition (./storage-backlog.ts). */
  readonly backlog: StorageBacklog;
  /**
   * Set when several brokers share the data: a partition log starts without leadership and serves
   * only once this broker wins it (../cluster/leadership.ts).
   */
  ledByCluster = false;
  /**
   * Set with `ledByCluster`: gives new partitions their leaders (a look of the leadership). A creation
   * or a partition raise answers only after it, so that the client that asked finds the leaders this
   * broker takes, as Kafka's controller names leaders in the record that creates the partitions.
   */
  placeLeaders: (() => Promise<void>) | undefined;
  /** Creations in progress, so concurrent auto-creations of one name create it once. */
  private readonly creating = new Map<string, Promise<Topic>>();
  private readonly refresher: CoalescedRefresh;
  /**
   * Names this broker is changing (deleting, growing, reconfiguring; `creating` has creations), and
   * those it changed since the running refresh's read began: that read may predate the change, so the
   * refresh leaves them as they are.
   */
  private readonly changing = new Map<string, number>();
  private readonly touched = new Set<string>();

  constructor(
    private readonly storage: Storage,
    cacheBytes: number,
    private readonly events: EventEmitter<BrokerEvents>,
    private readonly logger: Logger = silentLogger,
    maxPendingStorageBytes = DEFAULT_MAX_PENDING_STORAGE_BYTES,
  ) {
    this.cache = new TailCache(cacheBytes);
    this.backlog = new StorageBacklog(maxPendingStorageBytes);
    this.refresher = new CoalescedRefresh(
      () => this.reconcile(),
      (e) => this.warnNotRead(e),
    );
  }

  /** Whether other brokers may change topics in this storage: then misses read the topics again. */
  private get shared(): boolean {
    return this.storage.cluster?.manyBrokers === true;
  }

  /**
   * Reads the topics from storage again and brings the index to them (see `reconcile`). Concurrent
   * calls share reads: the promise settles after a read that began after the call.
   */
  refresh(): Promise<void> {
    return this.refresher.run();
  }

  /**
   * Refreshes every `intervalMs` until `stopRefreshing`, so that topics other brokers changed are seen
   * without a miss (Metadata for all topics, a partition count grown). For brokers sharing a storage.
   */
  startRefreshing(intervalMs: number): void {
    this.refresher.every(intervalMs);
  }

  stopRefreshing(): void {
    this.refresher.stop();
  }

  async load(): Promise<void> {
    for (const record of await this.storage.listTopics()) this.index(record);
  }

  private index(record: TopicRecord): Topic {
    // A refresh may have indexed it first (it read the topic this broker just stored): keep that one.
    const indexed = this.byName.get(record.name);
    if (indexed?.record.topicId === record.topicId) return indexed;
    const logs = Array.from({ length: record.partitionCount }, (_, p) => this.newLog(record.name, p));
    const topic: Topic = { record, logs };
    this.byName.set(record.name, topic);
    this.byId.set(record.topicId, topic);
    return topic;
  }

  private newLog(topic: string, partition: number): PartitionLog {
    const log = new PartitionLog(topic, partition, this.storage, this.cache, this.backlog);
    if (this.ledByCluster) log.awaitLeadership();
    return log;
  }

  /**
   * The topic by name. A miss with other brokers over the storage starts a refresh in the background
   * (at most one a second), so a client's retry finds a topic another broker created; `lookup` waits.
   */
  get(name: string): Topic | undefined {
    const topic = this.byName.get(name);
    if (!topic && this.shared) this.refresher.soon();
    return topic;
  }

  getById(topicId: string): Topic | undefined {
    const topic = this.byId.get(topicId);
    if (!topic && this.shared) this.refresher.soon();
    return topic;
  }

  /** The topic by name; on a miss with other brokers over the storage, after reading the topics again. */
  async lookup(name: string): Promise<Topic | undefined> {
    const topic = this.byName.get(name);
    if (topic || !this.shared) return topic;
    await this.refreshOrWarn();
    return this.byName.get(name);
  }

  /** The topic by id; on a miss with other brokers over the storage, after reading the topics again. */
  async lookupById(topicId: string): Promise<Topic | undefined> {
    const topic = this.byId.get(topicId);
    if (topic || !this.shared) return topic;
    await this.refreshOrWarn();
    return this.byId.get(topicId);
  }

  /**
   * A refresh for a lookup: when storage fails, the index answers as it would have without (a lookup
   * is not made to fail by a read it only did to be fresher).
   */
  private refreshOrWarn(): Promise<void> {
    return this.refresh().catch((e: unknown) => this.warnNotRead(e));
  }

  private warnNotRead(e: unknown): void {
    this.logger.warn('topics not read again', { error: e instanceof Error ? e.message : String(e) });
  }

  /** A refresh before a change: a storage failure is the change's, as Kafka errors say it. */
  private refreshFor(name: string): Promise<void> {
    return this.refresh().catch((e: unknown) => {
      throw storageFailure(e, name, -1);
    });
  }

  /**
   * Brings the index to the topics in storage. Topics whose id did not change keep their Topic and
   * PartitionLog objects (producer state, appends in flight, cached tails): a grown count adds logs,
   * new configs replace the old. A topic gone (or made again under another id) is dropped as a local
   * deletion drops it, with 'topic-deleted' so metrics and the group coordinator forget it. A topic
   * another broker created is indexed without 'topic-created': that event is the creating broker's
   * (its log line says who asked), and every broker announcing it would log one creation N times.
   */
  private async reconcile(): Promise<void> {
    this.touched.clear();
    const records = await this.storage.listTopics();
    const stored = new Map(records.map((r) => [r.name, r]));
    for (const topic of [...this.byName.values()]) {
      const name = topic.record.name;
      if (this.untouchable(name)) continue;
      const record = stored.get(name);
      if (record?.topicId === topic.record.topicId) this.update(topic, record);
      else this.drop(topic, ANOTHER_BROKER);
    }
    for (const record of records) {
      if (this.untouchable(record.name)) continue;
      if (!this.byName.has(record.name)) this.index(record);
    }
  }

  private untouchable(name: string): boolean {
    return this.touched.has(name) || this.changing.has(name) || this.creating.has(name);
  }

  /** Runs a change of a topic in storage, which refreshes meanwhile leave alone (see `changing`). */
  private async change<T>(name: string, f: () => Promise<T>): Promise<T> {
    this.changing.set(name, (this.changing.get(name) ?? 0) + 1);
    try {
      return await f();
    } finally {
      const n = this.changing.get(name)! - 1;
      if (n === 0) this.changing.delete(name);
      else this.changing.set(name, n);
      this.touched.add(name);
    }
  }

  /** A topic's record as stored now: partitions are only ever added, configs replaced. */
  private update(topic: Topic, record: TopicRecord): void {
    for (let p = topic.logs.length; p < record.partitionCount; p++)
      topic.logs.push(this.newLog(topic.record.name, p));
    topic.record.partitionCount = topic.logs.length;
    if (JSON.stringify(topic.record.configs) !== JSON.stringify(record.configs))
      topic.record.configs = { ...record.configs };
  }

  /** Removes a deleted topic from the index; its logs refuse further use. */
  private drop(topic: Topic, by: Requester, kept?: string): void {
    const { name, topicId } = topic.record;
    this.byName.delete(name);
    this.byId.delete(topicId);
    for (const log of topic.logs) log.close();
    this.events.emit('topic-deleted', { topic: name, topicId, by, ...(kept !== undefined ? { kept } : {}) });
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
    // With other brokers, the name is looked up in storage first, also when it is known here: another
    // broker may have deleted it since this index read it (a deletion this broker lost to the other
    // answers UNKNOWN_TOPIC_OR_PARTITION before the winner's deletion is stored). After that await
    // nothing else is awaited until the creation is in `creating`, so concurrent creations here see it.
    if (this.shared && !this.creating.has(name)) await this.refreshFor(name);
    if (this.exists(name)) {
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
      topicId: randomUuid(),
      partitionCount,
      configs,
      createdAt: Date.now(),
    };
    const creation = this.storage.createTopic(record).then(
      async () => {
        this.touched.add(name);
        this.events.emit('topic-created', {
          topic: name,
          topicId: record.topicId,
          partitions: partitionCount,
          by,
        });
        const topic = this.index(record);
        await this.placeLeaders?.();
        return topic;
      },
      async (e: unknown) => {
        if (e instanceof StorageError && e.kind === 'TOPIC_EXISTS') {
          // Another broker created it first: index its topic before anyone waiting on this creation
          // hears of the failure (getOrCreate then uses it). A refresh skips names being created.
          if (this.creating.get(name) === creation) this.creating.delete(name);
          if (this.shared) await this.refresh().catch(() => {});
          throw new KafkaProtocolError('TOPIC_ALREADY_EXISTS', e.message);
        }
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
      if (this.creating.get(name) === creation) this.creating.delete(name);
    }
  }

  /** The topic, created with the broker defaults when missing (auto.create.topics.enable). */
  async getOrCreate(name: string, partitionCount: number, by: Requester = BROKER_ITSELF): Promise<Topic> {
    const existing = (await this.creating.get(name)) ?? (await this.lookup(name));
    if (existing) return existing;
    try {
      return (await this.create(name, partitionCount, {}, false, by))!;
    } catch (e) {
      // Created meanwhile, here (a creation still running) or by another broker (indexed by now).
      const raced = this.byName.get(name) ?? (await this.creating.get(name)?.catch(() => undefined));
      if (raced) return raced;
      if (e instanceof KafkaProtocolError && e.code === ErrorCode.TOPIC_ALREADY_EXISTS && this.shared)
        return this.awaitCreation(name);
      throw e;
    }
  }

  /**
   * The topic another broker is creating (it claimed the name, its row is not stored yet): read again
   * for a while, then LEADER_NOT_AVAILABLE, which clients retry as they do after Kafka auto-creates.
   */
  private async awaitCreation(name: string): Promise<Topic> {
    for (const pauseMs of CREATION_WAITS_MS) {
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      await this.refreshOrWarn();
      const topic = this.byName.get(name);
      if (topic) return topic;
    }
    throw new KafkaProtocolError(
      'LEADER_NOT_AVAILABLE',
      `topic ${name} is being created by another broker; retry`,
    );
  }

  private exists(name: string): boolean {
    return this.byName.has(name) || this.creating.has(name);
  }

  async delete(name: string, by: Requester = BROKER_ITSELF): Promise<void> {
    const topic = await this.known(name);
    let kept: string | undefined;
    try {
      kept = (await this.change(name, () => this.storage.deleteTopic(name)))?.kept;
    } catch (e) {
      throw await this.changeFailure(e, name);
    }
    // A refresh may have dropped it meanwhile (the read saw the deletion): one 'topic-deleted' only.
    if (this.byName.get(name) === topic) this.drop(topic, by, kept);
  }

  /**
   * The topic for a change asked of this broker, as stored now when others share the storage (so a
   * partition count or existence is checked against theirs too); UNKNOWN_TOPIC_OR_PARTITION if none.
   */
  private async known(name: string): Promise<Topic> {
    if (this.shared) await this.refreshFor(name);
    const topic = this.byName.get(name);
    if (!topic) throw new KafkaProtocolError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    return topic;
  }

  /** A storage's failure to change a topic; a topic another broker deleted meanwhile leaves the index. */
  private async changeFailure(e: unknown, name: string): Promise<KafkaProtocolError> {
    if (e instanceof StorageError && e.kind === 'UNKNOWN_TOPIC_OR_PARTITION' && this.shared)
      await this.refresh().catch(() => {});
    return storageFailure(e, name, -1);
  }

  async setPartitionCount(name: string, count: number): Promise<void> {
    const topic = await this.known(name);
    const current = topic.logs.length;
    if (count <= current) {
      throw new KafkaProtocolError(
        'INVALID_PARTITIONS',
        `topic ${name} has ${current} partitions; the new count must be larger, but ${count} was asked for`,
      );
    }
    try {
      await this.change(name, () => this.storage.setPartitionCount(name, count));
    } catch (e) {
      throw await this.changeFailure(e, name);
    }
    // A refresh meanwhile may have added some already (or more: another broker grew it further).
    for (let p = topic.logs.length; p < count; p++) topic.logs.push(this.newLog(name, p));
    topic.record.partitionCount = topic.logs.length;
    await this.placeLeaders?.();
  }

  async setConfigs(name: string, configs: Record<string, string>): Promise<void> {
    const topic = await this.known(name);
    validateTopicConfigs(configs, {}, name);
    try {
      await this.change(name, () => this.storage.setTopicConfigs(name, configs));
    } catch (e) {
      if (e instanceof StorageError && e.kind === 'UNKNOWN_TOPIC_OR_PARTITION')
        throw await this.changeFailure(e, name);
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
