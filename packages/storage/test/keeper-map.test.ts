/**
 * KeeperMap tables on shared ClickHouses (./shared-clickhouse.ts) whose Keeper is a real ZooKeeper
 * (./zookeeper.ts), through ClickHouse's HTTP interface with settings as request parameters, as the
 * storage sends them. KeeperMap is how brokers on different ClickHouse replicas can coordinate: a
 * strict-mode write is a compare-and-set in ZooKeeper, and every ClickHouse on the same ZooKeeper and
 * path prefix sees the same rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipEachUnless } from '../../broker/test/helpers/skip.js';
import { type SharedClickHouse, startSharedClickHouse } from './shared-clickhouse.js';
import { startZooKeeper, type ZooKeeper, zookeeperRequirement } from './zookeeper.js';

interface Answer {
  status: number;
  /** X-ClickHouse-Exception-Code as a number; null on success. */
  code: number | null;
  text: string;
}

/** Runs `statement` on the ClickHouse at `url`, with `settings` as request parameters. */
async function sql(url: string, statement: string, settings: Record<string, string> = {}): Promise<Answer> {
  const r = await fetch(`${url}/?${new URLSearchParams(settings)}`, { method: 'POST', body: statement });
  const code = r.headers.get('X-ClickHouse-Exception-Code');
  return { status: r.status, code: code === null ? null : Number(code), text: await r.text() };
}

/** Runs `statement`, failing the test with ClickHouse's message unless it succeeds; its output. */
async function ok(url: string, statement: string, settings?: Record<string, string>): Promise<string> {
  const a = await sql(url, statement, settings);
  expect(a, statement).toMatchObject({ status: 200, code: null });
  return a.text;
}

const STRICT = { keeper_map_strict_mode: '1' };
const TABLE = "(k String, v UInt64) ENGINE = KeeperMap('/kv') PRIMARY KEY k";

describe('KeeperMap on shared ClickHouses with ZooKeeper as their Keeper', () => {
  const zookeeper = zookeeperRequirement();
  skipEachUnless(zookeeper);
  let zk: ZooKeeper | undefined;
  // Two servers, each its own process and data directory, on the same ZooKeeper and path prefix: two
  // replicas as far as KeeperMap goes.
  let a: SharedClickHouse | undefined;
  let b: SharedClickHouse | undefined;
  const url = (s: SharedClickHouse | undefined) => s!.url;

  beforeAll(async () => {
    if (!zookeeper.available) return;
    zk = await startZooKeeper();
    const options = { zookeeper: zk.connectString, keeperPrefix: '/kch_test' };
    const started = await Promise.allSettled([
      startSharedClickHouse(options),
      startSharedClickHouse(options),
    ]);
    [a, b] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    for (const s of [a, b]) {
      await ok(url(s), 'CREATE DATABASE kch');
      await ok(url(s), `CREATE TABLE kch.kv ${TABLE}`);
    }
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await zk?.stop();
  });

  it('creates a KeeperMap table, which takes rows', async () => {
    await ok(url(a), "INSERT INTO kch.kv VALUES ('created', 1)", STRICT);
    expect(await ok(url(a), "SELECT v FROM kch.kv WHERE k = 'created'")).toBe('1\n');
  });

  it('refuses a strict-mode insert of a key that exists, with KEEPER_EXCEPTION (999)', async () => {
    await ok(url(a), "INSERT INTO kch.kv VALUES ('taken', 1)", STRICT);
    const again = await sql(url(a), "INSERT INTO kch.kv VALUES ('taken', 2)", STRICT);
    expect(again).toMatchObject({ status: 500, code: 999 });
    expect(again.text).toMatch(/Node exists/);
    expect(await ok(url(a), "SELECT v FROM kch.kv WHERE k = 'taken'")).toBe('1\n');
  });

  it('updates a row in strict mode only while it holds the value the update expects', async () => {
    await ok(url(a), "INSERT INTO kch.kv VALUES ('cas', 1)", STRICT);
    // Expects 5, finds 1: nothing changes.
    await ok(url(a), "ALTER TABLE kch.kv UPDATE v = 2 WHERE k = 'cas' AND v = 5", STRICT);
    expect(await ok(url(a), "SELECT v FROM kch.kv WHERE k = 'cas'")).toBe('1\n');
    // Expects 1, finds 1: set to 2.
    await ok(url(a), "ALTER TABLE kch.kv UPDATE v = 2 WHERE k = 'cas' AND v = 1", STRICT);
    expect(await ok(url(a), "SELECT v FROM kch.kv WHERE k = 'cas'")).toBe('2\n');
  });

  it("shows each server the other's rows, and refuses a key the other took", async () => {
    await ok(url(a), "INSERT INTO kch.kv VALUES ('from-a', 10)", STRICT);
    await ok(url(b), "INSERT INTO kch.kv VALUES ('from-b', 20)", STRICT);
    const both = "SELECT k, v FROM kch.kv WHERE k IN ('from-a', 'from-b') ORDER BY k";
    expect(await ok(url(a), both)).toBe('from-a\t10\nfrom-b\t20\n');
    expect(await ok(url(b), both)).toBe('from-a\t10\nfrom-b\t20\n');
    expect(await sql(url(b), "INSERT INTO kch.kv VALUES ('from-a', 11)", STRICT)).toMatchObject({
      code: 999,
    });
    await ok(url(b), "ALTER TABLE kch.kv UPDATE v = 12 WHERE k = 'from-a' AND v = 10", STRICT);
    expect(await ok(url(a), "SELECT v FROM kch.kv WHERE k = 'from-a'")).toBe('12\n');
  });
});

describe('KeeperMap on a shared ClickHouse without a Keeper', () => {
  let c: SharedClickHouse | undefined;
  beforeAll(async () => {
    c = await startSharedClickHouse({});
  });
  afterAll(async () => {
    await c?.stop();
  });

  it('refuses a KeeperMap table, saying keeper_map_path_prefix is not set (BAD_ARGUMENTS, 36)', async () => {
    const created = await sql(c!.url, `CREATE TABLE default.kv ${TABLE}`);
    expect(created).toMatchObject({ status: 500, code: 36 });
    expect(created.text).toMatch(/keeper_map_path_prefix/);
  });
});
