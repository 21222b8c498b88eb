import { firstRecordAtOrAfter, recordWithMaxTimestamp } from '../batch-records.js';
import { compactBatches } from '../compaction.js';
import { appendEnd } from '../in-flight-appends.js';
import { LeaderFences } from '../leader-fences.js';
import { lastProducerBatches } from '../producer-batches.js';
import {
  type AppendOptions,
  type CleanerState,
  type CleanerStateStore,
  type CommittedOffset,
  type CompactionRequest,
  type CompactionResult,
  type PartitionLeadership,
  type PartitionSnapshot,
  type ProducerBatchInfo,
  type Storage,
  StorageError,
  type StorageHealth,
  type StoredBatch,
  type TopicPartition,
  type TopicRecord,
} from '../storage.js';
import { isStaged, markerType, openTransactionsOf } from '../transaction-batches.js';
import { MemoryBrokerConfigStore } from './memory-broker-configs.js';
import { MemorySecurityStore } from './memory-security.js';
import { MemoryTransactionStore } from './memory-transactions.js';

interface MemoryPartition {
  batches: StoredBatch[];
  logStartOffset: number;
  nextOffset: number;
  /** Where leader epochs began, from openPartition with a leadership (../leader-fences.ts). */
  fences: LeaderFences;
}

interface MemoryTopic {
  record: TopicRecord;
  partitions: MemoryPartition[];
}

