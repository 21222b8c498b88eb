/**
 * Committed offsets (Kafka 4's OffsetMetadataManager): OffsetCommit, OffsetFetch, OffsetDelete,
 * the offsets of deleted topics and groups, and offset expiration. Storage holds them (Kafka's
 * __consumer_offsets); this module keeps a copy per group, written through: a commit is answered
 * after storage took it, and the copy changes only then, so a failed write leaves both as they were.
 *
 * Offsets are kept apart from group membership, as in Kafka 4, so that groups of every protocol
 * (classic now, KIP-848 consumer groups and transactional offset commits next) share this module.
 * What a commit needs from membership (is the committer a member of the current generation?) is
 * asked through `validateCommit`, which the coordinator wires to the classic protocol.
 */
import { ErrorCode } from '@kch/protocol';
import { type CommittedOffset, type Storage, StorageError, type TopicPartition, Turns } from '@kch/storage';
import type { Logger } from '../logger.js';
import type { BrokerConfig } from '../options.js';
import type { ClassicGroup } from './classic/group.js';
import type { GroupRegistry } from './registry.js';

/** Kafka's offset.metadata.max.bytes (it counts characters). */
export const OFFSET_METADATA_MAX_SIZE = 4096;

export interface CommitPartition {
  partitionIndex: number;
  committedOffset: number;
  /** -1 when unknown. */
  committedLeaderEpoch: number;
  committedMetadata: string | null;
  /** OffsetCommit v1's explicit commit time; -1 for now. */
  commitTimestamp?: number;
}

export interface CommitOffsetsParams {
  groupId: string;
  /** -1 for a commit outside group management (simple consumer, admin client). */
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** The OffsetCommit version: v9+ answers GROUP_ID_NOT_FOUND where older ones get ILLEGAL_GENERATION. */
  apiVersion: number;
  /**
   * TxnOffsetCommit's checks (KIP-447): a commit without member and generation is taken whatever the
   * group's state, and a rebalance in progress does not refuse it.
   */
  transactional?: boolean;
  topics: { name: string; partitions: CommitPartition[] }[];
}

export interface PartitionError {
  partitionIndex: number;
  errorCode: number;
}

export interface TopicErrors {
  name: string;
  partitions: PartitionError[];
}

export interface FetchedPartition {
  partitionIndex: number;
  committedOffset: number;
  committedLeaderEpoch: number;
  metadata: string;
  errorCode: number;
}

export interface FetchOffsetsResult {
  errorCode: number;
  topics: { name: string; partitions: FetchedPartition[] }[];
}

export interface OffsetDeleteResult {
  errorCode: number;
  topics: TopicErrors[];
}

/** Kafka's mapping of a failed write to __consumer_offsets (GroupMetadataManager.maybeConvertOffsetCommitError). */
export function storageErrorCode(e: unknown): number {
  // A backend that is down or timed out is what Kafka reports as the offsets partition being
  // unavailable: COORDINATOR_NOT_AVAILABLE, which clients retry after looking the coordinator up again.
  if (e instanceof StorageError && !e.retriable) return ErrorCode.UNKNOWN_SERVER_ERROR;
  return ErrorCode.COORDINATOR_NOT_AVAILABLE;
}

function offsetKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

const SETTLED: Promise<void> = Promise.resolve();

/** One group's committed offsets as stored, and the queue its storage writes go through. */
class GroupOffsets {
  /** By offsetKey(topic, partition). */
  readonly byPartition = new Map<string, CommittedOffset>();
  /** The group's storage writes: they run one at a time, in the order they were asked for. */
  readonly writes = new Turns();

  /** Runs `op` after the group's earlier writes; rejects with its error, never breaks the chain. */
  write<T>(op: () => Promise<T>): Promise<T> {
    return this.writes.run(op);
  }
}

