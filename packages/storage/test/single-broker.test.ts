/**
 * A ClickHouse server without Keeper serves one broker per database: the lease of ./single-broker.ts,
 * tested against chdb behind the HTTP stand-in (no Keeper configured).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClickHouseStorage, clickhouseStorage } from '../src/index.js';
import { type HttpShim, startHttpShim } from './clickhouse-http-shim.js';

const endpoints = (port: number) => [
  { listener: 'PLAINTEXT', host: '127.0.0.1', port, securityProtocol: 'PLAINTEXT' },
];
const member = (nodeId: number, port: number) => ({
  nodeId,
  instance: randomUUID(),
  rack: null,
  endpoints: endpoints(port),
});

describe('one broker per database on a ClickHouse without Keeper', () => {
  let dir: string;
  let shim: HttpShim;
  const storages: ClickHouseStorage[] = [];
  const open = async (database: string) => {
    const s = clickhouseStorage({ url: shim.url, database });
    await s.open();
    storages.push(s);
    return s;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kch-single-broker-'));
    shim = await startHttpShim(dir);
  });
  afterAll(async () => {
    for (const s of storages) await s.close();
    await shim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has a store that admits one broker, and says so', async () => {
    const s = await open('single_a');
    expect(s.cluster?.manyBrokers).toBe(false);
  });

  it('refuses a second broker while the first holds its lease, naming it and what to do', async () => {
    const [a, b] = [await open('single_b'), await open('single_b')];
    const first = member(1, 9101);
    await a.cluster!.register(first, 60_000);
    await expect(b.cluster!.register(member(2, 9102), 60_000)).rejects.toThrow(
      /another kch broker \(node\.id 1 at 127\.0\.0\.1:9101\) serves ClickHouse at .*, database single_b, and this ClickHouse has no Keeper, so only one broker may: stop that broker, or give ClickHouse a Keeper/,
    );
    // The same node id too: a renewed lease is a live broker, not an earlier life of this one.
    const renewing = setInterval(() => void a.cluster!.renew(1, first.instance, 1_500), 200);
    try {
      await expect(b.cluster!.register(member(1, 9102), 60_000)).rejects.toThrow(
        'another kch broker (node.id 1',
      );
    } finally {
      clearInterval(renewing);
    }
    await a.cluster!.leave(1, first.instance);
    expect(await b.cluster!.register(member(2, 9102), 60_000)).toBe(2);
  });

  it('lets a broker restarted after a crash start once the lease of its earlier life expires', async () => {
    const [a, b] = [await open('single_c'), await open('single_c')];
    await a.cluster!.register(member(3, 9103), 1_000);
    // The earlier life never renews (it crashed): the new one waits out the lease, then starts.
    expect(await b.cluster!.register(member(3, 9104), 60_000)).toBe(3);
  });

  it('keeps databases apart: a broker on another database is not a second broker', async () => {
    const [a, b] = [await open('single_d'), await open('single_e')];
    await a.cluster!.register(member(1, 9105), 60_000);
    expect(await b.cluster!.register(member(1, 9106), 60_000)).toBe(1);
  });

  it('settles two brokers starting at once: exactly one is admitted, every time', async () => {
    // Several rounds, each on a database of its own: a race lost by luck once must not pass.
    for (let round = 0; round < 5; round++) {
      const [a, b] = [await open(`single_f${round}`), await open(`single_f${round}`)];
      const results = await Promise.allSettled([
        a.cluster!.register(member(1, 9107), 60_000),
        b.cluster!.register(member(2, 9108), 60_000),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    }
  });
});