/** Index of the batch containing `offset`, or of the first batch after it; batches.length if none. */
export function batchIndexFor(batches: readonly StoredBatch[], offset: number): number {
  let lo = 0;
  let hi = batches.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (batches[mid]!.lastOffset < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A topic bound to a table (`kch.table`, see the ClickHouse storage) keeps its records as rows of that
 * table; in memory there is no table to bind.
 */
function refuseBinding(configs: Record<string, string>): void {
  if (configs['kch.table'] !== undefined) {
    throw new StorageError(
      'INVALID_REQUEST',
      'binding a topic to a table (kch.table) needs the ClickHouse storage; the memory storage keeps records in process memory',
      false,
    );
  }
}

/** The log cleaner's state, by partition; copies in and out, as a stored state would be. */
class MemoryCleanerStates implements CleanerStateStore {
  private readonly states = new Map<string, CleanerState>();

  async get(tp: TopicPartition): Promise<CleanerState | null> {
    const s = this.states.get(`${tp.partition}:${tp.topic}`);
    return s ? structuredClone(s) : null;
  }

  async put(tp: TopicPartition, state: CleanerState): Promise<void> {
    this.states.set(`${tp.partition}:${tp.topic}`, structuredClone(state));
  }
}

/**
 * Everything in process memory: fast, and gone when the process exits. For tests, examples and
 * embedding a broker in a test suite.
 */
export class MemoryStorage implements Storage {
  readonly name = 'memory';
  readonly location = 'process memory (not persisted)';
  readonly security = new MemorySecurityStore();
  readonly transactions = new MemoryTransactionStore();
  readonly brokerConfigs = new MemoryBrokerConfigStore();
  readonly cleanerStates = new MemoryCleanerStates();
  private readonly topics = new Map<string, MemoryTopic>();
  private readonly groups = new Map<string, Map<string, CommittedOffset>>();
  private producerIds = 0;
  private closed = false;

  async open(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
  }

  async health(): Promise<StorageHealth> {
    return this.closed ? { ok: false, detail: 'storage is closed' } : { ok: true };
  }

  async listTopics(): Promise<TopicRecord[]> {
    return [...this.topics.values()].map((t) => structuredClone(t.record));
  }

  async createTopic(topic: TopicRecord): Promise<void> {
    refuseBinding(topic.configs);
    if (this.topics.has(topic.name))
      throw new StorageError('TOPIC_EXISTS', `topic ${topic.name} already exists`);
    const partitions = Array.from({ length: topic.partitionCount }, emptyPartition);
    this.topics.set(topic.name, { record: structuredClone(topic), partitions });
  }

  async deleteTopic(name: string): Promise<void> {
    this.topicOf(name);
    this.topics.delete(name);
    for (const offsets of this.groups.values()) {
      for (const [key, c] of offsets) if (c.topic === name) offsets.delete(key);
    }
  }

  async setPartitionCount(name: string, partitionCount: number): Promise<void> {
    const t = this.topicOf(name);
    while (t.partitions.length < partitionCount) t.partitions.push(emptyPartition());
    t.record.partitionCount = t.partitions.length;
  }

  async setTopicConfigs(name: string, configs: Record<string, string>): Promise<void> {
    refuseBinding(configs);
    this.topicOf(name).record.configs = { ...configs };
  }

  async openPartition(tp: TopicPartition, leadership?: PartitionLeadership): Promise<PartitionSnapshot> {
    const p = this.partitionOf(tp);
    if (leadership) {
      // The end under the fences known so far becomes the start of the new epoch.
      fence(p, p.fences.before(tp, leadership));
      fence(p, p.fences.with([{ epoch: leadership.epoch, startOffset: p.nextOffset }]));
    }
    return {
      logStartOffset: p.logStartOffset,
      nextOffset: p.nextOffset,
      producerBatches: lastProducerBatches(p.batches),
      openTransactions: openTransactionsOf(p.batches),
    };
  }

  async append(tp: TopicPartition, batches: readonly StoredBatch[], options?: AppendOptions): Promise<void> {
    const p = this.partitionOf(tp);
    // A batch of a replaced leader's epoch past the start of a later one is refused, never stored.
    const refused = p.fences.refusal(tp, batches);
    if (refused) throw refused;
    // One append at a time (no appendsInFlight): the batches follow what is stored.
    const end = p.nextOffset;
    const next = appendEnd(tp, end, batches);
    for (const b of batches) p.batches.push(b);
    p.nextOffset = next;
    if (options?.confirm) {
      try {
        await options.confirm();
      } catch (e) {
        // Not confirmed (the broker lost the partition): the append did not happen.
        p.batches.splice(p.batches.length - batches.length);
        p.nextOffset = end;
        throw e;
      }
    }
    for (const b of batches) if (markerType(b) === 'abort') dropAborted(p, b);
  }

  async read(tp: TopicPartition, fromOffset: number, maxBytes: number): Promise<StoredBatch[]> {
    const p = this.partitionOf(tp);
    const out: StoredBatch[] = [];
    let bytes = 0;
    for (
      let i = batchIndexFor(p.batches, Math.max(fromOffset, p.logStartOffset));
      i < p.batches.length;
      i++
    ) {
      const b = p.batches[i]!;
      if (out.length > 0 && bytes + b.bytes.length > maxBytes) break;
      out.push(b);
      bytes += b.bytes.length;
    }
    return out;
  }

  async offsetForTimestamp(
    tp: TopicPartition,
    timestamp: number,
  ): Promise<{ offset: number; timestamp: number } | null> {
    const p = this.partitionOf(tp);
    // Timestamps need not grow with offsets (CreateTime), so this is a scan, as Kafka's time index
    // lookup is followed by a scan of the segment.
    for (let i = batchIndexFor(p.batches, p.logStartOffset); i < p.batches.length; i++) {
      const b = p.batches[i]!;
      if (b.maxTimestamp < timestamp || b.isControl) continue;
      const hit = await firstRecordAtOrAfter(b, timestamp, p.logStartOffset);
      if (hit) return hit;
    }
    return null;
  }

  async maxTimestamp(tp: TopicPartition): Promise<{ offset: number; timestamp: number } | null> {
    const p = this.partitionOf(tp);
    let best: StoredBatch | null = null;
    for (let i = batchIndexFor(p.batches, p.logStartOffset); i < p.batches.length; i++) {
      const b = p.batches[i]!;
      if (!b.isControl && (best === null || b.maxTimestamp > best.maxTimestamp)) best = b;
    }
    return best ? recordWithMaxTimestamp(best) : null;
  }

  async currentLogStartOffset(tp: TopicPartition): Promise<number> {
    // Memory storage does not apply retention: only DeleteRecords moves the log start.
    return this.partitionOf(tp).logStartOffset;
  }

  async partitionEnd(tp: TopicPartition): Promise<number> {
    // One copy of the data for every broker in the process: what it holds is always current.
    return this.partitionOf(tp).nextOffset;
  }

  async deleteRecordsBefore(tp: TopicPartition, offset: number): Promise<number> {
    const p = this.partitionOf(tp);
    if (offset > p.logStartOffset) {
      p.logStartOffset = Math.min(offset, p.nextOffset);
      // Whole batches before the new start are dropped; one straddling it stays, as in Kafka.
      p.batches.splice(0, batchIndexFor(p.batches, p.logStartOffset));
    }
    return p.logStartOffset;
  }

  async compact(tp: TopicPartition, request: CompactionRequest): Promise<CompactionResult> {
    const p = this.partitionOf(tp);
    const from = batchIndexFor(p.batches, p.logStartOffset);
    const taken = p.batches.slice(from);
    const { batches, result } = await compactBatches(taken, {
      ...request,
      endOffset: Math.min(request.endOffset, p.nextOffset),
    });
    // Decoding awaits: an append may have come meanwhile (kept, it is past the end cleaned), but
    // anything else that changed the batches taken (DeleteRecords, an abort, fences) drops this
    // cleaning, and the next one starts over.
    if (taken.some((b, i) => p.batches[from + i] !== b)) return { cleanedTo: p.logStartOffset, removed: 0 };
    p.batches.splice(from, taken.length, ...batches);
    return result;
  }

  async commitOffsets(group: string, offsets: readonly CommittedOffset[]): Promise<void> {
    let g = this.groups.get(group);
    if (!g) {
      g = new Map();
      this.groups.set(group, g);
    }
    for (const o of offsets) g.set(`${o.topic}\u0000${o.partition}`, { ...o });
  }

  async fetchOffsets(group: string): Promise<CommittedOffset[]> {
    return [...(this.groups.get(group)?.values() ?? [])].map((o) => ({ ...o }));
  }

  async listOffsetGroups(): Promise<string[]> {
    return [...this.groups].filter(([, offsets]) => offsets.size > 0).map(([name]) => name);
  }

  async deleteOffsets(group: string, partitions?: readonly TopicPartition[]): Promise<void> {
    if (!partitions) {
      this.groups.delete(group);
      return;
    }
    const g = this.groups.get(group);
    if (!g) return;
    for (const tp of partitions) g.delete(`${tp.topic}\u0000${tp.partition}`);
  }

  async allocateProducerId(): Promise<number> {
    return ++this.producerIds;
  }

  private topicOf(name: string): MemoryTopic {
    const t = this.topics.get(name);
    if (!t) throw new StorageError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    return t;
  }

  private partitionOf(tp: TopicPartition): MemoryPartition {
    const p = this.topicOf(tp.topic).partitions[tp.partition];
    if (!p)
      throw new StorageError(
        'UNKNOWN_TOPIC_OR_PARTITION',
        `partition ${tp.topic}-${tp.partition} does not exist`,
      );
    return p;
  }
}

function emptyPartition(): MemoryPartition {
  return { batches: [], logStartOffset: 0, nextOffset: 0, fences: LeaderFences.NONE };
}

/**
 * Sets the partition's fences and drops the batches they hide: fences only grow, so a hidden batch
 * can never show again, and every read (batches, timestamps, producer state, the end) then sees only
 * what is visible. Batches are kept whole: one with a record past its epoch's limit goes whole. The
 * starts a storage records fall between batches (each is an end read), so this differs from hiding
 * record by record (the ClickHouse storage) only for starts given from elsewhere.
 */
function fence(p: MemoryPartition, fences: LeaderFences): void {
  if (fences === p.fences) return;
  p.fences = fences;
  const kept = p.batches.filter((b) => !fences.hides(b));
  if (kept.length === p.batches.length) return;
  const lastDropped = fences.hides(p.batches[p.batches.length - 1]!);
  p.batches = kept;
  if (lastDropped) p.nextOffset = Math.max(p.logStartOffset, (kept[kept.length - 1]?.lastOffset ?? -1) + 1);
}

/**
 * Drops the staged batches an ABORT marker ends: its producer's transactional batches since the
 * marker before it (those of its open transaction), which no read returns again.
 */
function dropAborted(p: MemoryPartition, marker: StoredBatch): void {
  let first = p.batches.length - 1;
  while (first > 0) {
    const b = p.batches[first - 1]!;
    if (b.producerId === marker.producerId && b.isControl) break;
    first--;
  }
  p.batches = p.batches.filter(
    (b, i) => i < first || b === marker || !(isStaged(b) && b.producerId === marker.producerId),
  );
}

export function memoryStorage(): Storage {
  return new MemoryStorage();
}

export type { ProducerBatchInfo };
