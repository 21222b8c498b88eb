/**
 * Brokers over one ClickHouse server database: the first serves, a second refuses to start (with and
 * without Keeper, until partition leadership moves between brokers), and one that stopped cleanly
 * makes way at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Broker, createBroker, silentLogger } from '@kch/broker';
import { clickhouseStorage } from '@kch/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpShim, startHttpShim } from '../../storage/test/clickhouse-http-shim.js';
import { useKeeperClickHouse } from '../../storage/test/keeper-clickhouse.js';
import { zookeeperRequirement } from '../../storage/test/zookeeper.js';
import { skipEachUnless } from './helpers/skip.js';

async function broker(url: string, database: string): Promise<Broker> {
  return createBroker({ storage: clickhouseStorage({ url, database }), logger: silentLogger });
}

describe('brokers on a ClickHouse without Keeper', () => {
  let dir: string;
  let shim: HttpShim;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kch-cluster-guard-'));
    shim = await startHttpShim(dir);
  });
  afterAll(async () => {
    await shim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a second broker on the database, names the first, and admits one once the first stopped', async () => {
    const first = await broker(shim.url, 'guard_a');
    const { port } = await first.listen({ host: '127.0.0.1', port: 0 });
    const second = await broker(shim.url, 'guard_a');
    await expect(second.listen({ host: '127.0.0.1', port: 0 })).rejects.toThrow(
      `another kch broker (node.id 1 at 127.0.0.1:${port}) serves ClickHouse at ${shim.url}, database guard_a, and this ClickHouse has no Keeper`,
    );
    expect(second.listeningOn).toBeUndefined();
    await second.close();
    await first.close();
    const third = await broker(shim.url, 'guard_a');
    await third.listen({ host: '127.0.0.1', port: 0 });
    await third.close();
  });
});

describe('brokers on a ClickHouse with Keeper', () => {
  const zookeeper = zookeeperRequirement();
  skipEachUnless(zookeeper);
  const keeper = useKeeperClickHouse(zookeeper.available, '/kch_guard');

  it('refuses a second live broker until leadership moves between brokers, and admits one after', async () => {
    const first = await broker(keeper.server.url, 'guard_k');
    const { port } = await first.listen({ host: '127.0.0.1', port: 0 });
    const second = await broker(keeper.server.url, 'guard_k');
    await expect(second.listen({ host: '127.0.0.1', port: 0 })).rejects.toThrow(
      `node.id 1 is in use by a live broker at 127.0.0.1:${port}`,
    );
    await second.close();
    const other = await createBroker({
      storage: clickhouseStorage({ url: keeper.server.url, database: 'guard_k' }),
      logger: silentLogger,
      nodeId: 2,
    });
    await expect(other.listen({ host: '127.0.0.1', port: 0 })).rejects.toThrow(
      `another kch broker (node.id 1 at 127.0.0.1:${port}) serves this database, and this kch serves a database from one broker at a time: stop that broker first`,
    );
    await other.close();
    await first.close();
    const next = await broker(keeper.server.url, 'guard_k');
    await next.listen({ host: '127.0.0.1', port: 0 });
    await next.close();
  });
});