export interface OffsetManagerOptions {
  config: Pick<BrokerConfig, 'offsetsRetentionMs'>;
  storage: Storage;
  logger: Logger;
  groups: GroupRegistry;
  /** Whether a topic partition exists: commits to and deletes of others get UNKNOWN_TOPIC_OR_PARTITION. */
  partitionExists: (topic: string, partition: number) => boolean;
  /** The group a commit goes to, or the error every partition of the commit gets. */
  validateCommit: (p: CommitOffsetsParams) => ClassicGroup | number;
  now: () => number;
}

export class OffsetManager {
  /** Only for groups the registry holds: an entry goes with its group (forget). */
  private readonly byGroup = new Map<string, GroupOffsets>();

  private readonly config: OffsetManagerOptions['config'];
  private readonly storage: Storage;
  private readonly logger: Logger;
  private readonly groups: GroupRegistry;
  private readonly partitionExists: OffsetManagerOptions['partitionExists'];
  private readonly validateCommit: OffsetManagerOptions['validateCommit'];
  private readonly now: () => number;

  constructor(options: OffsetManagerOptions) {
    this.config = options.config;
    this.storage = options.storage;
    this.logger = options.logger;
    this.groups = options.groups;
    this.partitionExists = options.partitionExists;
    this.validateCommit = options.validateCommit;
    this.now = options.now;
  }

  /**
   * Loads what storage holds for every group, or for the groups `wanted` says (a coordinator slot);
   * a group known by nothing but offsets is registered (Kafka 4 does so on replay).
   */
  async load(wanted: (groupId: string) => boolean = () => true): Promise<void> {
    for (const groupId of await this.storage.listOffsetGroups()) {
      if (!wanted(groupId)) continue;
      const offsets = await this.storage.fetchOffsets(groupId);
      if (offsets.length === 0) continue;
      this.groups.addLoaded(groupId);
      const cached = this.offsetsOf(groupId).byPartition;
      for (const o of offsets) cached.set(offsetKey(o.topic, o.partition), o);
    }
  }

  /**
   * OffsetCommit. Partitions that do not exist get UNKNOWN_TOPIC_OR_PARTITION; the others share the
   * group's verdict (generation and membership checks), then each is checked and stored.
   */
  async commit(p: CommitOffsetsParams): Promise<TopicErrors[]> {
    const response: TopicErrors[] = p.topics.map((t) => ({ name: t.name, partitions: [] }));
    const valid: { topic: string; part: CommitPartition; out: PartitionError }[] = [];
    p.topics.forEach((t, i) => {
      for (const part of t.partitions) {
        const out: PartitionError = { partitionIndex: part.partitionIndex, errorCode: ErrorCode.NONE };
        response[i]!.partitions.push(out);
        if (this.partitionExists(t.name, part.partitionIndex)) valid.push({ topic: t.name, part, out });
        else out.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      }
    });
    if (valid.length === 0) return response;
    const verdict = this.validateCommit(p);
    if (typeof verdict === 'number') {
      for (const v of valid) v.out.errorCode = verdict;
      return response;
    }
    const groupId = verdict.groupId;
    const now = this.now();
    const records: CommittedOffset[] = [];
    const stored: PartitionError[] = [];
    for (const { topic, part, out } of valid) {
      if (part.committedMetadata !== null && part.committedMetadata.length > OFFSET_METADATA_MAX_SIZE) {
        out.errorCode = ErrorCode.OFFSET_METADATA_TOO_LARGE;
        continue;
      }
      records.push({
        topic,
        partition: part.partitionIndex,
        offset: part.committedOffset,
        leaderEpoch: part.committedLeaderEpoch,
        // Kafka stores a null metadata as "" (OffsetAndMetadata.NoMetadata).
        metadata: part.committedMetadata ?? '',
        commitTimestamp:
          part.commitTimestamp !== undefined && part.commitTimestamp >= 0 ? part.commitTimestamp : now,
      });
      stored.push(out);
    }
    if (records.length === 0) return response;
    try {
      await this.store(groupId, records);
    } catch (e) {
      const code = storageErrorCode(e);
      this.logger.warn('storing committed offsets failed', { groupId, error: e });
      for (const out of stored) out.errorCode = code;
    }
    return response;
  }

