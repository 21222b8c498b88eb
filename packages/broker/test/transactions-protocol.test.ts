/**
 * Transactions at the byte level, through a raw client over TCP (KIP-98, KIP-360, KIP-447): the
 * coordinator's answers by state and version, transactional Produce checked against the transaction,
 * markers with their own offsets, the last stable offset in Fetch and ListOffsets, aborted records
 * gone from every read, fencing, timeouts, pending offsets and the admin APIs.
 */
import { brokerMetrics } from '@kch/broker';
import { RawClient } from '@kch/kafka-connection';
import {
  ControlRecordType,
  decodeBatch,
  decodeControlRecordKey,
  ErrorCode,
  encodeRecordBatchSync,
  type RecordInput,
  splitBatches,
} from '@kch/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBroker, startBroker, testStorage } from './helpers/broker.js';

let b: RunningBroker;
let client: RawClient;
let n = 0;

beforeAll(async () => {
  // A short abort interval, so that a transaction's timeout is seen within the test.
  b = await startBroker({ transactionAbortTimedOutIntervalMs: 100 });
  client = await RawClient.connect(b.host, b.port);
});

afterAll(async () => {
  client?.close();
  await b?.close();
});

const recs = (values: string[]): RecordInput[] =>
  values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: BigInt(Date.now()) }));

interface Producer {
  id: string;
  producerId: bigint;
  epoch: number;
  sequence: number;
}

async function topic(partitions = 1): Promise<string> {
  const name = `txn-${++n}`;
  const r = await client.send('CreateTopics', 7, {
    topics: [{ name, numPartitions: partitions, replicationFactor: -1, configs: [] }],
    timeoutMs: 5000,
  });
  expect(r.topics[0]!.errorCode).toBe(0);
  return name;
}

async function init(id: string, timeoutMs = 60_000): Promise<Producer> {
  const r = await client.send('InitProducerId', 4, { transactionalId: id, transactionTimeoutMs: timeoutMs });
  expect(r.errorCode).toBe(ErrorCode.NONE);
  return { id, producerId: r.producerId, epoch: r.producerEpoch, sequence: 0 };
}

async function addPartitions(p: Producer, t: string, partitions = [0], version = 3): Promise<number> {
  const r = await client.send('AddPartitionsToTxn', version, {
    v3AndBelowTransactionalId: p.id,
    v3AndBelowProducerId: p.producerId,
    v3AndBelowProducerEpoch: p.epoch,
    v3AndBelowTopics: [{ name: t, partitions }],
  });
  return r.resultsByTopicV3AndBelow[0]!.resultsByPartition[0]!.partitionErrorCode;
}

/** Produces `values` in one batch; transactional when `p` is, plain otherwise. */
async function produce(t: string, values: string[], p?: Producer, version = 9) {
  const bytes = encodeRecordBatchSync({
    records: recs(values),
    producerId: p?.producerId ?? -1n,
    producerEpoch: p?.epoch ?? -1,
    baseSequence: p ? p.sequence : -1,
    isTransactional: p !== undefined,
  });
  const r = await client.send('Produce', version, {
    transactionalId: p?.id ?? null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: t, partitionData: [{ index: 0, records: bytes }] }],
  });
  const out = r.responses[0]!.partitionResponses[0]!;
  if (p && out.errorCode === ErrorCode.NONE) p.sequence += values.length;
  return out;
}

async function endTxn(p: Producer, commit: boolean, version = 3): Promise<number> {
  const r = await client.send('EndTxn', version, {
    transactionalId: p.id,
    producerId: p.producerId,
    producerEpoch: p.epoch,
    committed: commit,
  });
  return r.errorCode;
}

/** What a Fetch returns from `offset`: values of data records, 'COMMIT'/'ABORT' for markers. */
async function addOffsets(p: Producer, group: string): Promise<number> {
  const r = await client.send('AddOffsetsToTxn', 3, {
    transactionalId: p.id,
    producerId: p.producerId,
    producerEpoch: p.epoch,
    groupId: group,
  });
  return r.errorCode;
}

