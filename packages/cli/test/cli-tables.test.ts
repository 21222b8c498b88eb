/**
 * The integration `tables` config, end to end: `kch broker --config` on embedded ClickHouse creates
 * the table (columns + kch's virtual columns), binds its topics, and keeps the `group_name` group at
 * the ends; records produced by a real client are typed rows at once, invalid ones are refused with
 * INVALID_RECORD, and a consumer reads the rows back as records.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OptionsError, resolveBrokerOptions } from '../src/options.js';
import { brokerArgs, type RunningKch, runKch, startKch } from './kch-process.js';

const dir = mkdtempSync(join(tmpdir(), 'kch-cli-tables-'));
const TABLES = [
  {
    name: 'shop.orders',
    columns: [
      { name: 'id', type: 'UInt64' },
      { name: 'customer', type: 'String' },
      { name: 'amount', type: 'Decimal(10, 2)' },
      { name: 'status', type: 'LowCardinality(String)', default: "'new'" },
    ],
    topics: 'orders,orders-eu',
    data_format: 'JSONEachRow',
    group_name: 'clickhouse-orders',
    partitions: 2,
  },
];

/** The first record a new consumer group reads from the beginning of `topic`, as `key=value`. */
async function firstRecord(kafka: Kafka, topic: string, groupId: string): Promise<string> {
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    return await new Promise<string>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => resolve(`${message.key}=${message.value}`),
      });
    });
  } finally {
    await consumer.disconnect();
  }
}

describe('the tables config', () => {
  let kch: RunningKch;
  const config = join(dir, 'kch.json');
  const args = brokerArgs(`chdb:${join(dir, 'data')}`, '--config', config);
  const sql = async (query: string) => {
    const r = await runKch(['sql', '--admin-url', kch.adminUrl!, query]);
    expect(r.stderr).toBe('');
    return r.stdout;
  };

  beforeAll(async () => {
    writeFileSync(config, JSON.stringify({ tables: TABLES }));
    kch = await startKch(args);
  });
  afterAll(async () => {
    await kch?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is checked when read, with messages that say where', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ tables: [{ name: 't', columns: [], topics: ['x'] }] }));
    expect(() => resolveBrokerOptions({ config: bad, storage: 'chdb:/tmp/x' }, {})).toThrow(OptionsError);
    expect(() => resolveBrokerOptions({ config: bad, storage: 'chdb:/tmp/x' }, {})).toThrow(
      /0\.columns: a table needs at least one column/,
    );
    writeFileSync(bad, JSON.stringify({ tables: TABLES }));
    expect(() => resolveBrokerOptions({ config: bad, storage: 'memory' }, {})).toThrow(
      /tables are ClickHouse tables: they need --storage chdb/,
    );
  });

  it('creates the table and binds its topics: records become typed rows, bad ones are refused', async () => {
    expect(
      await sql("SELECT name, type FROM system.columns WHERE database = 'shop' AND table = 'orders'"),
    ).toBe(
      [
        'id\tUInt64',
        'customer\tString',
        'amount\tDecimal(10, 2)',
        'status\tLowCardinality(String)',
        '_topic\tLowCardinality(String)',
        '_partition\tUInt32',
        '_offset\tUInt64',
        '_timestamp_ms\tDateTime64(3)',
        '_key\tNullable(String)',
        '_headers.name\tArray(String)',
        '_headers.value\tArray(String)',
        '_leader_epoch\tInt32',
        '',
      ].join('\n'),
    );
    const kafka = new Kafka({
      clientId: 'tables-test',
      brokers: [kch.bootstrap],
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({
        topic: 'orders',
        messages: [
          { partition: 0, key: 'o1', value: JSON.stringify({ id: 1, customer: 'ada', amount: '12.50' }) },
          {
            partition: 1,
            key: 'o2',
            value: JSON.stringify({ id: 2, customer: 'grace', amount: 7, status: 'paid' }),
          },
        ],
      });
      await producer.send({
        topic: 'orders-eu',
        messages: [
          { partition: 0, key: 'o3', value: JSON.stringify({ id: 3, customer: 'hedy', amount: 1.25 }) },
        ],
      });
      // Rows at once (the produce was acknowledged), with kch's columns filled and DEFAULTs applied.
      expect(
        await sql(
          'SELECT _topic, _partition, _offset, _key, id, customer, amount, status FROM shop.orders ORDER BY id',
        ),
      ).toBe(
        'orders\t0\t0\to1\t1\tada\t12.5\tnew\norders\t1\t0\to2\t2\tgrace\t7\tpaid\norders-eu\t0\t0\to3\t3\thedy\t1.25\tnew\n',
      );
      // A record that does not fit the table: the batch is refused, nothing is stored.
      const refused = await producer
        .send({
          topic: 'orders',
          messages: [{ partition: 0, value: JSON.stringify({ id: 'four', customer: 'x', amount: 1 }) }],
        })
        .then(
          () => null,
          (e: Error & { type?: string }) => e,
        );
      expect(refused?.type).toBe('INVALID_RECORD');
      expect(await sql('SELECT count() FROM shop.orders')).toBe('3\n');
    } finally {
      await producer.disconnect();
    }

    // Recent records come from the broker's memory as they were produced.
    expect(await firstRecord(kafka, 'orders-eu', 'reader')).toBe(
      'o3={"id":3,"customer":"hedy","amount":1.25}',
    );
  });

  it('serves records from the table after a restart: the rows re-serialized as JSON', async () => {
    await kch.stop();
    kch = await startKch(args);
    const kafka = new Kafka({
      clientId: 'tables-test',
      brokers: [kch.bootstrap],
      logLevel: logLevel.NOTHING,
    });
    // The row as ClickHouse writes it: every column of the table, DEFAULTs filled in.
    expect(await firstRecord(kafka, 'orders-eu', 'reader-after-restart')).toBe(
      'o3={"id":3,"customer":"hedy","amount":1.25,"status":"new"}',
    );
    // Offsets go on where they were.
    const producer = kafka.producer();
    await producer.connect();
    const [sent] = await producer.send({
      topic: 'orders-eu',
      messages: [{ partition: 0, value: JSON.stringify({ id: 4, customer: 'lin', amount: 2 }) }],
    });
    await producer.disconnect();
    expect(sent!.baseOffset).toBe('1');
  });

  it('keeps group_name at the ends of the topics (also after the restart): zero lag in kch groups describe', async () => {
    let described = '';
    for (let i = 0; i < 50; i++) {
      const r = await runKch(['groups', 'describe', 'clickhouse-orders', '-b', kch.bootstrap]);
      described = r.stdout;
      if (/orders-eu\s+0\s+2\s+2\s+0/.test(described)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(described).toMatch(/orders\s+0\s+1\s+1\s+0/);
    expect(described).toMatch(/orders\s+1\s+1\s+1\s+0/);
    expect(described).toMatch(/orders-eu\s+0\s+2\s+2\s+0/);
  });
});
