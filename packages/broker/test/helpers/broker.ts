import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Broker, type BrokerOptionsInput, createBroker, silentLogger } from '@kch/broker';
import { RawClient } from '@kch/kafka-connection';
import { clickhouseStorage, memoryStorage, type Storage } from '@kch/storage';

export interface RunningBroker {
  broker: Broker;
  host: string;
  port: number;
  /** host:port, for clients' bootstrap servers. */
  bootstrap: string;
  close(): Promise<void>;
}

/**
 * The storage tests run on: memory, or embedded ClickHouse when KCH_TEST_STORAGE=chdb (the "chdb"
 * vitest project). chdb allows one data directory per process, so every broker of a test file shares
 * one directory, each in a database of its own.
 */
export const TEST_STORAGE = process.env.KCH_TEST_STORAGE === 'chdb' ? 'chdb' : 'memory';
let chdbDir: string | undefined;
let databases = 0;

export function testStorage(): Storage {
  return testStorageIn(`kch_test_${++databases}`);
}

/** The test storage over `database` (chdb; memory storages share nothing): open it again to restart a broker. */
export function testStorageIn(database: string): Storage {
  if (TEST_STORAGE === 'memory') return memoryStorage();
  chdbDir ??= mkdtempSync(join(tmpdir(), 'kch-test-chdb-'));
  return clickhouseStorage({ chdb: chdbDir, database });
}

/** Starts a broker on a free loopback port, on the test storage unless another is given. */
export async function startBroker(options: Partial<BrokerOptionsInput> = {}): Promise<RunningBroker> {
  const broker = await createBroker({
    storage: testStorage(),
    logger: process.env.KCH_TEST_LOG ? undefined : silentLogger,
    groupInitialRebalanceDelayMs: 0,
    ...options,
  });
  const { host, port } = await broker.listen({ host: '127.0.0.1', port: 0 });
  return { broker, host, port, bootstrap: `${host}:${port}`, close: () => broker.close() };
}

/**
 * A broker on embedded ClickHouse in `dir` (one database of it) and a raw client connected to it: start
 * it again on the same directory to restart it.
 */
export async function startChdbBroker(dir: string, database: string) {
  const broker = await createBroker({
    storage: clickhouseStorage({ chdb: dir, database }),
    logger: silentLogger,
  });
  const { port } = await broker.listen({ host: '127.0.0.1', port: 0 });
  const client = await RawClient.connect('127.0.0.1', port);
  return {
    client,
    async stop() {
      client.close();
      await broker.close();
    },
  };
}
