/**
 * The ClusterStore on KeeperMap: two ClickHouse processes (two replicas, as far as Keeper goes) on one
 * ZooKeeper, each with a storage over the same database, must agree as the contract says; and must
 * never hand out the same producer id.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { skipEachUnless } from '../../broker/test/helpers/skip.js';
import { type ClickHouseStorage, clickhouseStorage, StorageError } from '../src/index.js';
import { runClusterStoreContract } from '../src/testing/cluster.js';
import { type SharedClickHouse, startSharedClickHouse } from './shared-clickhouse.js';
import { startZooKeeper, type ZooKeeper, zookeeperRequirement } from './zookeeper.js';

const zookeeper = zookeeperRequirement();
let zk: ZooKeeper | undefined;
let servers: SharedClickHouse[] = [];
let storages: ClickHouseStorage[] = [];

beforeAll(async () => {
  if (!zookeeper.available) return;
  zk = await startZooKeeper();
  const options = { zookeeper: zk.connectString, keeperPrefix: '/kch_cluster_test' };
  servers = await Promise.all([startSharedClickHouse(options), startSharedClickHouse(options)]);
  storages = servers.map((s) => clickhouseStorage({ url: s.url, database: 'kch_cluster' }));
  for (const s of storages) await s.open();
}, 120_000);

afterAll(async () => {
  for (const s of storages) await s.close();
  await Promise.all(servers.map((s) => s.stop()));
  await zk?.stop();
});

describe('a ClickHouse with Keeper', () => {
  skipEachUnless(zookeeper);
  it('gives its storage a cluster store for many brokers', () => {
    expect(storages.map((s) => s.cluster?.manyBrokers)).toEqual([true, true]);
  });
});

describe('KeeperMap cluster store', () => {
  skipEachUnless(zookeeper);
  runClusterStoreContract('keeper', async () => [storages[0]!.cluster!, storages[1]!.cluster!]);
});

describe('producer ids of brokers sharing a database through Keeper', () => {
  skipEachUnless(zookeeper);
  let database = 0;
  let opened: ClickHouseStorage[] = [];
  afterEach(async () => {
    for (const s of opened) await s.close();
    opened = [];
  });

  /**
   * A storage over `db` on each of `on`, with small blocks: most allocations then reserve a block, so
   * the storages' reservations race.
   */
  async function pair(db: string, on: SharedClickHouse[]): Promise<ClickHouseStorage[]> {
    const pair = on.map((s) => clickhouseStorage({ url: s.url, database: db, producerIdBlockSize: 3 }));
    opened.push(...pair);
    for (const s of pair) await s.open();
    return pair;
  }

  /**
   * One id, asked again after a retriable failure as a client asks InitProducerId again: under a
   * loaded CI, ClickHouse's Keeper session may be lost for a moment ("Connection loss"), which the
   * storage reports as a retriable UNAVAILABLE; what the tests assert is which ids are handed out.
   */
  async function allocate(s: ClickHouseStorage): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await s.allocateProducerId();
      } catch (e) {
        if (!(e instanceof StorageError && e.retriable) || attempt === 5) throw e;
      }
    }
  }

  /** `count` ids from each storage, all asked for at once. */
  async function allocateAll(pair: ClickHouseStorage[], count: number): Promise<number[]> {
    const calls = pair.flatMap((s) => Array.from({ length: count }, () => allocate(s)));
    return Promise.all(calls);
  }

  async function tableEnd(s: ClickHouseStorage, db: string): Promise<number> {
    return Number((await s.query(`SELECT max(block_end) FROM ${db}._kch_producer_ids`)).toString());
  }

  // Two brokers on one server, and two on two servers (replicas, as far as Keeper goes).
  const placements: [string, () => SharedClickHouse[]][] = [
    ['one ClickHouse', () => [servers[0]!, servers[0]!]],
    ['two ClickHouses', () => servers],
  ];
  for (const [where, on] of placements) {
    it(`are disjoint when two storages on ${where} allocate at once, and go on above them after a restart`, async () => {
      const db = `kch_pids_${database++}`;
      const ids = await allocateAll(await pair(db, on()), 40);
      expect(new Set(ids).size).toBe(ids.length);
      // The table, which a single broker would go on from, is ahead of every id its broker handed out.
      for (const [i, s] of opened.entries()) {
        const own = ids.slice(i * 40, (i + 1) * 40);
        expect(await tableEnd(s, db)).toBeGreaterThan(Math.max(...own));
      }
      for (const s of opened) await s.close();
      opened = [];
      const after = await allocateAll(await pair(db, on()), 5);
      expect(new Set(after).size).toBe(after.length);
      expect(Math.min(...after)).toBeGreaterThan(Math.max(...ids));
    });
  }

  it('start above the ids a single broker handed out before the database had Keeper', async () => {
    const db = `kch_pids_${database++}`;
    // One server: the table is per server (MergeTree), Keeper's counter is what servers share.
    const [first] = await pair(db, [servers[0]!, servers[0]!]);
    // What a broker on this database without Keeper leaves behind: the end of its last block.
    await first!.query(`INSERT INTO ${db}._kch_producer_ids (block_end) VALUES (5000)`);
    const ids = await allocateAll(opened, 10);
    expect(new Set(ids).size).toBe(ids.length);
    expect(Math.min(...ids)).toBeGreaterThanOrEqual(5000);
  });
});
