/**
 * Throughput of the ClickHouse storage on embedded ClickHouse (chdb): appends of 100-byte records and
 * reading them back. Run from the repository root:
 *
 *   npx tsx --conditions=source packages/storage/scripts/bench-clickhouse.ts [records] [batchSize] [partitions] [batchesPerAppend]
 *
 * Defaults: 1,000,000 records in batches of 1,000 over 8 partitions, one batch per append. Each
 * partition appends as soon as its previous append is stored (as a broker's partition log does, which
 * hands storage every batch that arrived meanwhile in one append), and group commit merges the
 * partitions' appends into shared inserts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecordBatchSync } from '@kch/protocol';
import { Session } from 'chdb';
import { clickhouseStorage, type StoredBatch } from '../src/index.js';

const total = Number(process.argv[2] ?? 1_000_000);
const batchSize = Number(process.argv[3] ?? 1000);
const partitions = Number(process.argv[4] ?? 8);
const perAppend = Number(process.argv[5] ?? 1);
const VALUE_BYTES = 100;

function makeBatch(baseOffset: number, count: number): StoredBatch {
  const ts = 1_700_000_000_000;
  const records = Array.from({ length: count }, (_, i) => ({
    key: Buffer.from(`key-${(baseOffset + i) % 1000}`),
    value: randomBytes(VALUE_BYTES / 2)
      .toString('hex')
      .slice(0, VALUE_BYTES) as unknown as Buffer,
    timestamp: ts + i,
  }));
  for (const r of records) r.value = Buffer.from(r.value as unknown as string);
  const bytes = encodeRecordBatchSync({ baseOffset: BigInt(baseOffset), baseTimestamp: BigInt(ts), records });
  return {
    baseOffset,
    lastOffset: baseOffset + count - 1,
    recordCount: count,
    baseTimestamp: ts,
    maxTimestamp: ts + count - 1,
    producerId: -1,
    producerEpoch: -1,
    baseSequence: -1,
    isTransactional: false,
    isControl: false,
    bytes,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kch-bench-'));
  const storage = clickhouseStorage({ chdb: dir });
  await storage.open();
  const topic = 'bench';
  await storage.createTopic({
    name: topic,
    topicId: 'bench',
    partitionCount: partitions,
    configs: {},
    createdAt: Date.now(),
  });
  const perPartition = Math.ceil(total / partitions / batchSize);
  // Batches are encoded before timing: the broker receives them encoded.
  const batches = Array.from({ length: partitions }, () =>
    Array.from({ length: perPartition }, (_, i) => makeBatch(i * batchSize, batchSize)),
  );
  for (let p = 0; p < partitions; p++) await storage.openPartition({ topic, partition: p });
  const records = partitions * perPartition * batchSize;
  const bytes = batches.flat().reduce((n, b) => n + b.bytes.length, 0);

  const t0 = performance.now();
  await Promise.all(
    batches.map(async (list, partition) => {
      for (let i = 0; i < list.length; i += perAppend) {
        await storage.append({ topic, partition }, list.slice(i, i + perAppend));
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  console.log(
    `append: ${records.toLocaleString()} records of ${VALUE_BYTES} B in batches of ${batchSize}, ${perAppend} per append, over ${partitions} partitions: ` +
      `${s.toFixed(2)} s, ${Math.round(records / s).toLocaleString()} records/s, ${(bytes / s / 1e6).toFixed(1)} MB/s of batches`,
  );

  const readAll = async (label: string) => {
    const t = performance.now();
    let read = 0;
    let readBytes = 0;
    for (let p = 0; p < partitions; p++) {
      let offset = 0;
      for (;;) {
        const got = await storage.read({ topic, partition: p }, offset, 1024 * 1024);
        if (got.length === 0) break;
        for (const b of got) {
          read += b.recordCount;
          readBytes += b.bytes.length;
        }
        offset = got[got.length - 1]!.lastOffset + 1;
      }
    }
    const secs = (performance.now() - t) / 1000;
    console.log(
      `read back, ${label} (1 MiB reads, re-encoded batches): ${read.toLocaleString()} records in ${secs.toFixed(2)} s, ` +
        `${Math.round(read / secs).toLocaleString()} records/s, ${(readBytes / secs / 1e6).toFixed(1)} MB/s`,
    );
  };
  await readAll('right after the appends');
  // Older data, which is what consumers read from storage, has been merged into few parts.
  const sql = new Session(dir);
  await sql.queryAsync('OPTIMIZE TABLE kafka.bench FINAL');
  sql.close();
  await readAll('after OPTIMIZE FINAL');
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
}

await main();