/** TxnOffsetCommit of `offset` (metadata 'm') for partition 0 of `t`, in `p`'s transaction. */
function txnOffsetCommit(p: Producer, group: string, t: string, offset: bigint, version = 3) {
  return client.send('TxnOffsetCommit', version, {
    transactionalId: p.id,
    groupId: group,
    producerId: p.producerId,
    producerEpoch: p.epoch,
    generationId: -1,
    memberId: '',
    groupInstanceId: null,
    topics: [
      {
        name: t,
        partitions: [
          { partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: 'm' },
        ],
      },
    ],
  });
}

/** OffsetFetch of partition 0 of `t` for `group`. */
async function fetchOffset(group: string, t: string, requireStable: boolean) {
  const r = await client.send('OffsetFetch', 7, {
    groupId: group,
    topics: [{ name: t, partitionIndexes: [0] }],
    requireStable,
  });
  return r.topics[0]!.partitions[0]!;
}

async function fetch(t: string, isolationLevel: 0 | 1, offset = 0n) {
  const r = await client.send('Fetch', 12, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1 << 24,
    isolationLevel,
    topics: [{ topic: t, partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 1 << 24 }] }],
  });
  const p = r.responses[0]!.partitions[0]!;
  const seen: [number, string][] = [];
  for (const bytes of splitBatches(p.records ?? Buffer.alloc(0)).batches) {
    const batch = await decodeBatch(bytes);
    for (const rec of batch.records) {
      const offset = Number(batch.header.baseOffset) + rec.offsetDelta;
      if (!batch.header.isControl) seen.push([offset, rec.value!.toString()]);
      else
        seen.push([
          offset,
          decodeControlRecordKey(rec.key).type === ControlRecordType.Commit ? 'COMMIT' : 'ABORT',
        ]);
    }
  }
  return {
    seen,
    highWatermark: p.highWatermark,
    lastStableOffset: p.lastStableOffset,
    aborted: p.abortedTransactions,
  };
}

async function latest(t: string, isolationLevel: 0 | 1): Promise<bigint> {
  const r = await client.send('ListOffsets', 7, {
    replicaId: -1,
    isolationLevel,
    topics: [{ name: t, partitions: [{ partitionIndex: 0, timestamp: -1n }] }],
  });
  return r.topics[0]!.partitions[0]!.offset;
}

/** Waits until the partition's markers are written: the last stable offset reaches the end. */
async function stable(t: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await latest(t, 1)) === (await latest(t, 0))) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`the last stable offset of ${t} never reached its end`);
}