  /**
   * Stores committed offsets of a group, after every earlier write of the group. With
   * `transactional`, the offsets a committed transaction held are stored only where no later commit
   * replaced them: an OffsetCommit made after the TxnOffsetCommit (by commit time) wins, as on Kafka,
   * where the offset appended later to __consumer_offsets wins when the transaction's marker arrives.
   */
  async store(groupId: string, records: readonly CommittedOffset[], transactional = false): Promise<void> {
    const offsets = this.offsetsOf(groupId);
    await offsets.write(async () => {
      const kept = transactional
        ? records.filter((r) => {
            const current = offsets.byPartition.get(offsetKey(r.topic, r.partition));
            return current === undefined || current.commitTimestamp <= r.commitTimestamp;
          })
        : records;
      if (kept.length === 0) return;
      await this.storage.commitOffsets(groupId, kept);
      for (const r of kept) offsets.byPartition.set(offsetKey(r.topic, r.partition), r);
    });
  }

  /**
   * OffsetFetch of one group: the given partitions (-1 for those without a commit), or with `topics`
   * null every committed partition. Waits for the group's pending commits first, so a client reads
   * what it committed.
   */
  async fetch(
    groupId: string,
    topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null,
  ): Promise<FetchOffsetsResult> {
    if (this.groups.get(groupId)) await this.byGroup.get(groupId)?.writes.drain();
    const group = this.groups.get(groupId);
    const offsets = group && !group.is('Dead') ? this.byGroup.get(groupId)?.byPartition : undefined;
    const fetched = (o: CommittedOffset | undefined, partitionIndex: number): FetchedPartition =>
      o === undefined
        ? {
            partitionIndex,
            committedOffset: -1,
            committedLeaderEpoch: -1,
            metadata: '',
            errorCode: ErrorCode.NONE,
          }
        : {
            partitionIndex,
            committedOffset: o.offset,
            committedLeaderEpoch: o.leaderEpoch,
            metadata: o.metadata ?? '',
            errorCode: ErrorCode.NONE,
          };
    if (topics !== null) {
      return {
        errorCode: ErrorCode.NONE,
        topics: topics.map((t) => ({
          name: t.name,
          partitions: t.partitionIndexes.map((p) => fetched(offsets?.get(offsetKey(t.name, p)), p)),
        })),
      };
    }
    const byTopic = new Map<string, FetchedPartition[]>();
    const all = [...(offsets?.values() ?? [])].sort((a, b) =>
      a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition,
    );
    for (const o of all) {
      const list = byTopic.get(o.topic) ?? [];
      if (list.length === 0) byTopic.set(o.topic, list);
      list.push(fetched(o, o.partition));
    }
    return {
      errorCode: ErrorCode.NONE,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    };
  }

  /** Copies of the group's committed offsets, or an empty list. */
  committed(groupId: string): CommittedOffset[] {
    return [...(this.byGroup.get(groupId)?.byPartition.values() ?? [])].map((o) => ({ ...o }));
  }

  /** How many partitions the group has offsets for. */
  count(groupId: string): number {
    return this.byGroup.get(groupId)?.byPartition.size ?? 0;
  }

