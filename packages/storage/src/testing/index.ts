import type { RecordInput } from '@kch/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Storage, StoredBatch } from '../storage.js';
import { StorageError } from '../storage.js';
import { runCompactionContract } from './compaction.js';
import { runFencingContract } from './fencing.js';
import { nextCount, testBatch, testTopic } from './fixtures.js';
import { runTransactionContract } from './transactions.js';

export { type ClusterContractOptions, runClusterStoreContract } from './cluster.js';
export { leadership, stamped } from './fencing.js';
export { type BatchSpec, producerBatch, testBatch, testMarker, testTopic } from './fixtures.js';
export { runSecurityStoreContract, type SecurityContractOptions } from './security.js';

export interface ContractOptions {
  /** Closes `storage` and returns a new one over the same data (durable storages only). */
  reopen?: (storage: Storage) => Promise<Storage>;
  /** Per-test timeout in ms (default 30 s). */
  timeoutMs?: number;
  /** The storage has `transactions`: run the transaction contract (./transactions.ts) too. */
  transactions?: boolean;
  /** The storage has `compact`: run the compaction contract (./compaction.ts) too. */
  compaction?: boolean;
}

const rec = (value: string, timestamp?: number): RecordInput => ({
  key: Buffer.from(`k-${value}`),
  value: Buffer.from(value),
  timestamp: timestamp === undefined ? undefined : BigInt(timestamp),
});

