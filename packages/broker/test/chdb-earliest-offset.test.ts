/**
 * A consumer new to a partition asks for its earliest offset (ListOffsets EARLIEST, auto.offset.reset
 * earliest) while a producer writes the partition's first record, on embedded ClickHouse: the answer
 * must not be past that record. It was, when ClickHouse answered the query for the first row from
 * before the insert and the answer arrived after it: the empty table then looked as if retention had
 * removed the record, and the consumer never read it (a librdkafka group in groups-long-run.test.ts
 * once waited in vain for the first record of a new topic).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Broker, createBroker, silentLogger } from '@kch/broker';
import { RawClient } from '@kch/kafka-connection';
import { decodeBatch, encodeRecordBatchSync, splitBatches } from '@kch/protocol';
import { type ClickHouseTransport, clickhouseStorage } from '@kch/storage';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'kch-earliest-'));
const opened: { close(): void }[] = [];
let broker: Broker | undefined;

afterAll(async () => {
  for (const c of opened) c.close();
  await broker?.close();
});

/** The query for a partition's first row (the storage's statements.ts firstOffsetFrom). */
const FIRST_ROW = 'toInt64(ifNull(toInt64(minOrNull(';

/** Holds the answer of the next query for a partition's first row until `release`. */
class FirstRowGate {
  private armed: { seen: () => void; release: Promise<void> } | undefined;

  /** Arms the gate; resolves once the query ran (on the table as it was), with the release. */
  arm(): { ran: Promise<void>; release: () => void } {
    let seen!: () => void;
    let release!: () => void;
    const ran = new Promise<void>((r) => {
      seen = r;
    });
    this.armed = { seen, release: new Promise<void>((r) => (release = r)) };
    return { ran, release };
  }

  readonly wrap = (inner: ClickHouseTransport): ClickHouseTransport => ({
    location: inner.location,
    remote: inner.remote,
    rawBytes: inner.rawBytes,
    command: (q, settings) => inner.command(q, settings),
    selectBytes: async (q, settings) => {
      const result = await inner.selectBytes(q, settings);
      const armed = this.armed;
      if (armed && q.includes(FIRST_ROW)) {
        this.armed = undefined;
        armed.seen();
        await armed.release;
      }
      return result;
    },
    insertBytes: (table, columns, chunks, options) => inner.insertBytes(table, columns, chunks, options),
    close: () => inner.close(),
  });
}

async function connect(port: number): Promise<RawClient> {
  const c = await RawClient.connect('127.0.0.1', port);
  opened.push(c);
  return c;
}

describe('ListOffsets EARLIEST on embedded ClickHouse beside a producer', () => {
  it("answers a new partition's first record, stored while its earliest offset was being found, and Fetch returns it", async () => {
    const gate = new FirstRowGate();
    broker = await createBroker({
      storage: clickhouseStorage({ chdb: dir, database: 'earliest', wrapTransport: gate.wrap }),
      logger: silentLogger,
    });
    const { port } = await broker.listen({ host: '127.0.0.1', port: 0 });
    // The consumer and the producer on connections of their own: a connection answers in order.
    const consumer = await connect(port);
    const producer = await connect(port);
    await producer.send('CreateTopics', 7, {
      topics: [{ name: 'fresh', numPartitions: 1, replicationFactor: 1 }],
    });
    // The partition is opened first (ListOffsets LATEST): its recovery reads stored rows too.
    const latest = await consumer.send('ListOffsets', 7, {
      replicaId: -1,
      topics: [{ name: 'fresh', partitions: [{ partitionIndex: 0, timestamp: -1n }] }],
    });
    expect(latest.topics[0]!.partitions[0]).toMatchObject({ errorCode: 0, offset: 0n });
    const { ran, release } = gate.arm();
    const earliest = consumer.send('ListOffsets', 7, {
      replicaId: -1,
      topics: [{ name: 'fresh', partitions: [{ partitionIndex: 0, timestamp: -2n }] }],
    });
    await ran;
    const produced = await producer.send('Produce', 9, {
      acks: -1,
      timeoutMs: 5000,
      topicData: [
        {
          name: 'fresh',
          partitionData: [
            {
              index: 0,
              records: encodeRecordBatchSync({
                records: [{ value: Buffer.from('first'), timestamp: Date.now() }],
              }),
            },
          ],
        },
      ],
    });
    expect(produced.responses[0]!.partitionResponses[0]).toMatchObject({ errorCode: 0, baseOffset: 0n });
    release();
    expect((await earliest).topics[0]!.partitions[0]).toMatchObject({ errorCode: 0, offset: 0n });
    const fetched = await consumer.send('Fetch', 12, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      topics: [
        { topic: 'fresh', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] },
      ],
    });
    const p = fetched.responses[0]!.partitions[0]!;
    expect(p).toMatchObject({ errorCode: 0, logStartOffset: 0n, highWatermark: 1n });
    const values = [];
    for (const bytes of splitBatches(p.records ?? Buffer.alloc(0)).batches)
      for (const r of (await decodeBatch(bytes)).records) values.push(r.value?.toString());
    expect(values).toEqual(['first']);
  });
});