describe('transactions over the wire', () => {
  it('stages a transaction: read_committed stops at its first offset, a commit marker makes it readable', async () => {
    const t = await topic();
    expect((await produce(t, ['plain-0'])).errorCode).toBe(0);
    const p = await init(`tx-${t}`);
    expect(await addPartitions(p, t)).toBe(ErrorCode.NONE);
    expect(await produce(t, ['t1', 't2'], p)).toMatchObject({ errorCode: 0, baseOffset: 1n });
    // A plain record after the open transaction: held back from read_committed with it.
    expect(await produce(t, ['plain-3'])).toMatchObject({ errorCode: 0, baseOffset: 3n });
    const open = await fetch(t, 1);
    expect(open).toMatchObject({ highWatermark: 4n, lastStableOffset: 1n, aborted: [] });
    expect(open.seen).toEqual([[0, 'plain-0']]);
    expect(await latest(t, 1)).toBe(1n);
    expect(await latest(t, 0)).toBe(4n);
    // read_uncommitted sees the open transaction, and has no aborted list.
    const uncommitted = await fetch(t, 0);
    expect(uncommitted.seen.map(([, v]) => v)).toEqual(['plain-0', 't1', 't2', 'plain-3']);
    expect(uncommitted.aborted).toBeNull();
    expect(await endTxn(p, true)).toBe(ErrorCode.NONE);
    await stable(t);
    const done = await fetch(t, 1);
    expect(done.seen).toEqual([
      [0, 'plain-0'],
      [1, 't1'],
      [2, 't2'],
      [3, 'plain-3'],
      [4, 'COMMIT'],
    ]);
    expect(done).toMatchObject({ highWatermark: 5n, lastStableOffset: 5n });
  });

  it('drops an aborted transaction from every read; its marker keeps its offset', async () => {
    const t = await topic();
    const p = await init(`tx-${t}`);
    expect(await addPartitions(p, t)).toBe(ErrorCode.NONE);
    await produce(t, ['a1', 'a2'], p);
    expect(await endTxn(p, false)).toBe(ErrorCode.NONE);
    await stable(t);
    // The next transaction of the same producer starts on its own.
    expect(await addPartitions(p, t)).toBe(ErrorCode.NONE);
    await produce(t, ['c1'], p);
    expect(await endTxn(p, true)).toBe(ErrorCode.NONE);
    await stable(t);
    for (const isolation of [0, 1] as const)
      expect((await fetch(t, isolation)).seen).toEqual([
        [2, 'ABORT'],
        [3, 'c1'],
        [4, 'COMMIT'],
      ]);
  });

  it('refuses a transactional write to a partition not in the transaction, by version', async () => {
    const t = await topic();
    const p = await init(`tx-${t}`);
    expect((await produce(t, ['x'], p, 9)).errorCode).toBe(ErrorCode.INVALID_TXN_STATE);
    expect((await produce(t, ['x'], p, 11)).errorCode).toBe(ErrorCode.TRANSACTION_ABORTABLE);
    // Without a transactional id the request is refused whole.
    const r = await client.send('Produce', 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [
        {
          name: t,
          partitionData: [
            {
              index: 0,
              records: encodeRecordBatchSync({
                records: recs(['y']),
                producerId: p.producerId,
                producerEpoch: p.epoch,
                baseSequence: 0,
                isTransactional: true,
              }),
            },
          ],
        },
      ],
    });
    expect(r.responses[0]!.partitionResponses[0]!.errorCode).toBe(
      ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    );
    expect(await latest(t, 0)).toBe(0n);
  });

  it('fences the producer of an open transaction when its id is initialised again, and aborts the transaction', async () => {
    const t = await topic();
    const old = await init(`tx-${t}`);
    expect(await addPartitions(old, t)).toBe(ErrorCode.NONE);
    await produce(t, ['zombie'], old);
    // The new producer is told to retry while the open transaction is aborted.
    const retry = await client.send('InitProducerId', 4, {
      transactionalId: old.id,
      transactionTimeoutMs: 60_000,
    });
    expect(retry.errorCode).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    await stable(t);
    const fresh = await init(old.id);
    expect(fresh.producerId).toBe(old.producerId);
    expect(fresh.epoch).toBe(old.epoch + 2);
    // The fenced producer: its writes and its transaction calls are refused, by version.
    expect((await produce(t, ['late'], old)).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect(await endTxn(old, true, 1)).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect(await endTxn(old, true, 3)).toBe(ErrorCode.PRODUCER_FENCED);
    expect(await addPartitions(old, t, [0], 1)).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect(await addPartitions(old, t, [0], 3)).toBe(ErrorCode.PRODUCER_FENCED);
    expect((await fetch(t, 1)).seen).toEqual([[1, 'ABORT']]);
  });

  it('answers EndTxn by state: a retried commit succeeds, an end without a transaction is refused', async () => {
    const t = await topic();
    const p = await init(`tx-${t}`);
    expect(await endTxn(p, true)).toBe(ErrorCode.INVALID_TXN_STATE);
    expect(await addPartitions(p, t)).toBe(ErrorCode.NONE);
    await produce(t, ['v'], p);
    expect(await endTxn(p, true)).toBe(ErrorCode.NONE);
    // Answered once the markers are written and the transaction is complete: its records are readable.
    const described = await client.send('DescribeTransactions', 0, { transactionalIds: [p.id] });
    expect(described.transactionStates[0]!.transactionState).toBe('CompleteCommit');
    expect(await latest(t, 1)).toBe(2n);
    expect(await endTxn(p, true)).toBe(ErrorCode.NONE);
    expect(await endTxn(p, false)).toBe(ErrorCode.INVALID_TXN_STATE);
    const unknown = { ...p, id: `never-${t}` };
    expect(await endTxn(unknown, true)).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  });

  it('aborts a transaction past its timeout and fences its producer', async () => {
    const t = await topic();
    const p = await init(`tx-${t}`, 200);
    expect(await addPartitions(p, t)).toBe(ErrorCode.NONE);
    await produce(t, ['slow'], p);
    await stable(t);
    expect((await fetch(t, 0)).seen).toEqual([[1, 'ABORT']]);
    expect(await endTxn(p, true)).toBe(ErrorCode.PRODUCER_FENCED);
    const described = await client.send('DescribeTransactions', 0, { transactionalIds: [p.id] });
    expect(described.transactionStates[0]).toMatchObject({
      errorCode: 0,
      transactionState: 'CompleteAbort',
      producerEpoch: p.epoch + 1,
    });
  });

  it('refuses a timeout above transaction.max.timeout.ms', async () => {
    const r = await client.send('InitProducerId', 4, {
      transactionalId: `too-long-${n}`,
      transactionTimeoutMs: 900_001,
    });
    expect(r.errorCode).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
  });

  it('holds offsets sent in a transaction until it commits; requireStable waits meanwhile', async () => {
    const t = await topic();
    const group = `g-${t}`;
    const p = await init(`tx-${t}`);
    const txnCommit = (offset: bigint, version = 3) => txnOffsetCommit(p, group, t, offset, version);
    // The group was not added to the transaction.
    expect((await txnCommit(5n, 3)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.INVALID_TXN_STATE);
    expect((await txnCommit(5n, 4)).topics[0]!.partitions[0]!.errorCode).toBe(
      ErrorCode.TRANSACTION_ABORTABLE,
    );
    expect(await addOffsets(p, group)).toBe(0);
    expect((await txnCommit(5n)).topics[0]!.partitions[0]!.errorCode).toBe(0);
    const offsetFetch = (requireStable: boolean) => fetchOffset(group, t, requireStable);
    expect(await offsetFetch(false)).toMatchObject({ errorCode: 0, committedOffset: -1n });
    expect(await offsetFetch(true)).toMatchObject({
      errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT,
      committedOffset: -1n,
    });
    expect(await endTxn(p, true)).toBe(0);
    for (let i = 0; i < 100 && (await offsetFetch(true)).errorCode !== 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(await offsetFetch(true)).toMatchObject({ errorCode: 0, committedOffset: 5n, metadata: 'm' });
  });

  it('keeps an offset committed after the transaction sent its own, when the transaction commits', async () => {
    const t = await topic();
    const group = `g-${t}`;
    const p = await init(`tx-${t}`);
    expect(await addOffsets(p, group)).toBe(0);
    const sent = await txnOffsetCommit(p, group, t, 5n);
    expect(sent.topics[0]!.partitions[0]!.errorCode).toBe(0);
    // Commit times are in ms: the plain commit must come at a later one to be later.
    const sentAt = Date.now();
    while (Date.now() === sentAt);
    const plain = await client.send('OffsetCommit', 8, {
      groupId: group,
      generationIdOrMemberEpoch: -1,
      memberId: '',
      topics: [{ name: t, partitions: [{ partitionIndex: 0, committedOffset: 9n, committedMetadata: '' }] }],
    });
    expect(plain.topics[0]!.partitions[0]!.errorCode).toBe(0);
    expect(await endTxn(p, true)).toBe(0);
    const fetched = () => fetchOffset(group, t, true);
    for (let i = 0; i < 100 && (await fetched()).errorCode !== 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(await fetched()).toMatchObject({ errorCode: 0, committedOffset: 9n });
  });

  it('lists and describes transactions, and DescribeProducers shows where an open one starts', async () => {
    const t = await topic();
    await produce(t, ['before']);
    const p = await init(`tx-${t}`);
    expect(await addPartitions(p, t)).toBe(0);
    await produce(t, ['in'], p);
    const listed = await client.send('ListTransactions', 1, {
      stateFilters: ['Ongoing', 'Nonsense'],
      producerIdFilters: [p.producerId],
      durationFilter: -1n,
    });
    expect(listed.unknownStateFilters).toEqual(['Nonsense']);
    expect(listed.transactionStates).toEqual([
      expect.objectContaining({
        transactionalId: p.id,
        producerId: p.producerId,
        transactionState: 'Ongoing',
      }),
    ]);
    const described = await client.send('DescribeTransactions', 0, { transactionalIds: [p.id, `none-${t}`] });
    expect(described.transactionStates[0]).toMatchObject({
      errorCode: 0,
      transactionState: 'Ongoing',
      producerId: p.producerId,
      topics: [{ topic: t, partitions: [0] }],
    });
    expect(described.transactionStates[1]!.errorCode).toBe(ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
    const producers = await client.send('DescribeProducers', 0, {
      topics: [{ name: t, partitionIndexes: [0] }],
    });
    expect(producers.topics[0]!.partitions[0]!.activeProducers).toEqual([
      expect.objectContaining({ producerId: p.producerId, currentTxnStartOffset: 1n }),
    ]);
    const metrics = brokerMetrics(b.broker);
    try {
      const open = await metrics.render();
      expect(open).toContain(`kch_partition_last_stable_offset_lag{topic="${t}",partition="0"} 1`);
      expect(open).toMatch(/^kch_transactions_open [1-9]/m);
      expect(await endTxn(p, false)).toBe(0);
      await stable(t);
      const ended = await metrics.render();
      expect(ended).not.toContain(`kch_partition_last_stable_offset_lag{topic="${t}"`);
      expect(ended).toContain('kch_transactions_ended_total{outcome="abort",reason="client"} 1');
    } finally {
      metrics.close();
    }
  });
});

describe('WriteTxnMarkers (kafka-transactions.sh abort)', () => {
  const writeMarkers = (producerId: bigint, producerEpoch: number, t: string, commit = false) =>
    client.send('WriteTxnMarkers', 1, {
      markers: [
        {
          producerId,
          producerEpoch,
          transactionResult: commit,
          coordinatorEpoch: 0,
          topics: [{ name: t, partitionIndexes: [0] }],
        },
      ],
    });

  it('aborts an open transaction through its coordinator, fencing its producer', async () => {
    const t = await topic();
    const p = await init(`tx-${t}`);
    expect(await addPartitions(p, t)).toBe(0);
    await produce(t, ['hanging'], p);
    const r = await writeMarkers(p.producerId, p.epoch, t);
    expect(r.markers[0]!.topics[0]!.partitions[0]!.errorCode).toBe(0);
    await stable(t);
    expect((await fetch(t, 0)).seen).toEqual([[1, 'ABORT']]);
    expect(await endTxn(p, true)).toBe(ErrorCode.PRODUCER_FENCED);
  });

  it('writes a marker of a producer no coordinator holds, at its own offset; an older epoch is refused', async () => {
    const t = await topic();
    await produce(t, ['plain']);
    const r = await writeMarkers(987_654n, 3, t, true);
    expect(r.markers[0]!.topics[0]!.partitions[0]!.errorCode).toBe(0);
    expect((await fetch(t, 1)).seen).toEqual([
      [0, 'plain'],
      [1, 'COMMIT'],
    ]);
    const older = await writeMarkers(987_654n, 2, t);
    expect(older.markers[0]!.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
  });
});

describe('transactions over a storage without them', () => {
  it('refuses FindCoordinator for transactional ids, saying why', async () => {
    // A storage that keeps no transactions (a plugin written before them): the same storage, without.
    const storage = testStorage();
    const without = new Proxy(storage, {
      get: (target, key) => (key === 'transactions' ? undefined : Reflect.get(target, key, target)),
    });
    const other = await startBroker({ storage: without });
    const c = await RawClient.connect(other.host, other.port);
    try {
      const r = await c.send('FindCoordinator', 3, { key: 'tx', keyType: 1 });
      expect(r.errorCode).toBe(ErrorCode.INVALID_REQUEST);
      expect(r.errorMessage).toMatch(/Transactions are not supported by this kch broker's storage/);
      const init = await c.send('InitProducerId', 4, { transactionalId: 'tx', transactionTimeoutMs: 60_000 });
      expect(init.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    } finally {
      c.close();
      await other.close();
    }
  });
});
