/**
 * A leader acknowledges an append only while its lease holds (docs/architecture.md, "Many brokers over
 * one database", point 4): the check runs inside the storage's append (AppendOptions.confirm), so that
 * an append it refuses is taken back, rows and all; with a storage that does not run it, the partition
 * log checks after the append and refuses the acknowledgement.
 */
import { encodeRecordBatchSync } from '@kch/protocol';
import { memoryStorage, type Storage } from '@kch/storage';
import { describe, expect, it } from 'vitest';
import type { LeaseCheck } from '../src/cluster/membership.js';
import { type IncomingBatch, PartitionLog } from '../src/log/partition-log.js';
import { TailCache } from '../src/log/tail-cache.js';

function incoming(value: string): IncomingBatch[] {
  const bytes = encodeRecordBatchSync({
    baseOffset: 0n,
    records: [{ key: null, value: Buffer.from(value), timestamp: 1000n, offsetDelta: 0 }],
  });
  const b = { bytes, lastOffsetDelta: 0, recordCount: 1, baseTimestamp: 1000, maxTimestamp: 1000 };
  return [
    { ...b, producerId: -1, producerEpoch: -1, baseSequence: -1, isTransactional: false, isControl: false },
  ];
}

/** A lease past its local deadline whose store answers `stillHeld` (the broker was fenced when false). */
function lapsedLease(answers: { held: boolean; stillHeld: boolean }): LeaseCheck {
  return { held: () => answers.held, confirm: async () => answers.stillHeld };
}

async function ledPartition(storage: Storage, lease: LeaseCheck): Promise<PartitionLog> {
  await storage.createTopic({ name: 't', topicId: 'x', partitionCount: 1, configs: {}, createdAt: 0 });
  const log = new PartitionLog('t', 0, storage, new TailCache(1 << 20));
  await log.lead({ epoch: 0, epochStarts: [] }, lease);
  return log;
}

const storedOffsets = async (storage: Storage) =>
  (await storage.read({ topic: 't', partition: 0 }, 0, 1 << 20)).map((b) => b.baseOffset);

describe('acknowledgements under a lease', () => {
  it('takes back an append the store says this broker may no longer acknowledge, and reuses its offsets', async () => {
    const storage = memoryStorage();
    const answers = { held: true, stillHeld: true };
    const log = await ledPartition(storage, lapsedLease(answers));
    expect((await log.append(incoming('a'), false)).baseOffset).toBe(0);

    answers.held = false;
    answers.stillHeld = false;
    await expect(log.append(incoming('b'), false)).rejects.toMatchObject({
      errorName: 'NOT_LEADER_OR_FOLLOWER',
    });
    expect(await storedOffsets(storage)).toEqual([0]);
    expect(log.highWatermark).toBe(1);

    // Past the local deadline, a renewal that succeeds proves the lease held: acknowledged.
    answers.stillHeld = true;
    expect((await log.append(incoming('c'), false)).baseOffset).toBe(1);
    expect(await storedOffsets(storage)).toEqual([0, 1]);
  });

  it('refuses the acknowledgement itself when the storage does not run the check', async () => {
    const inner = memoryStorage();
    const storage = Object.create(inner) as Storage;
    storage.append = (tp, batches) => inner.append(tp, batches);
    const log = await ledPartition(storage, lapsedLease({ held: false, stillHeld: false }));
    await expect(log.append(incoming('a'), false)).rejects.toMatchObject({
      errorName: 'NOT_LEADER_OR_FOLLOWER',
    });
    // Stored all the same: this storage could not take it back.
    expect(await storedOffsets(storage)).toEqual([0]);
  });
});
