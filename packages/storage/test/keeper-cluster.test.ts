/**
 * The ClusterStore on KeeperMap: two ClickHouse processes (two replicas, as far as Keeper goes) on one
 * ZooKeeper, each with a storage over the same database, must agree as the contract says.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipEachUnless } from '../../broker/test/helpers/skip.js';
import { type ClickHouseStorage, clickhouseStorage } from '../src/index.js';
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
