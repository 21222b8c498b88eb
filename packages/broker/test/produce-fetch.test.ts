/**
 * Produce and Fetch semantics at the byte level, through a raw client over TCP: idempotence (duplicates,
 * gaps, fencing), per-record errors, size and CRC checks, LogAppendTime, acks=0, legacy message sets,
 * storage failures, and long polling.
 */

import { RawClient } from '@kch/kafka-connection';
import {
  CompressionType,
  decodeBatch,
  ErrorCode,
  encodeMessageSet,
  encodeRecordBatchSync,
  type RecordInput,
  splitBatches,
  TimestampType,
} from '@kch/protocol';
import { memoryStorage, type Storage, StorageError } from '@kch/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBroker, startBroker } from './helpers/broker.js';

let b: RunningBroker;
let client: RawClient;

beforeAll(async () => {
  b = await startBroker();
  client = await RawClient.connect(b.host, b.port);
});

afterAll(async () => {
  client?.close();
  await b?.close();
});

const records = (n: number, prefix = 'r', key: string | null = 'k'): RecordInput[] =>
  Array.from({ length: n }, (_, i) => ({
    key: key === null ? null : Buffer.from(`${key}${i}`),
    value: Buffer.from(`${prefix}${i}`),
    timestamp: BigInt(Date.now()),
  }));

interface BatchOptions {
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  compression?: CompressionType;
}

const batch = (recs: RecordInput[], o: BatchOptions = {}) =>
  encodeRecordBatchSync({
    records: recs,
    producerId: o.producerId ?? -1n,
    producerEpoch: o.producerEpoch ?? -1,
    baseSequence: o.baseSequence ?? -1,
    compression: o.compression,
  });

async function createTopic(
  name: string,
  configs: Record<string, string> = {},
  partitions = 1,
): Promise<void> {
  const r = await client.send('CreateTopics', 7, {
    topics: [
      {
        name,
        numPartitions: partitions,
        replicationFactor: -1,
        configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
      },
    ],
    timeoutMs: 5000,
  });
  expect(r.topics[0]!.errorCode).toBe(0);
}

async function produce(topic: string, recordsBytes: Buffer, version = 9, acks = -1) {
  const r = await client.send('Produce', version, {
    acks,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records: recordsBytes }] }],
  });
  return r.responses[0]!.partitionResponses[0]!;
}

async function endOffset(topic: string): Promise<bigint> {
  const r = await client.send('ListOffsets', 7, {
    replicaId: -1,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -1n }] }],
  });
  return r.topics[0]!.partitions[0]!.offset;
}

async function fetchAll(topic: string, offset = 0n, maxWaitMs = 0) {
  const r = await client.send('Fetch', 12, {
    replicaId: -1,
    maxWaitMs,
    minBytes: 1,
    maxBytes: 1 << 24,
    isolationLevel: 0,
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 1 << 24 }] }],
  });
  const p = r.responses[0]!.partitions[0]!;
  const decoded = [];
  for (const bytes of splitBatches(p.records ?? Buffer.alloc(0)).batches)
    decoded.push(await decodeBatch(bytes));
  return { partition: p, batches: decoded };
}

