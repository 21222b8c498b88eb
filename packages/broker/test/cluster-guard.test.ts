/**
 * Brokers over one ClickHouse server database. Without Keeper the first serves, a second refuses to
 * start, and one that stopped cleanly makes way at once; with Keeper, brokers join one cluster, each
 * under the node id given or the lowest free one.
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

  it('assigns each broker without a node id the lowest free one, and refuses a node id a live broker holds', async () => {
    const first = await broker(keeper.server.url, 'guard_k');
    const { port } = await first.listen({ host: '127.0.0.1', port: 0 });
    expect(first.config.nodeId).toBe(1);
    const second = await broker(keeper.server.url, 'guard_k');
    await second.listen({ host: '127.0.0.1', port: 0 });
    expect(second.config.nodeId).toBe(2);
    const taken = await createBroker({
      storage: clickhouseStorage({ url: keeper.server.url, database: 'guard_k' }),
      logger: silentLogger,
      nodeId: 1,
    });
    await expect(taken.listen({ host: '127.0.0.1', port: 0 })).rejects.toThrow(
      `node.id 1 is in use by a live broker at 127.0.0.1:${port}`,
    );
    expect(taken.listeningOn).toBeUndefined();
    await taken.close();
    // A clean stop frees its id at once: the next broker without one takes it.
    await first.close();
    const next = await broker(keeper.server.url, 'guard_k');
    await next.listen({ host: '127.0.0.1', port: 0 });
    expect(next.config.nodeId).toBe(1);
    await next.close();
    await second.close();
  });
});
