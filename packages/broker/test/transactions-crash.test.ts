/**
 * Transactions survive SIGKILL: a broker on embedded ClickHouse is killed with one transaction open
 * and another whose commit was acknowledged but none of whose markers were written (the child holds
 * every marker insert, then is killed). After a restart on the same data directory, the acknowledged
 * commit completes (its records readable by read_committed consumers and rows of the topic's table),
 * and the open transaction stays invisible until its producer initialises again, which aborts it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBroker, silentLogger } from '@kch/broker';
import { RawClient } from '@kch/kafka-connection';
import { decodeBatch, ErrorCode, encodeRecordBatchSync, splitBatches } from '@kch/protocol';
import { type ClickHouseStorage, clickhouseStorage } from '@kch/storage';
import { describe, expect, it } from 'vitest';
import { startChdbChild } from './helpers/chdb-child.js';

async function ok<T extends { errorCode: number }>(p: Promise<T>): Promise<T> {
  const r = await p;
  expect(r.errorCode).toBe(ErrorCode.NONE);
  return r;
}

/** Begins a transaction of `id` on `topic`'s partitions and writes one record to each. */
async function transaction(client: RawClient, id: string, topic: string, partitions: number[]) {
  const init = await ok(
    client.send('InitProducerId', 4, { transactionalId: id, transactionTimeoutMs: 600_000 }),
  );
  const added = await client.send('AddPartitionsToTxn', 3, {
    v3AndBelowTransactionalId: id,
    v3AndBelowProducerId: init.producerId,
    v3AndBelowProducerEpoch: init.producerEpoch,
    v3AndBelowTopics: [{ name: topic, partitions }],
  });
  for (const r of added.resultsByTopicV3AndBelow[0]!.resultsByPartition) expect(r.partitionErrorCode).toBe(0);
  for (const partition of partitions) {
    const records = encodeRecordBatchSync({
      records: [{ key: null, value: Buffer.from(`${id}-${partition}`), timestamp: BigInt(Date.now()) }],
      producerId: init.producerId,
      producerEpoch: init.producerEpoch,
      baseSequence: 0,
      isTransactional: true,
    });
    const r = await client.send('Produce', 9, {
      transactionalId: id,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
    });
    expect(r.responses[0]!.partitionResponses[0]!.errorCode).toBe(0);
  }
  return init;
}

/** The values a read_committed Fetch returns from the start of a partition, and its stable end. */
async function committedValues(client: RawClient, topic: string, partition: number) {
  const r = await client.send('Fetch', 12, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 24,
    isolationLevel: 1,
    topics: [{ topic, partitions: [{ partition, fetchOffset: 0n, partitionMaxBytes: 1 << 24 }] }],
  });
  const p = r.responses[0]!.partitions[0]!;
  const values: string[] = [];
  for (const bytes of splitBatches(p.records ?? Buffer.alloc(0)).batches) {
    const b = await decodeBatch(bytes);
    if (!b.header.isControl) for (const rec of b.records) values.push(rec.value!.toString());
  }
  return { values, lastStable: p.lastStableOffset, end: p.highWatermark };
}

describe('transactions and SIGKILL', () => {
  it('completes an acknowledged commit after a restart, and keeps an open transaction out until it is aborted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kch-txn-crash-'));
    const database = 'txn_crash';
    const { child, port } = await startChdbChild(dir, database, { KCH_TEST_HOLD_MARKERS: '1' });
    const client = await RawClient.connect('127.0.0.1', port);
    const created = await client.send('CreateTopics', 7, {
      topics: [
        { name: 'acked', numPartitions: 2, replicationFactor: 1 },
        { name: 'open', numPartitions: 1, replicationFactor: 1 },
      ],
    });
    for (const t of created.topics) expect(t.errorCode).toBe(0);
    const committing = await transaction(client, 'tx-acked', 'acked', [0, 1]);
    await transaction(client, 'tx-open', 'open', [0]);
    const end = await client.send('EndTxn', 3, {
      transactionalId: 'tx-acked',
      producerId: committing.producerId,
      producerEpoch: committing.producerEpoch,
      committed: true,
    });
    // Acknowledged: the commit is decided. Its markers hang in this broker, which is killed now.
    expect(end.errorCode).toBe(0);
    expect(await committedValues(client, 'acked', 0)).toMatchObject({ values: [], lastStable: 0n, end: 1n });
    child.kill('SIGKILL');
    client.close();
    await new Promise((r) => child.once('close', r));

    const storage = clickhouseStorage({ chdb: dir, database }) as ClickHouseStorage;
    const broker = await createBroker({ storage, logger: silentLogger });
    const { port: port2 } = await broker.listen({ host: '127.0.0.1', port: 0 });
    const reader = await RawClient.connect('127.0.0.1', port2);
    const rows = async (table: string) =>
      Number((await storage.query(`SELECT count() FROM ${database}.${table}`)).toString().trim());
    try {
      // The restarted coordinator writes the markers of the decided commit.
      for (const partition of [0, 1]) {
        let read = await committedValues(reader, 'acked', partition);
        for (let i = 0; i < 200 && read.lastStable < read.end; i++) {
          await new Promise((r) => setTimeout(r, 25));
          read = await committedValues(reader, 'acked', partition);
        }
        expect(read.values).toEqual([`tx-acked-${partition}`]);
        expect(read.lastStable).toBe(read.end);
      }
      expect(await rows('acked')).toBe(2);
      // The open transaction: not readable, not a row, until its producer starts again.
      const open = await committedValues(reader, 'open', 0);
      expect(open).toMatchObject({ values: [], lastStable: 0n, end: 1n });
      expect(await rows('open')).toBe(0);
      let init = await reader.send('InitProducerId', 4, {
        transactionalId: 'tx-open',
        transactionTimeoutMs: 600_000,
      });
      for (let i = 0; i < 200 && init.errorCode === ErrorCode.CONCURRENT_TRANSACTIONS; i++) {
        await new Promise((r) => setTimeout(r, 25));
        init = await reader.send('InitProducerId', 4, {
          transactionalId: 'tx-open',
          transactionTimeoutMs: 600_000,
        });
      }
      expect(init.errorCode).toBe(0);
      const aborted = await committedValues(reader, 'open', 0);
      expect(aborted).toMatchObject({ values: [], lastStable: 2n, end: 2n });
      expect(await rows('open')).toBe(0);
    } finally {
      reader.close();
      await broker.close();
    }
  }, 120_000);
});