describe('idempotent produce', () => {
  it('acknowledges a retried batch with its original offset, rejects gaps, fences old epochs', async () => {
    await createTopic('idem');
    const init = await client.send('InitProducerId', 4, {
      transactionalId: null,
      transactionTimeoutMs: 60000,
    });
    expect(init.errorCode).toBe(0);
    const pid = init.producerId;
    const first = batch(records(3), { producerId: pid, producerEpoch: 0, baseSequence: 0 });
    expect(await produce('idem', Buffer.from(first))).toMatchObject({ errorCode: 0, baseOffset: 0n });
    // The same batch again (a retry): the original offset, nothing appended.
    expect(await produce('idem', Buffer.from(first))).toMatchObject({ errorCode: 0, baseOffset: 0n });
    expect(await endOffset('idem')).toBe(3n);
    const second = batch(records(2), { producerId: pid, producerEpoch: 0, baseSequence: 3 });
    expect(await produce('idem', second)).toMatchObject({ errorCode: 0, baseOffset: 3n });
    // A gap in the sequence.
    const gap = batch(records(1), { producerId: pid, producerEpoch: 0, baseSequence: 9 });
    expect((await produce('idem', gap)).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    // A new epoch starts at sequence 0; the old epoch is then fenced.
    const bumped = batch(records(1), { producerId: pid, producerEpoch: 1, baseSequence: 0 });
    expect(await produce('idem', bumped)).toMatchObject({ errorCode: 0, baseOffset: 5n });
    const stale = batch(records(1), { producerId: pid, producerEpoch: 0, baseSequence: 5 });
    expect((await produce('idem', stale)).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect(await endOffset('idem')).toBe(6n);
    const described = await client.send('DescribeProducers', 0, {
      topics: [{ name: 'idem', partitionIndexes: [0] }],
    });
    expect(described.topics[0]!.partitions[0]!.activeProducers).toEqual([
      expect.objectContaining({ producerId: pid, producerEpoch: 1, lastSequence: 0 }),
    ]);
  });

  it('hands out a new producer id each time', async () => {
    const a = await client.send('InitProducerId', 4, { transactionalId: null, transactionTimeoutMs: 1000 });
    const c = await client.send('InitProducerId', 4, { transactionalId: null, transactionTimeoutMs: 1000 });
    expect(a.producerId).not.toBe(c.producerId);
  });
});

describe('produce validation', () => {
  it('rejects a record without a key on a compacted topic, naming the record, and appends nothing', async () => {
    await createTopic('compacted', { 'cleanup.policy': 'compact' });
    const recs = records(3);
    recs[1] = { ...recs[1]!, key: null };
    const r = await produce('compacted', batch(recs));
    expect(r.errorCode).toBe(ErrorCode.INVALID_RECORD);
    expect(r.recordErrors).toEqual([
      { batchIndex: 1, batchIndexErrorMessage: expect.stringContaining('key') },
    ]);
    expect(r.errorMessage).toMatch(/without a key/);
    expect(await endOffset('compacted')).toBe(0n);
  });

  it('rejects a batch over max.message.bytes with MESSAGE_TOO_LARGE', async () => {
    await createTopic('small', { 'max.message.bytes': '200' });
    const r = await produce('small', batch(records(20, 'x'.repeat(50))));
    expect(r.errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect(await endOffset('small')).toBe(0n);
  });

  it('rejects a batch whose CRC does not match with CORRUPT_MESSAGE', async () => {
    await createTopic('crc');
    const bytes = Buffer.from(batch(records(2)));
    bytes[bytes.length - 1]! ^= 0xff;
    expect((await produce('crc', bytes)).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
  });

  it('answers unknown topics, bad acks and zstd on old versions with Kafka error codes', async () => {
    expect((await produce('no-such-topic', batch(records(1)))).errorCode).toBe(
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    );
    await createTopic('acks');
    expect((await produce('acks', batch(records(1)), 9, 2)).errorCode).toBe(ErrorCode.INVALID_REQUIRED_ACKS);
    const zstd = await (await import('@kch/protocol')).encodeRecordBatch({
      records: records(2),
      compression: CompressionType.Zstd,
    });
    expect((await produce('acks', zstd, 6)).errorCode).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    expect((await produce('acks', zstd, 7)).errorCode).toBe(0);
  });
});

describe('timestamps and acks', () => {
  it('stamps batches with the broker time on LogAppendTime topics', async () => {
    await createTopic('append-time', { 'message.timestamp.type': 'LogAppendTime' });
    const before = Date.now();
    const r = await produce('append-time', batch(records(2)));
    expect(r.errorCode).toBe(0);
    expect(Number(r.logAppendTimeMs)).toBeGreaterThanOrEqual(before);
    const { batches } = await fetchAll('append-time');
    expect(batches[0]!.header.timestampType).toBe(TimestampType.LogAppendTime);
    expect(batches[0]!.header.maxTimestamp).toBe(r.logAppendTimeMs);
  });

  it('appends with acks=0 and sends no response', async () => {
    await createTopic('acks0');
    client.sendOnly('Produce', 9, {
      acks: 0,
      timeoutMs: 1000,
      topicData: [{ name: 'acks0', partitionData: [{ index: 0, records: batch(records(4)) }] }],
    });
    // The next request on the connection is answered after it, in order.
    expect(await endOffset('acks0')).toBe(4n);
  });
});

describe('legacy message sets', () => {
  it('accepts Produce v2 with magic 1 (gzip) and serves it back as a v2 batch', async () => {
    await createTopic('legacy');
    const set = encodeMessageSet({
      magic: 1,
      compression: CompressionType.Gzip,
      messages: [
        { key: Buffer.from('a'), value: Buffer.from('one'), timestamp: 1_700_000_000_000n },
        { key: null, value: Buffer.from('two'), timestamp: 1_700_000_000_001n },
      ],
    });
    const r = await produce('legacy', set, 2);
    expect(r).toMatchObject({ errorCode: 0, baseOffset: 0n });
    const { batches } = await fetchAll('legacy');
    expect(batches).toHaveLength(1);
    expect(batches[0]!.records.map((x) => [x.key?.toString() ?? null, x.value?.toString()])).toEqual([
      ['a', 'one'],
      [null, 'two'],
    ]);
  });
});

describe('fetch', () => {
  it('long-polls until records arrive', async () => {
    await createTopic('poll');
    const other = await RawClient.connect(b.host, b.port);
    const waiting = (async () => {
      const r = await other.send('Fetch', 12, {
        replicaId: -1,
        maxWaitMs: 60_000,
        minBytes: 1,
        maxBytes: 1 << 20,
        topics: [
          { topic: 'poll', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] },
        ],
      });
      return r.responses[0]!.partitions[0]!;
    })();
    await new Promise((r) => setTimeout(r, 100));
    await produce('poll', batch(records(2)));
    // Without a wake-up this would wait the full minute and the test would time out.
    const p = await waiting;
    other.close();
    expect(p.highWatermark).toBe(2n);
    expect(p.records!.length).toBeGreaterThan(0);
  }, 20_000);

  it('fetches by topic id from v13, and answers an unknown id with UNKNOWN_TOPIC_ID', async () => {
    await createTopic('by-id');
    await produce('by-id', batch(records(3)));
    const meta = await client.send('Metadata', 12, {
      topics: [{ name: 'by-id' }],
      allowAutoTopicCreation: false,
    });
    const topicId = meta.topics[0]!.topicId;
    expect(topicId).not.toBe('AAAAAAAAAAAAAAAAAAAAAA');
    const fetchById = (id: string) =>
      client.send('Fetch', 13, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1 << 20,
        topics: [
          { topicId: id, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] },
        ],
      });
    const r = await fetchById(topicId);
    expect(r.responses[0]!.topicId).toBe(topicId);
    expect((await decodeBatch(r.responses[0]!.partitions[0]!.records!)).records).toHaveLength(3);
    const unknown = await fetchById('AAAAAAAAAAAAAAAAAAAAAQ');
    expect(unknown.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_ID);
  });

  it('returns a whole first batch even when it is larger than maxBytes, and OFFSET_OUT_OF_RANGE past the end', async () => {
    await createTopic('big');
    await produce('big', batch(records(50, 'y'.repeat(100))));
    const r = await client.send('Fetch', 12, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 10,
      topics: [{ topic: 'big', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 10 }] }],
    });
    const p = r.responses[0]!.partitions[0]!;
    expect((await decodeBatch(p.records!)).records).toHaveLength(50);
    expect((await fetchAll('big', 51n)).partition.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
  });
});

