/**
 * A broker on embedded ClickHouse, restarted on the same data directory: offsets continue where they
 * were, committed group offsets and idempotent producer state survive, and the topic is a table that
 * plain SQL reads.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RawClient } from '@kch/kafka-connection';
import { encodeRecordBatchSync } from '@kch/protocol';
import { Session } from 'chdb';
import { describe, expect, it } from 'vitest';
import { startChdbBroker } from './helpers/broker.js';

const dir = mkdtempSync(join(tmpdir(), 'kch-restart-'));
const database = 'restart';

const start = () => startChdbBroker(dir, database);

const batch = (values: string[], producerId: bigint, baseSequence: number) =>
  encodeRecordBatchSync({
    producerId,
    producerEpoch: 0,
    baseSequence,
    records: values.map((v, i) => ({
      key: Buffer.from(`k${i}`),
      value: Buffer.from(v),
      timestamp: BigInt(Date.now()),
    })),
  });

describe('restart on embedded ClickHouse', () => {
  it('continues offsets, keeps group offsets and producer state, and reads back with SQL', async () => {
    const first = await start();
    await first.client.send('CreateTopics', 7, {
      topics: [{ name: 'orders', numPartitions: 1, replicationFactor: 1 }],
    });
    const { producerId } = await first.client.send('InitProducerId', 4, {
      transactionalId: null,
      transactionTimeoutMs: 1000,
    });
    const produce = (c: RawClient, records: Buffer) =>
      c.send('Produce', 9, {
        acks: -1,
        timeoutMs: 5000,
        topicData: [{ name: 'orders', partitionData: [{ index: 0, records }] }],
      });
    const last = batch(['c', 'd'], producerId, 2);
    expect(
      (await produce(first.client, batch(['a', 'b'], producerId, 0))).responses[0]!.partitionResponses[0]!
        .baseOffset,
    ).toBe(0n);
    expect(
      (await produce(first.client, Buffer.from(last))).responses[0]!.partitionResponses[0]!.baseOffset,
    ).toBe(2n);
    const commit = await first.client.send('OffsetCommit', 8, {
      groupId: 'billing',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      topics: [
        { name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 3n, committedMetadata: 'm' }] },
      ],
    });
    expect(commit.topics[0]!.partitions[0]!.errorCode).toBe(0);
    await first.stop();

    const second = await start();
    try {
      // A retry of the last batch from before the restart: recognised, not written again.
      const retried = await produce(second.client, Buffer.from(last));
      expect(retried.responses[0]!.partitionResponses[0]).toMatchObject({ errorCode: 0, baseOffset: 2n });
      const next = await produce(second.client, batch(['e'], producerId, 4));
      expect(next.responses[0]!.partitionResponses[0]).toMatchObject({ errorCode: 0, baseOffset: 4n });
      const gap = await produce(second.client, batch(['z'], producerId, 9));
      expect(gap.responses[0]!.partitionResponses[0]!.errorCode).toBe(45); // OUT_OF_ORDER_SEQUENCE_NUMBER
      const fetched = await second.client.send('OffsetFetch', 7, {
        groupId: 'billing',
        topics: [{ name: 'orders', partitionIndexes: [0] }],
      });
      expect(fetched.topics[0]!.partitions[0]).toMatchObject({
        committedOffset: 3n,
        metadata: 'm',
        errorCode: 0,
      });

      // The topic is a ClickHouse table: plain SQL sees every acknowledged record.
      const session = new Session(dir);
      const rows = (
        await session.queryAsync(
          `SELECT partition, offset, key, value FROM ${database}.orders ORDER BY offset`,
          {
            format: 'TabSeparated',
          },
        )
      )
        .bytes()
        .toString();
      expect(rows.trim().split('\n')).toEqual([
        '0\t0\tk0\ta',
        '0\t1\tk1\tb',
        '0\t2\tk0\tc',
        '0\t3\tk1\td',
        '0\t4\tk0\te',
      ]);
    } finally {
      await second.stop();
    }
  }, 120_000);

  it('answers a retriable error while ClickHouse refuses writes, and resumes without a gap', async () => {
    const b = await start();
    const session = new Session(dir);
    try {
      await b.client.send('CreateTopics', 7, {
        topics: [{ name: 'guarded', numPartitions: 1, replicationFactor: 1 }],
      });
      const produce = async (value: string) =>
        (
          await b.client.send('Produce', 9, {
            acks: -1,
            timeoutMs: 5000,
            topicData: [{ name: 'guarded', partitionData: [{ index: 0, records: batch([value], -1n, -1) }] }],
          })
        ).responses[0]!.partitionResponses[0]!;
      expect(await produce('before')).toMatchObject({ errorCode: 0, baseOffset: 0n });
      await session.queryAsync(`ALTER TABLE ${database}.guarded ADD CONSTRAINT refuse CHECK 0`);
      const refused = await produce('refused');
      expect(refused.errorCode).toBe(56); // KAFKA_STORAGE_ERROR, retriable
      expect(refused.errorMessage).toMatch(/retry/);
      await session.queryAsync(`ALTER TABLE ${database}.guarded DROP CONSTRAINT refuse`);
      expect(await produce('after')).toMatchObject({ errorCode: 0, baseOffset: 1n });
    } finally {
      await b.stop();
    }
  }, 120_000);

  it('moves the log start when retention removed records: ListOffsets earliest follows, older offsets are out of range', async () => {
    const b = await start();
    const session = new Session(dir);
    try {
      await b.client.send('CreateTopics', 7, {
        topics: [
          {
            name: 'expiring',
            numPartitions: 1,
            replicationFactor: 1,
            configs: [{ name: 'retention.ms', value: '60000' }],
          },
        ],
      });
      const produce = (value: string, timestamp: number) =>
        b.client.send('Produce', 9, {
          acks: -1,
          timeoutMs: 5000,
          topicData: [
            {
              name: 'expiring',
              partitionData: [
                {
                  index: 0,
                  records: encodeRecordBatchSync({
                    records: [{ value: Buffer.from(value), timestamp: BigInt(timestamp) }],
                  }),
                },
              ],
            },
          ],
        });
      const hourAgo = Date.now() - 3_600_000;
      await produce('old-1', hourAgo);
      await produce('old-2', hourAgo);
      await produce('fresh', Date.now());
      const earliest = async () =>
        (
          await b.client.send('ListOffsets', 7, {
            replicaId: -1,
            topics: [{ name: 'expiring', partitions: [{ partitionIndex: 0, timestamp: -2n }] }],
          })
        ).topics[0]!.partitions[0]!.offset;
      // The TTL drops rows already expired when they are written, and the rest at merges: make one happen.
      await session.queryAsync(`OPTIMIZE TABLE ${database}.expiring FINAL`);
      expect(await earliest()).toBe(2n);
      const fetchAt = async (offset: bigint) =>
        (
          await b.client.send('Fetch', 12, {
            replicaId: -1,
            maxWaitMs: 0,
            minBytes: 0,
            maxBytes: 1 << 20,
            topics: [
              {
                topic: 'expiring',
                partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 1 << 20 }],
              },
            ],
          })
        ).responses[0]!.partitions[0]!;
      expect((await fetchAt(0n)).errorCode).toBe(1); // OFFSET_OUT_OF_RANGE
      const fresh = await fetchAt(2n);
      expect(fresh).toMatchObject({ errorCode: 0, logStartOffset: 2n, highWatermark: 3n });
    } finally {
      await b.stop();
    }
  }, 120_000);
});
