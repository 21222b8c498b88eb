/**
 * A ZooKeeper and one ClickHouse process that uses it as its Keeper, for one describe block: started
 * before its tests (when ZooKeeper is installed: otherwise the tests skip, see zookeeperRequirement)
 * and stopped after them. Brokers in the block share the server's databases as brokers of one cluster.
 */
import { afterAll, beforeAll } from 'vitest';
import { type SharedClickHouse, startSharedClickHouse } from './shared-clickhouse.js';
import { startZooKeeper, type ZooKeeper } from './zookeeper.js';

export interface KeeperClickHouse {
  /** The running server; only inside the block's tests. */
  readonly server: SharedClickHouse;
}

export function useKeeperClickHouse(
  available: boolean,
  keeperPrefix: string,
  timeoutMs = 120_000,
): KeeperClickHouse {
  let zk: ZooKeeper | undefined;
  let server: SharedClickHouse | undefined;
  beforeAll(async () => {
    if (!available) return;
    zk = await startZooKeeper();
    server = await startSharedClickHouse({ zookeeper: zk.connectString, keeperPrefix });
  }, timeoutMs);
  afterAll(async () => {
    await server?.stop();
    await zk?.stop();
  });
  return {
    get server(): SharedClickHouse {
      if (!server)
        throw new Error('no ClickHouse with Keeper: ZooKeeper is missing, or the block has not started');
      return server;
    },
  };
}