/** A storage whose appends fail while `failing` is set: what a ClickHouse outage looks like to the broker. */
function flakyStorage(): Storage & { failing: boolean } {
  const inner = memoryStorage();
  const flaky = Object.create(inner) as Storage & { failing: boolean };
  flaky.failing = false;
  flaky.append = async (tp, batches) => {
    if (flaky.failing) throw new StorageError('UNAVAILABLE', 'storage is down for this test');
    return inner.append(tp, batches);
  };
  return flaky;
}

describe('storage failures', () => {
  it('answer a retriable error, leave no gap, and recover when storage is back', async () => {
    const storage = flakyStorage();
    const fb = await startBroker({ storage });
    const c = await RawClient.connect(fb.host, fb.port);
    try {
      await c.send('CreateTopics', 7, {
        topics: [{ name: 'flaky', numPartitions: 1, replicationFactor: 1 }],
      });
      const send = (n: number) =>
        c.send('Produce', 9, {
          acks: -1,
          timeoutMs: 1000,
          topicData: [{ name: 'flaky', partitionData: [{ index: 0, records: batch(records(n)) }] }],
        });
      expect((await send(2)).responses[0]!.partitionResponses[0]!.baseOffset).toBe(0n);
      storage.failing = true;
      const failed = (await send(3)).responses[0]!.partitionResponses[0]!;
      expect(failed.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
      expect(failed.errorMessage).toMatch(/storage is down/);
      storage.failing = false;
      expect((await send(1)).responses[0]!.partitionResponses[0]!.baseOffset).toBe(2n);
    } finally {
      c.close();
      await fb.close();
    }
  });
});
