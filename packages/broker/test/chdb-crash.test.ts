/**
 * Acknowledged means durable: a broker on embedded ClickHouse is killed with SIGKILL while a producer
 * writes with acks=all; after a restart on the same data directory every acknowledged record is there,
 * at its offset, and offsets are dense.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBroker, silentLogger } from '@kch/broker';
import { RawClient } from '@kch/kafka-connection';
import { decodeBatch, encodeRecordBatchSync, splitBatches } from '@kch/protocol';
import { clickhouseStorage } from '@kch/storage';
import { describe, expect, it } from 'vitest';
import { startChdbChild } from './helpers/chdb-child.js';

describe('crash', () => {
  it('keeps every record acknowledged before a SIGKILL, at its offset, with dense offsets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kch-crash-'));
    const database = 'crash';
    const { child, port } = await startChdbChild(dir, database);
    const client = await RawClient.connect('127.0.0.1', port);
    const created = await client.send('CreateTopics', 7, {
      topics: [{ name: 'durable', numPartitions: 2, replicationFactor: 1 }],
    });
    expect(created.topics[0]!.errorCode).toBe(0);

    const acked = new Map<string, { partition: number; offset: bigint }>();
    let sent = 0;
    let killed = false;
    const producing = (async () => {
      // Several produce requests in flight at once, as a real producer pipelines them.
      for (let round = 0; !killed && round < 10_000; round++) {
        const inFlight = [0, 1, 2, 3].map(async (slot) => {
          const partition = slot % 2;
          const values = Array.from({ length: 5 }, () => `v${sent++}`);
          const records = encodeRecordBatchSync({
            records: values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: BigInt(Date.now()) })),
          });
          try {
            const r = await client.send('Produce', 9, {
              acks: -1,
              timeoutMs: 5000,
              topicData: [{ name: 'durable', partitionData: [{ index: partition, records }] }],
            });
            const p = r.responses[0]!.partitionResponses[0]!;
            if (p.errorCode === 0) {
              for (const [i, v] of values.entries())
                acked.set(v, { partition, offset: p.baseOffset + BigInt(i) });
            }
          } catch {
            // the connection died with the broker: these were never acknowledged
          }
        });
        await Promise.all(inFlight);
      }
    })();
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGKILL');
    killed = true;
    await producing;
    client.close();
    await new Promise((r) => child.once('close', r));
    expect(acked.size).toBeGreaterThan(20);

    // Restart on the same data directory, in this process.
    const broker = await createBroker({
      storage: clickhouseStorage({ chdb: dir, database }),
      logger: silentLogger,
    });
    const { port: port2 } = await broker.listen({ host: '127.0.0.1', port: 0 });
    const reader = await RawClient.connect('127.0.0.1', port2);
    try {
      const found = new Map<string, { partition: number; offset: bigint }>();
      for (const partition of [0, 1]) {
        const r = await reader.send('Fetch', 12, {
          replicaId: -1,
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 1 << 28,
          topics: [
            { topic: 'durable', partitions: [{ partition, fetchOffset: 0n, partitionMaxBytes: 1 << 28 }] },
          ],
        });
        const p = r.responses[0]!.partitions[0]!;
        expect(p.errorCode).toBe(0);
        let expected = 0n;
        for (const batch of splitBatches(p.records!).batches) {
          const { header, records } = await decodeBatch(batch);
          for (const rec of records) {
            const offset = header.baseOffset + BigInt(rec.offsetDelta);
            expect(offset).toBe(expected); // dense
            expected++;
            found.set(rec.value!.toString(), { partition, offset });
          }
        }
        expect(p.highWatermark).toBe(expected);
      }
      for (const [value, where] of acked) expect(found.get(value), value).toEqual(where);
    } finally {
      reader.close();
      await broker.close();
    }
  }, 120_000);
});