  /**
   * OffsetDelete: removes a group's committed offsets for the given partitions, except for topics a
   * live consumer group subscribes to (GROUP_SUBSCRIBED_TO_TOPIC).
   */
  async delete(
    groupId: string,
    topics: readonly { name: string; partitions: readonly number[] }[],
  ): Promise<OffsetDeleteResult> {
    const group = this.groups.get(groupId);
    if (!group || group.is('Dead')) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, topics: [] };
    if (!group.is('Empty') && !group.isConsumerGroup)
      return { errorCode: ErrorCode.NON_EMPTY_GROUP, topics: [] };
    const offsets = this.offsetsOf(groupId);
    const response: TopicErrors[] = [];
    const toDelete: { tp: TopicPartition; out: PartitionError }[] = [];
    for (const t of topics) {
      const partitions: PartitionError[] = [];
      response.push({ name: t.name, partitions });
      for (const p of t.partitions) {
        const out: PartitionError = { partitionIndex: p, errorCode: ErrorCode.NONE };
        partitions.push(out);
        if (!this.partitionExists(t.name, p)) out.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else if (group.isSubscribedToTopic(t.name)) out.errorCode = ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC;
        else if (offsets.byPartition.has(offsetKey(t.name, p)))
          toDelete.push({ tp: { topic: t.name, partition: p }, out });
      }
    }
    if (toDelete.length > 0) {
      const tps = toDelete.map((d) => d.tp);
      try {
        await offsets.write(async () => {
          await this.storage.deleteOffsets(groupId, tps);
          for (const tp of tps) offsets.byPartition.delete(offsetKey(tp.topic, tp.partition));
        });
        this.logger.info('offsets of group deleted', { groupId, partitions: tps.length });
      } catch (e) {
        const code = storageErrorCode(e);
        this.logger.warn('deleting offsets failed', { groupId, error: e });
        for (const d of toDelete) d.out.errorCode = code;
      }
    }
    return { errorCode: ErrorCode.NONE, topics: response };
  }

  /** Every offset of a group being deleted (DeleteGroups); rejects when storage did not take it. */
  async deleteAll(groupId: string): Promise<void> {
    const offsets = this.offsetsOf(groupId);
    await offsets.write(() => this.storage.deleteOffsets(groupId));
    offsets.byPartition.clear();
  }

  /** Drops the cached offsets of a deleted topic (storage removed them with the topic). */
  removeTopic(topic: string): void {
    for (const { byPartition } of this.byGroup.values()) {
      for (const [key, o] of byPartition) if (o.topic === topic) byPartition.delete(key);
    }
  }

  /**
   * One pass of offset expiration for a group (offsets.retention.minutes): removes the offsets that
   * expired by the group's own condition (ClassicGroup.offsetExpirationBase) and that it does not
   * subscribe to. True when every offset expired and is gone, so that an Empty group may go too;
   * false when some are kept, or the removal failed (the next pass tries again).
   */
  async removeExpired(group: ClassicGroup): Promise<boolean> {
    const base = group.offsetExpirationBase();
    if (base === null) return false;
    const now = this.now();
    const offsets = this.byGroup.get(group.groupId);
    const expired: CommittedOffset[] = [];
    let allExpired = true;
    for (const o of offsets?.byPartition.values() ?? []) {
      if (!group.isSubscribedToTopic(o.topic) && now - base(o) >= this.config.offsetsRetentionMs)
        expired.push(o);
      else allExpired = false;
    }
    if (offsets && expired.length > 0) {
      const tps = expired.map((o) => ({ topic: o.topic, partition: o.partition }));
      try {
        await offsets.write(async () => {
          await this.storage.deleteOffsets(group.groupId, tps);
          for (const o of expired) {
            const key = offsetKey(o.topic, o.partition);
            // A commit that arrived meanwhile stays.
            if (offsets.byPartition.get(key) === o) offsets.byPartition.delete(key);
          }
        });
        this.logger.info('expired offsets of group removed', {
          groupId: group.groupId,
          partitions: tps.length,
        });
      } catch (e) {
        this.logger.warn('removing expired offsets failed', { groupId: group.groupId, error: e });
        return false;
      }
    }
    return allExpired;
  }

  /** Groups with an entry here (each one the registry holds, at most). */
  get groupCount(): number {
    return this.byGroup.size;
  }

  /** Forgets a removed group's entry (its offsets are gone from storage already). */
  forget(groupId: string): void {
    this.byGroup.delete(groupId);
  }

  /** Settles when the group's offset writes running now have. */
  writesOf(groupId: string): Promise<void> {
    return this.byGroup.get(groupId)?.writes.drain() ?? SETTLED;
  }

  /** The writes still running, for close. */
  pendingWrites(): Promise<void>[] {
    return [...this.byGroup.values()].map((g) => g.writes.drain());
  }

  private offsetsOf(groupId: string): GroupOffsets {
    let offsets = this.byGroup.get(groupId);
    if (!offsets) {
      offsets = new GroupOffsets();
      this.byGroup.set(groupId, offsets);
    }
    return offsets;
  }
}
