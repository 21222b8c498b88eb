import { join } from 'node:path';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './client-helpers.js';
import { brokerArgs, metric, type RunningKch, runKch, startKch } from './kch-process.js';
import { tempDirs } from './temp-dirs.js';

const tempDir = tempDirs();

function kafkaOf(kch: RunningKch): Kafka {
  return new Kafka({
    clientId: 'cli-chdb-test',
    brokers: [kch.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  });
}

const TOKEN = 'test-admin-token';

describe('kch broker on embedded ClickHouse, and kch sql', () => {
  let kch: RunningKch;

  beforeAll(async () => {
    const dir = tempDir('kch-cli-chdb-');
    kch = await startKch(
      brokerArgs(`chdb:${dir}`, '--admin-token', TOKEN, '--chdb-setting', 'background_pool_size=3'),
    );
    const producer = kafkaOf(kch).producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({
      topic: 'orders',
      acks: -1,
      messages: Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 4}`, value: `order ${i}` })),
    });
    await producer.disconnect();
  });

  afterAll(async () => {
    await kch?.stop('SIGKILL');
  });

  const sql = (args: string[], input?: string) =>
    runKch(['sql', '--admin-url', kch.adminUrl!, '--token', TOKEN, ...args], input ? { input } : {});

  it('prints where the data lives and how to query it', () => {
    expect(kch.stdout()).toMatch(
      /storage {3}embedded ClickHouse \(chdb\) in .*kch-cli-chdb-.*, database kafka/,
    );
    expect(kch.stdout()).toContain(`kch sql --admin-url ${kch.adminUrl} --token <token> 'SELECT`);
  });

  it('hands --chdb-setting to the embedded engine', async () => {
    const r = await sql(["SELECT value FROM system.server_settings WHERE name = 'background_pool_size'"]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('3\n');
  });

  it('returns the rows of a produced topic, TabSeparated by default', async () => {
    const r = await sql(['SELECT partition, offset, key, value FROM kafka.orders ORDER BY offset']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(20);
    expect(lines[0]).toBe('0\t0\tk0\torder 0');
    expect(lines[19]).toBe('0\t19\tk3\torder 19');
  });

  it('returns other formats, and reads the query from stdin', async () => {
    const json = await sql([
      '--format',
      'JSONEachRow',
      'SELECT key, count() AS n FROM kafka.orders GROUP BY key ORDER BY key',
    ]);
    expect(json.code).toBe(0);
    expect(
      json.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { key: 'k0', n: 5 },
      { key: 'k1', n: 5 },
      { key: 'k2', n: 5 },
      { key: 'k3', n: 5 },
    ]);
    const stdin = await sql([], 'SELECT count() FROM kafka.orders');
    expect(stdin.code).toBe(0);
    expect(stdin.stdout).toBe('20\n');
  });

  it('exits 1 with ClickHouse message for a bad query, and for a wrong token', async () => {
    const bad = await sql(['SELECT nope FROM kafka.orders']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/UNKNOWN_IDENTIFIER/);
    const noToken = await runKch(['sql', '--admin-url', kch.adminUrl!, 'SELECT 1']);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain('the broker wants its admin token');
    const raw = await fetch(`${kch.adminUrl}/sql`, {
      method: 'POST',
      body: 'SELECT 1',
      headers: { authorization: 'Bearer wrong-token-here' },
    });
    expect(raw.status).toBe(401);
  });

  it('is healthy, and exports storage flush metrics', async () => {
    const health = await fetch(`${kch.adminUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', storage: expect.stringContaining('chdb') });
    const text = await (await fetch(`${kch.adminUrl}/metrics`)).text();
    expect(metric(text, 'kch_storage_flushes_total{kind="records",outcome="ok"}')).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'kch_storage_flush_rows_sum{kind="records"}')).toBe(20);
    expect(metric(text, 'kch_storage_flush_bytes_sum{kind="records"}')).toBeGreaterThan(0);
    expect(metric(text, 'kch_storage_flush_duration_seconds_count{kind="records"}')).toBeGreaterThanOrEqual(
      1,
    );
  });

  it('exits 0 on SIGTERM', async () => {
    const { code } = await kch.stop('SIGTERM');
    expect(code).toBe(0);
  });
});

describe('kch sql without a broker', () => {
  it('says nothing answers, and exits 69', async () => {
    const port = await freePort();
    const r = await runKch(['sql', '--admin-url', `http://127.0.0.1:${port}`, 'SELECT 1']);
    expect(r.code).toBe(69);
    expect(r.stderr).toContain(`no broker answers at http://127.0.0.1:${port} (connection refused)`);
  });
});

describe('kch with no command', () => {
  it('runs a broker on embedded ClickHouse in ./kch-data', async () => {
    const cwd = tempDir('kch-cli-default-');
    const kch = await startKch([], { cwd, env: { KCH_PORT: '0', KCH_ADMIN_PORT: '0' } });
    try {
      expect(kch.stdout()).toContain(
        `storage   embedded ClickHouse (chdb) in ${join(cwd, 'kch-data')}, database kafka`,
      );
    } finally {
      const exit = await kch.stop('SIGINT');
      expect(exit, kch.stderr()).toEqual({ code: 0, signal: null });
    }
  });
});

describe('graceful shutdown', () => {
  it('loses no acknowledged record when SIGTERM arrives with production in flight', async () => {
    const dir = tempDir('kch-cli-shutdown-');
    const args = ['broker', '--port', '0', '--admin-port', '0', '--storage', `chdb:${dir}`];
    let kch = await startKch(args);
    const kafka = kafkaOf(kch);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'ledger', numPartitions: 1 }] });
    await admin.disconnect();

    const producers: Producer[] = [];
    for (let i = 0; i < 4; i++) {
      const p = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, retry: { retries: 0 } });
      await p.connect();
      producers.push(p);
    }
    const acked: { baseOffset: number; values: string[] }[] = [];
    let seq = 0;
    let failed = 0;
    let signalled = false;
    let ackedAfterSignal = 0;
    const loops = producers.map(async (p) => {
      for (;;) {
        const values = Array.from({ length: 25 }, () => `record-${seq++}`);
        try {
          const [meta] = await p.send({
            topic: 'ledger',
            acks: -1,
            messages: values.map((value) => ({ value })),
          });
          if (meta!.errorCode !== 0) throw new Error(`error code ${meta!.errorCode}`);
          acked.push({ baseOffset: Number(meta!.baseOffset), values });
          if (signalled) ackedAfterSignal++;
        } catch {
          failed++;
          return; // the broker is gone
        }
      }
    });
    while (acked.length < 40) await new Promise((r) => setTimeout(r, 5));
    signalled = true;
    const exit = await kch.stop('SIGTERM');
    await Promise.all(loops);
    await Promise.allSettled(producers.map((p) => p.disconnect()));
    expect(exit, kch.stderr()).toEqual({ code: 0, signal: null });
    expect(failed).toBe(producers.length);

    // The same data directory, a new process: every acknowledged record is at its offset.
    kch = await startKch(args);
    try {
      const res = await fetch(`${kch.adminUrl}/sql?format=JSONEachRow`, {
        method: 'POST',
        body: 'SELECT offset, value FROM kafka.ledger ORDER BY offset',
      });
      expect(res.status).toBe(200);
      const rows = (await res.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { offset: number | string; value: string });
      // Offsets are dense from 0.
      expect(rows.map((r) => Number(r.offset))).toEqual(rows.map((_, i) => i));
      let checked = 0;
      for (const a of acked) {
        a.values.forEach((v, i) => {
          expect(rows[a.baseOffset + i]?.value).toBe(v);
          checked++;
        });
      }
      expect(checked).toBe(acked.length * 25);
      // The log goes on densely after the restart.
      const producer = kafkaOf(kch).producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      const [meta] = await producer.send({
        topic: 'ledger',
        acks: -1,
        messages: [{ value: 'after restart' }],
      });
      await producer.disconnect();
      expect(Number(meta!.baseOffset)).toBe(rows.length);
      console.log(
        `graceful shutdown: ${acked.length} produce requests acknowledged (${ackedAfterSignal} after SIGTERM), ${rows.length} records stored`,
      );
    } finally {
      expect((await kch.stop('SIGTERM')).code).toBe(0);
    }
  });
});