export function runStorageContract(
  name: string,
  create: () => Storage | Promise<Storage>,
  options: ContractOptions = {},
): void {
  const timeout = options.timeoutMs ?? 30_000;
  describe(`storage contract: ${name}`, { timeout }, () => {
    let storage: Storage;
    beforeEach(async () => {
      storage = await create();
      await storage.open();
    });
    afterEach(async () => {
      await storage.close();
    });

    it('reports healthy once open', async () => {
      expect((await storage.health()).ok).toBe(true);
      expect(storage.name.length).toBeGreaterThan(0);
    });

    it('creates, lists and deletes topics', async () => {
      const t = testTopic(3, { 'retention.ms': '1000' });
      await storage.createTopic(t);
      const listed = (await storage.listTopics()).find((x) => x.name === t.name);
      expect(listed).toMatchObject({
        name: t.name,
        topicId: t.topicId,
        partitionCount: 3,
        configs: { 'retention.ms': '1000' },
      });
      await expect(storage.createTopic(t)).rejects.toMatchObject({ kind: 'TOPIC_EXISTS' });
      await storage.deleteTopic(t.name);
      expect((await storage.listTopics()).some((x) => x.name === t.name)).toBe(false);
      await expect(storage.deleteTopic(t.name)).rejects.toBeInstanceOf(StorageError);
    });

    it('grows partitions and replaces configs', async () => {
      const t = testTopic(1);
      await storage.createTopic(t);
      await storage.setPartitionCount(t.name, 4);
      await storage.setTopicConfigs(t.name, { 'cleanup.policy': 'delete' });
      const listed = (await storage.listTopics()).find((x) => x.name === t.name)!;
      expect(listed.partitionCount).toBe(4);
      expect(listed.configs).toEqual({ 'cleanup.policy': 'delete' });
      const { openTransactions, ...snapshot } = await storage.openPartition({ topic: t.name, partition: 3 });
      expect(snapshot).toEqual({ logStartOffset: 0, nextOffset: 0, producerBatches: [] });
      expect(openTransactions ?? []).toEqual([]);
    });

    it('keeps every one of changes of a topic made at once; a partition count never goes back', async () => {
      const t = testTopic(1);
      await storage.createTopic(t);
      // Each change sets one part of the topic: none may write back another's part as it was before.
      await Promise.all([
        storage.setTopicConfigs(t.name, { 'cleanup.policy': 'delete' }),
        storage.setPartitionCount(t.name, 3),
        storage.setPartitionCount(t.name, 2),
      ]);
      await storage.setPartitionCount(t.name, 2);
      const listed = (await storage.listTopics()).find((x) => x.name === t.name)!;
      expect(listed).toMatchObject({ partitionCount: 3, configs: { 'cleanup.policy': 'delete' } });
    });

    it('appends and reads back batches byte for byte, from any offset', async () => {
      const t = testTopic(2);
      await storage.createTopic(t);
      const tp = { topic: t.name, partition: 1 };
      const b0 = testBatch({ baseOffset: 0, records: [rec('a'), rec('b')] });
      const b1 = testBatch({ baseOffset: 2, records: [rec('c')] });
      const b2 = testBatch({ baseOffset: 3, records: [rec('d'), rec('e'), rec('f')] });
      await storage.append(tp, [b0, b1]);
      await storage.append(tp, [b2]);
      expect((await storage.openPartition(tp)).nextOffset).toBe(6);
      const all = await storage.read(tp, 0, 1 << 20);
      expect(all.map((b) => b.baseOffset)).toEqual([0, 2, 3]);
      expect(
        all.map((b) => b.bytes.equals(b === all[0] ? b0.bytes : b === all[1] ? b1.bytes : b2.bytes)),
      ).toEqual([true, true, true]);
      expect(all[2]).toMatchObject({ lastOffset: 5, recordCount: 3 });
      // From inside a batch: the batch containing the offset comes first.
      expect((await storage.read(tp, 4, 1 << 20)).map((b) => b.baseOffset)).toEqual([3]);
      expect(await storage.read(tp, 6, 1 << 20)).toEqual([]);
      // The other partition is untouched.
      expect(await storage.read({ topic: t.name, partition: 0 }, 0, 1 << 20)).toEqual([]);
    });

    it('returns at least one whole batch, then stops at maxBytes', async () => {
      const t = testTopic(1);
      await storage.createTopic(t);
      const tp = { topic: t.name, partition: 0 };
      const big = 'x'.repeat(2000);
      const batches = [0, 1, 2].map((i) => testBatch({ baseOffset: i, records: [rec(`${big}${i}`)] }));
      await storage.append(tp, batches);
      expect((await storage.read(tp, 0, 1)).length).toBe(1);
      const two = await storage.read(tp, 0, batches[0]!.bytes.length + batches[1]!.bytes.length);
      expect(two.map((b) => b.baseOffset)).toEqual([0, 1]);
    });

    it('rejects an append that leaves a gap', async () => {
      const t = testTopic(1);
      await storage.createTopic(t);
      const tp = { topic: t.name, partition: 0 };
      await expect(
        storage.append(tp, [testBatch({ baseOffset: 5, records: [rec('a')] })]),
      ).rejects.toBeInstanceOf(StorageError);
      expect((await storage.openPartition(tp)).nextOffset).toBe(0);
    });

    it('finds offsets by timestamp and the max timestamp, record by record', async () => {
      const t = testTopic(1);
      await storage.createTopic(t);
      const tp = { topic: t.name, partition: 0 };
      await storage.append(tp, [
        testBatch({ baseOffset: 0, records: [rec('a', 1000), rec('b', 3000)] }),
        testBatch({ baseOffset: 2, records: [rec('c', 2000), rec('d', 5000), rec('e', 4000)] }),
      ]);
      expect(await storage.offsetForTimestamp(tp, 0)).toEqual({ offset: 0, timestamp: 1000 });
      expect(await storage.offsetForTimestamp(tp, 2500)).toEqual({ offset: 1, timestamp: 3000 });
      expect(await storage.offsetForTimestamp(tp, 4500)).toEqual({ offset: 3, timestamp: 5000 });
      expect(await storage.offsetForTimestamp(tp, 6000)).toBeNull();
      expect(await storage.maxTimestamp(tp)).toEqual({ offset: 3, timestamp: 5000 });
      expect(await storage.maxTimestamp({ topic: t.name, partition: 0 })).not.toBeNull();
    });

    it('reads the end of a partition as stored (partitionEnd, when the storage has it)', async () => {
      if (!storage.partitionEnd) return;
      const t = testTopic(2);
      await storage.createTopic(t);
      const tp = { topic: t.name, partition: 1 };
      expect(await storage.partitionEnd(tp)).toBe(0);
      await storage.append(tp, [testBatch({ baseOffset: 0, records: [rec('a'), rec('b'), rec('c')] })]);
      expect(await storage.partitionEnd(tp)).toBe(3);
      expect(await storage.partitionEnd({ topic: t.name, partition: 0 })).toBe(0);
    });

    it('moves the log start offset forward with deleteRecordsBefore, never back', async () => {
      const t = testTopic(1);
      await storage.createTopic(t);
      const tp = { topic: t.name, partition: 0 };
      await storage.append(tp, [
        testBatch({ baseOffset: 0, records: [rec('a'), rec('b')] }),
        testBatch({ baseOffset: 2, records: [rec('c'), rec('d')] }),
      ]);
      expect(await storage.currentLogStartOffset(tp)).toBe(0);
      expect(await storage.deleteRecordsBefore(tp, 3)).toBe(3);
      expect(await storage.deleteRecordsBefore(tp, 1)).toBe(3);
      expect(await storage.currentLogStartOffset(tp)).toBe(3);
      const snapshot = await storage.openPartition(tp);
      expect(snapshot).toMatchObject({ logStartOffset: 3, nextOffset: 4 });
      const read = await storage.read(tp, 0, 1 << 20);
      expect(read.map((b) => b.baseOffset)).toEqual([2]);
      expect(await storage.offsetForTimestamp(tp, 0)).toMatchObject({ offset: 3 });
    });

    it('recovers the last batches of each idempotent producer', async () => {
      const t = testTopic(1);
      await storage.createTopic(t);
      const tp = { topic: t.name, partition: 0 };
      const batches: StoredBatch[] = [];
      for (let i = 0; i < 7; i++) {
        batches.push(
          testBatch({
            baseOffset: i * 2,
            records: [rec(`a${i}`), rec(`b${i}`)],
            producerId: 42,
            producerEpoch: 3,
            baseSequence: i * 2,
          }),
        );
      }
      batches.push(
        testBatch({ baseOffset: 14, records: [rec('z')], producerId: 7, producerEpoch: 0, baseSequence: 0 }),
      );
      await storage.append(tp, batches);
      const { producerBatches } = await storage.openPartition(tp);
      const p42 = producerBatches.filter((b) => b.producerId === 42);
      expect(p42.map((b) => b.baseSequence)).toEqual([4, 6, 8, 10, 12]);
      expect(p42[4]).toEqual({
        producerId: 42,
        producerEpoch: 3,
        baseSequence: 12,
        lastSequence: 13,
        baseOffset: 12,
        lastOffset: 13,
        maxTimestamp: batches[6]!.maxTimestamp,
      });
      expect(producerBatches.filter((b) => b.producerId === 7)).toHaveLength(1);
    });

    it('stores committed offsets per group', async () => {
      const group = `g-${Date.now()}-${nextCount()}`;
      const t = testTopic(2);
      await storage.createTopic(t);
      await storage.commitOffsets(group, [
        { topic: t.name, partition: 0, offset: 5, leaderEpoch: -1, metadata: null, commitTimestamp: 1 },
        { topic: t.name, partition: 1, offset: 9, leaderEpoch: 0, metadata: 'm', commitTimestamp: 2 },
      ]);
      await storage.commitOffsets(group, [
        { topic: t.name, partition: 0, offset: 6, leaderEpoch: -1, metadata: '', commitTimestamp: 3 },
      ]);
      const fetched = (await storage.fetchOffsets(group)).sort((a, b) => a.partition - b.partition);
      expect(fetched).toEqual([
        { topic: t.name, partition: 0, offset: 6, leaderEpoch: -1, metadata: '', commitTimestamp: 3 },
        { topic: t.name, partition: 1, offset: 9, leaderEpoch: 0, metadata: 'm', commitTimestamp: 2 },
      ]);
      expect(await storage.listOffsetGroups()).toContain(group);
      await storage.deleteOffsets(group, [{ topic: t.name, partition: 1 }]);
      expect((await storage.fetchOffsets(group)).map((o) => o.partition)).toEqual([0]);
      await storage.deleteOffsets(group);
      expect(await storage.fetchOffsets(group)).toEqual([]);
      expect(await storage.listOffsetGroups()).not.toContain(group);
    });

    it('drops committed offsets of a deleted topic', async () => {
      const group = `g-${Date.now()}-${nextCount()}`;
      const t = testTopic(1);
      await storage.createTopic(t);
      await storage.commitOffsets(group, [
        { topic: t.name, partition: 0, offset: 1, leaderEpoch: -1, metadata: null, commitTimestamp: 1 },
      ]);
      await storage.deleteTopic(t.name);
      expect(await storage.fetchOffsets(group)).toEqual([]);
    });

    it('hands out distinct producer ids', async () => {
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push(await storage.allocateProducerId());
      expect(new Set(ids).size).toBe(5);
      for (const id of ids) expect(id).toBeGreaterThanOrEqual(0);
    });

    runFencingContract(() => storage);

    // The suites that reopen the storage hand the new one back, for afterEach to close.
    const replace = (s: Storage) => {
      storage = s;
    };

    if (options.compaction) {
      it('offers compaction', () => {
        expect(storage.compact).toBeDefined();
      });
      runCompactionContract(() => storage, options.reopen, replace);
    }

    if (options.transactions) {
      it('offers transactions', () => {
        expect(storage.transactions).toBeDefined();
      });
      runTransactionContract(() => storage, options.reopen, replace);
    }

    it('fails unknown partitions with UNKNOWN_TOPIC_OR_PARTITION', async () => {
      await expect(
        storage.openPartition({ topic: 'no-such-topic-anywhere', partition: 0 }),
      ).rejects.toMatchObject({
        kind: 'UNKNOWN_TOPIC_OR_PARTITION',
      });
    });

    if (options.reopen) {
      const reopen = options.reopen;
      it('keeps topics, records, offsets and producer ids across a reopen', async () => {
        const t = testTopic(1, { 'retention.ms': '-1' });
        await storage.createTopic(t);
        const tp = { topic: t.name, partition: 0 };
        const batch = testBatch({
          baseOffset: 0,
          records: [rec('a'), rec('b')],
          producerId: 9,
          producerEpoch: 1,
          baseSequence: 0,
        });
        await storage.append(tp, [batch]);
        const group = `g-${Date.now()}-${nextCount()}`;
        await storage.commitOffsets(group, [
          { topic: t.name, partition: 0, offset: 2, leaderEpoch: -1, metadata: null, commitTimestamp: 1 },
        ]);
        const id = await storage.allocateProducerId();
        storage = await reopen(storage);
        expect((await storage.listTopics()).find((x) => x.name === t.name)?.configs).toEqual({
          'retention.ms': '-1',
        });
        const snapshot = await storage.openPartition(tp);
        expect(snapshot.nextOffset).toBe(2);
        expect(snapshot.producerBatches).toHaveLength(1);
        expect((await storage.read(tp, 0, 1 << 20))[0]!.bytes.equals(batch.bytes)).toBe(true);
        expect((await storage.fetchOffsets(group))[0]!.offset).toBe(2);
        expect(await storage.allocateProducerId()).toBeGreaterThan(id);
      });
    }
  });
}
