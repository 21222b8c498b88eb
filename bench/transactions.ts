/**
 * The `transactions` group: what a commit costs. On each storage and value size, librdkafka produces
 * the same number of records into two topics of one broker: idempotent (enable.idempotence, acks=all,
 * the produce phases' batching), then transactional, in transactions of TRANSACTION_SIZE records
 * (begin, produce, commit_transaction, which flushes the last records and sends EndTxn). The
 * transactional figures include every commit's wait; commit latency is reported on its own. On chdb,
 * the topic's table must then hold exactly the records produced (every transaction committed: the
 * COMMIT markers copied them there).
 */
import type { ClientOut } from './lib/children.js';
import type { Bench } from './lib/context.js';
import { createTopic, endOffsets, RawClient } from './lib/raw-client.js';
import type { TransactionRun } from './lib/results.js';
import { MiB, percentiles } from './lib/stats.js';

/** Records per transaction, as the scenario asks (1,000 records per transaction). */
export const TRANSACTION_SIZE = 1_000;

/** Records per run: a quarter of the produce phases' (each transaction waits for its commit). */
const runCount = (bench: Bench, size: number) => Math.round(bench.plan.count(size) / 4);

export async function transactionsGroup(bench: Bench): Promise<void> {
  const { args, results, log } = bench;
  const runs: TransactionRun[] = [];
  results.transactions = { perTransaction: TRANSACTION_SIZE, runs };
  for (const storage of args.storages) {
    for (const size of args.sizes) {
      log(
        `transactions: librdkafka idempotent, then in transactions of ${TRANSACTION_SIZE}, ${storage}, ${size} B values`,
      );
      const dir = storage === 'chdb' ? bench.newDataDir() : undefined;
      const { b } = await bench.startBroker(storage, `broker-transactions-${storage}-${size}B`, dir);
      const admin = await RawClient.connect('127.0.0.1', b.port);
      const count = runCount(bench, size);
      try {
        for (const mode of ['idempotent', 'transactional'] as const) {
          const topic = `${mode}-${size}`;
          await createTopic(admin, topic, args.partitions);
          const common = { bootstrap: `127.0.0.1:${b.port}`, topic, size, pool: bench.pool(size), count };
          const r = await bench.phase(b, `${mode}-rdkafka-${storage}-${size}B`, () =>
            mode === 'idempotent'
              ? bench.rdkafka({
                  ...common,
                  mode: 'produce',
                  sample_every: 64,
                  config: { 'enable.idempotence': true },
                })
              : bench.rdkafka({ ...common, mode: 'txn', transaction_size: TRANSACTION_SIZE }),
          );
          const out = r.value as ClientOut & { commit_ms?: number[]; transactions?: number };
          const offsets = await endOffsets(admin, topic, args.partitions);
          const ends = offsets.reduce((a, x) => a + x, 0);
          const rows =
            storage === 'chdb'
              ? (await b.call<{ count: number }>('sql-count', { table: topic })).count
              : null;
          if (rows !== null && rows !== out.records)
            results.errors.push(
              `transactions ${mode} ${size}: the table holds ${rows} rows, ${out.records} were produced`,
            );
          runs.push({
            storage,
            size,
            mode,
            records: out.records,
            seconds: Math.round(out.seconds * 1000) / 1000,
            recordsPerSec: Math.round(out.records / out.seconds),
            valueMiBPerSec: Math.round(((out.records * size) / MiB / out.seconds) * 10) / 10,
            transactions: out.transactions ?? 0,
            // Markers take offsets: the log's end is past the records by one marker per transaction
            // and partition written to.
            logEnd: ends,
            tableRows: rows,
            ackMs: percentiles(out.latencies_ms ?? []),
            commitMs: percentiles(out.commit_ms ?? []),
            broker: r.broker,
          });
        }
      } catch (e) {
        results.errors.push(`transactions ${storage} ${size}: ${(e as Error).stack ?? e}\n${b.lastStderr}`);
      } finally {
        admin.close();
        await b.close();
      }
    }
  }
}
