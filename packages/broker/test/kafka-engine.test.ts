/**
 * ClickHouse's Kafka table engine (librdkafka inside ClickHouse, here the embedded engine of chdb)
 * against kch, both ways: a `ENGINE = Kafka` table consumes a kch topic into a MergeTree through a
 * materialized view, in a consumer group whose committed offsets kch serves; an INSERT into a
 * `ENGINE = Kafka` table produces to kch.
 *
 * Broker and ClickHouse share this process: `Session.queryAsync` runs off the event loop, and the
 * Kafka engine's consumers and producers are ClickHouse threads, so the broker keeps serving them
 * while a query waits. Seen from kch, ClickHouse 26.7's librdkafka speaks ApiVersions v3, Metadata
 * v12, FindCoordinator v2, JoinGroup v5, SyncGroup v3, Heartbeat v3, OffsetFetch v9, ListOffsets v7,
 * Fetch v16, OffsetCommit v9 and Produce v10, with the classic group protocol.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawClient } from '@kch/kafka-connection';
import { CompressionType, compress, decodeBatch, decompress, splitBatches } from '@kch/protocol';
import { clickhouseStorage } from '@kch/storage';
import { Session } from 'chdb';
import {
  type Admin,
  AssignerProtocol,
  CompressionCodecs,
  CompressionTypes,
  Kafka,
  logLevel,
  type Producer,
} from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBroker, startBroker } from './helpers/broker.js';

// kafkajs ships gzip only and takes other codecs as plugins: these use kch's own codecs.
const plugin = (type: number) => () => ({
  compress: async (encoder: { buffer: Buffer }) => compress(type, encoder.buffer),
  decompress: async (buffer: Buffer) => decompress(type, buffer),
});
CompressionCodecs[CompressionTypes.LZ4] = plugin(CompressionType.Lz4);
CompressionCodecs[CompressionTypes.ZSTD] = plugin(CompressionType.Zstd);

let b: RunningBroker;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let raw: RawClient;
let dir: string;
let ch: Session;
/** Kafka engine tables (and their views) to drop before the broker closes, so their consumers stop. */
const cleanup: string[] = [];

async function sql(query: string): Promise<string> {
  return (await ch.queryAsync(query, { format: 'TabSeparated' })).text();
}

async function rows<T>(query: string): Promise<T[]> {
  const text = (await ch.queryAsync(query, { format: 'JSONEachRow' })).text();
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as T);
}

/** Polls `probe` until it returns a value `done` accepts, for at most `timeoutMs`; returns the last value. */
async function waitFor<T>(
  probe: () => Promise<T>,
  done: (v: T) => boolean,
  timeoutMs = 45_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (done(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** `ENGINE = Kafka` settings for this broker; small poll and flush intervals keep the tests quick. */
function kafkaEngine(
  topic: string,
  group: string,
  format: string,
  extra = '',
  brokers = b.bootstrap,
): string {
  return `ENGINE = Kafka SETTINGS kafka_broker_list = '${brokers}', kafka_topic_list = '${topic}',
    kafka_group_name = '${group}', kafka_format = '${format}', kafka_flush_interval_ms = 300,
    kafka_poll_timeout_ms = 100${extra}`;
}

async function committed(group: string, topic: string): Promise<Record<number, string>> {
  const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return Object.fromEntries(t!.partitions.map((p) => [p.partition, p.offset]));
}

async function endOffsets(topic: string): Promise<Record<number, string>> {
  return Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.high]));
}

/** Why a wait gave up: what ClickHouse's consumers say (errors from librdkafka land here). */
async function consumersState(table: string): Promise<string> {
  return sql(
    `SELECT consumer_id, assignments.partition_id, assignments.current_offset, exceptions.text, num_commits
     FROM system.kafka_consumers WHERE table = '${table}' FORMAT Vertical`,
  );
}

beforeAll(async () => {
  b = await startBroker();
  kafka = new Kafka({ clientId: 'kch-test', brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer();
  await producer.connect();
  raw = await RawClient.connect(b.host, b.port);
  dir = mkdtempSync(join(tmpdir(), 'kch-kafka-engine-'));
  ch = new Session(dir);
});

afterAll(async () => {
  // Kafka tables first: their consumers would otherwise keep polling a closed broker.
  for (const name of cleanup.reverse()) await sql(`DROP TABLE IF EXISTS ${name}`).catch(() => {});
  ch?.close();
  raw?.close();
  await producer?.disconnect();
  await admin?.disconnect();
  await b?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the ClickHouse Kafka engine consumes from kch', () => {
  it('streams a topic into a MergeTree through a materialized view; the group commits the end offsets', async () => {
    const topic = 'ke-orders';
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
    // Each partition in another codec: librdkafka decompresses what kch stored.
    const codecs = [CompressionTypes.GZIP, CompressionTypes.LZ4, CompressionTypes.ZSTD];
    const sent = new Map<string, { id: number; customer: string; amount: number }>();
    let id = 0;
    const produce = async (count: number) => {
      for (const [partition, compression] of codecs.entries()) {
        const messages = Array.from({ length: count }, () => {
          const order = { id: id++, customer: `c${id % 5}`, amount: id * 10 };
          return { partition, key: order.customer, value: JSON.stringify(order), headers: { source: 'kch' } };
        });
        const [r] = await producer.send({ topic, acks: -1, compression, messages });
        for (const [i, m] of messages.entries())
          sent.set(`${partition}:${BigInt(r!.baseOffset!) + BigInt(i)}`, JSON.parse(m.value));
      }
    };
    await produce(400);

    await sql(`CREATE TABLE orders_queue (id UInt64, customer String, amount Int64)
      ${kafkaEngine(topic, 'ch-orders', 'JSONEachRow')}`);
    cleanup.push('orders_queue');
    await sql(`CREATE TABLE orders (id UInt64, customer String, amount Int64, key String,
      partition UInt64, offset UInt64, header Array(String)) ENGINE = MergeTree ORDER BY (partition, offset)`);
    await sql(`CREATE MATERIALIZED VIEW orders_mv TO orders AS
      SELECT id, customer, amount, _key AS key, _partition AS partition, _offset AS offset,
             _headers.value AS header FROM orders_queue`);
    cleanup.push('orders_mv');

    const count = () => sql('SELECT count() FROM orders').then(Number);
    const arrived = await waitFor(count, (n) => n >= sent.size);
    expect(arrived, await consumersState('orders_queue')).toBe(sent.size);

    // Every record once, at its kch offset, with its key and headers.
    type Row = { id: number; customer: string; amount: number; key: string; header: string[] };
    const stored = await rows<Row & { partition: number; offset: number }>(
      'SELECT * FROM orders ORDER BY partition, offset',
    );
    expect(new Set(stored.map((r) => `${r.partition}:${r.offset}`))).toEqual(new Set(sent.keys()));
    for (const r of stored) {
      expect({ id: Number(r.id), customer: r.customer, amount: Number(r.amount) }).toEqual(
        sent.get(`${r.partition}:${r.offset}`),
      );
      expect([r.key, r.header]).toEqual([r.customer, ['kch']]);
    }

    // ClickHouse commits after the block is in the table: the group's offsets reach the end offsets.
    const ends = await endOffsets(topic);
    expect(ends).toEqual({ 0: '400', 1: '400', 2: '400' });
    expect(
      await waitFor(
        () => committed('ch-orders', topic),
        (c) => c[0] === ends[0] && c[1] === ends[1] && c[2] === ends[2],
      ),
    ).toEqual(ends);

    // The group as `kch groups describe` shows it: ClickHouse's consumer, owning every partition.
    const { groups } = await admin.describeGroups(['ch-orders']);
    expect(groups[0]).toMatchObject({ groupId: 'ch-orders', state: 'Stable', protocolType: 'consumer' });
    expect(groups[0]!.members).toHaveLength(1);
    const member = groups[0]!.members[0]!;
    expect(member.clientId).toMatch(/^ClickHouse/);
    expect(AssignerProtocol.MemberAssignment.decode(member.memberAssignment)?.assignment).toEqual({
      [topic]: [0, 1, 2],
    });

    // The stream goes on: later records follow, and so does the committed offset.
    await produce(50);
    expect(await waitFor(count, (n) => n >= sent.size)).toBe(sent.size);
    const after = await endOffsets(topic);
    expect(after).toEqual({ 0: '450', 1: '450', 2: '450' });
    expect(
      await waitFor(
        () => committed('ch-orders', topic),
        (c) => c[0] === '450' && c[1] === '450' && c[2] === '450',
      ),
    ).toEqual(after);
    // Nothing was read twice.
    expect(await sql('SELECT uniqExact(partition, offset) = count() FROM orders')).toBe('1\n');
  });

  it('reads committed records only (read_committed, the librdkafka default): an open transaction waits, an aborted one never comes', async () => {
    const topic = 'ke-transactions';
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const txnProducer = kafka.producer({
      transactionalId: 'ke-tx',
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await txnProducer.connect();
    const send = async (values: string[], end: 'commit' | 'abort' | 'open') => {
      const txn = await txnProducer.transaction();
      await txn.send({
        topic,
        messages: values.map((v, i) => ({ key: `k${i}`, value: JSON.stringify({ v }) })),
      });
      if (end === 'commit') await txn.commit();
      if (end === 'abort') await txn.abort();
      return txn;
    };
    await send(['c1', 'c2', 'c3'], 'commit');
    await send(['a1', 'a2'], 'abort');
    const open = await send(['later'], 'open');
    await sql(`CREATE TABLE txn_queue (v String) ${kafkaEngine(topic, 'ch-txn', 'JSONEachRow')}`);
    cleanup.push('txn_queue');
    await sql('CREATE TABLE txn_values (v String, offset UInt64) ENGINE = MergeTree ORDER BY offset');
    await sql('CREATE MATERIALIZED VIEW txn_mv TO txn_values AS SELECT v, _offset AS offset FROM txn_queue');
    cleanup.push('txn_mv');
    const values = () => sql('SELECT v FROM txn_values ORDER BY offset');
    expect(await waitFor(values, (t) => t === 'c1\nc2\nc3\n'), await consumersState('txn_queue')).toBe(
      'c1\nc2\nc3\n',
    );
    // The open transaction holds back what follows it until it commits.
    await open.commit();
    await txnProducer.disconnect();
    expect(await waitFor(values, (t) => t.includes('later'))).toBe('c1\nc2\nc3\nlater\n');
  });

  it('starts from the offsets its group committed earlier', async () => {
    const topic = 'ke-resume';
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    for (const partition of [0, 1]) {
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: 10 }, (_, n) => ({ partition, value: JSON.stringify({ n }) })),
      });
    }
    // Offsets committed before ClickHouse joins, as if an earlier consumer had read that far.
    const commit = await raw.send('OffsetCommit', 8, {
      groupId: 'ch-resume',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      topics: [
        {
          name: topic,
          partitions: [
            { partitionIndex: 0, committedOffset: 7n, committedMetadata: null },
            { partitionIndex: 1, committedOffset: 3n, committedMetadata: null },
          ],
        },
      ],
    });
    expect(commit.topics[0]!.partitions.map((p) => p.errorCode)).toEqual([0, 0]);

    await sql(`CREATE TABLE resume_queue (n UInt32) ${kafkaEngine(topic, 'ch-resume', 'JSONEachRow')}`);
    cleanup.push('resume_queue');
    await sql(
      'CREATE TABLE resumed (partition UInt64, offset UInt64, n UInt32) ENGINE = MergeTree ORDER BY (partition, offset)',
    );
    await sql(`CREATE MATERIALIZED VIEW resume_mv TO resumed AS
      SELECT _partition AS partition, _offset AS offset, n FROM resume_queue`);
    cleanup.push('resume_mv');

    const expected = (3 + 7).toString();
    const n = await waitFor(
      () => sql('SELECT count() FROM resumed'),
      (c) => c.trim() === expected,
    );
    expect(n.trim(), await consumersState('resume_queue')).toBe(expected);
    expect(
      await sql(
        'SELECT partition, min(offset), max(offset), count() FROM resumed GROUP BY partition ORDER BY partition',
      ),
    ).toBe('0\t7\t9\t3\n1\t3\t9\t7\n');
    expect(
      await waitFor(
        () => committed('ch-resume', topic),
        (c) => c[0] === '10' && c[1] === '10',
      ),
    ).toEqual({
      0: '10',
      1: '10',
    });
  });

  it('shares the partitions between two consumers of one table', async () => {
    const topic = 'ke-shared';
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] });
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 200 }, (_, n) => ({ partition: n % 4, value: JSON.stringify({ n }) })),
    });
    // kafka_num_consumers is capped at the physical cores unless the limit is lifted; CI may have one.
    await sql(
      `CREATE TABLE shared_queue (n UInt32) ${kafkaEngine(
        topic,
        'ch-shared',
        'JSONEachRow',
        ', kafka_num_consumers = 2, kafka_thread_per_consumer = 1, kafka_disable_num_consumers_limit = 1',
      )}`,
    );
    cleanup.push('shared_queue');
    await sql('CREATE TABLE shared (n UInt32) ENGINE = MergeTree ORDER BY n');
    await sql('CREATE MATERIALIZED VIEW shared_mv TO shared AS SELECT n FROM shared_queue');
    cleanup.push('shared_mv');

    // Two members, each owning two of the four partitions once the group is stable. (A member that
    // joins while the other consumes makes a rebalance that ClickHouse may take a while to answer.)
    const described = await waitFor(
      async () => (await admin.describeGroups(['ch-shared'])).groups[0]!,
      (g) => g.state === 'Stable' && g.members.length === 2,
    );
    expect(described.state).toBe('Stable');
    expect(described.members).toHaveLength(2);
    expect(
      await waitFor(
        () => sql('SELECT count(), uniqExact(n) FROM shared'),
        (s) => s === '200\t200\n',
      ),
    ).toBe('200\t200\n');
    expect(
      await waitFor(
        () => committed('ch-shared', topic),
        (c) => Object.values(c).every((o) => o === '50'),
      ),
    ).toEqual({
      0: '50',
      1: '50',
      2: '50',
      3: '50',
    });
    const owners = await rows<{ partitions: number[] }>(
      `SELECT assignments.partition_id AS partitions FROM system.kafka_consumers WHERE table = 'shared_queue'`,
    );
    expect(owners.map((o) => o.partitions.length)).toEqual([2, 2]);
  });
});

describe('an INSERT into a ClickHouse Kafka engine table produces to kch', () => {
  /** Every record of partition 0 of `topic`, read with Fetch and decoded. */
  async function readAll(topic: string, expected: number) {
    type Received = { offset: bigint; timestamp: bigint; key: string; value: string; headers: string[] };
    const records: Received[] = [];
    const codecs = new Set<number>();
    let offset = 0n;
    while (records.length < expected) {
      const r = await raw.send('Fetch', 12, {
        replicaId: -1,
        maxWaitMs: 2000,
        minBytes: 1,
        maxBytes: 1 << 24,
        isolationLevel: 0,
        topics: [{ topic, partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 1 << 24 }] }],
      });
      const p = r.responses[0]!.partitions[0]!;
      expect(p.errorCode).toBe(0);
      const batches = splitBatches(p.records ?? Buffer.alloc(0)).batches;
      if (batches.length === 0) break;
      for (const bytes of batches) {
        const { header, records: rs } = await decodeBatch(bytes);
        codecs.add(header.attributes & 0x07);
        for (const rec of rs) {
          records.push({
            offset: header.baseOffset + BigInt(rec.offsetDelta),
            timestamp: header.baseTimestamp + BigInt(rec.timestampDelta),
            key: rec.key?.toString() ?? '',
            value: rec.value?.toString() ?? '',
            headers: rec.headers.map((h) => `${h.key}=${h.value?.toString()}`),
          });
        }
        offset = header.baseOffset + BigInt(header.lastOffsetDelta) + 1n;
      }
    }
    return { records, codecs };
  }

  const CODECS = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
  for (const [codec, attribute] of Object.entries(CODECS)) {
    it(`with compression ${codec}: rows become JSON records, with keys, headers and timestamps`, async () => {
      // The topic does not exist yet: librdkafka's Metadata request creates it (auto.create.topics.enable).
      const topic = `ke-from-ch-${codec}`;
      const table = `out_${codec}`;
      // kafka_map_virtual_columns_on_write: the _key, _timestamp and _headers columns become the
      // record's key, timestamp and headers instead of payload fields.
      await sql(`CREATE TABLE ${table} (id UInt32, name String, _key String, _timestamp DateTime,
        \`_headers.name\` Array(String), \`_headers.value\` Array(String))
        ${kafkaEngine(topic, `ch-out-${codec}`, 'JSONEachRow', `, kafka_compression_codec = '${codec}', kafka_map_virtual_columns_on_write = 1`)}`);
      cleanup.push(table);
      const rowsIn = 1000;
      await sql(`INSERT INTO ${table} SELECT number, concat('name-', toString(number)), concat('k', toString(number % 3)),
        toDateTime('2024-05-06 07:08:09', 'UTC'), ['origin'], [concat('row-', toString(number))] FROM numbers(${rowsIn})`);

      // The INSERT returns once librdkafka has the acknowledgements: the records are there.
      const { records, codecs } = await readAll(topic, rowsIn);
      expect(records).toHaveLength(rowsIn);
      // librdkafka sends a batch uncompressed when compressing it would make it larger (a batch of one
      // or two small records), so such batches may sit beside the compressed ones.
      expect(codecs.has(attribute)).toBe(true);
      expect([...codecs].filter((c) => c !== attribute && c !== 0)).toEqual([]);
      expect(records.map((r) => r.offset)).toEqual(Array.from({ length: rowsIn }, (_, i) => BigInt(i)));
      for (const [i, r] of records.entries()) {
        // One row per message (kafka_max_rows_per_message = 1), each a JSONEachRow line.
        expect(r.value).toBe(`${JSON.stringify({ id: i, name: `name-${i}` })}\n`);
        expect(r.key).toBe(`k${i % 3}`);
        expect(r.headers).toEqual([`origin=row-${i}`]);
        expect(r.timestamp).toBe(BigInt(Date.UTC(2024, 4, 6, 7, 8, 9)));
      }
    });
  }

  it('round trip: ClickHouse writes a topic that another ClickHouse Kafka table reads back', async () => {
    const topic = 'ke-round-trip';
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    await sql(`CREATE TABLE rt_out (id UInt32, label String) ${kafkaEngine(topic, 'ch-rt-out', 'CSV')}`);
    cleanup.push('rt_out');
    await sql(`INSERT INTO rt_out SELECT number, concat('label,', toString(number)) FROM numbers(500)`);
    const ends = await endOffsets(topic);
    expect(Number(ends[0]) + Number(ends[1])).toBe(500);

    await sql(`CREATE TABLE rt_in (id UInt32, label String) ${kafkaEngine(topic, 'ch-rt-in', 'CSV')}`);
    cleanup.push('rt_in');
    await sql('CREATE TABLE rt (id UInt32, label String) ENGINE = MergeTree ORDER BY id');
    await sql('CREATE MATERIALIZED VIEW rt_mv TO rt AS SELECT id, label FROM rt_in');
    cleanup.push('rt_mv');
    const done = '500\t500\t1\n';
    const got = await waitFor(
      () =>
        sql(
          `SELECT count(), uniqExact(id), countIf(label = concat('label,', toString(id))) = count() FROM rt`,
        ),
      (s) => s === done,
    );
    expect(got, await consumersState('rt_in')).toBe(done);
  });
});

describe("inside the broker's own embedded ClickHouse, through storage.query (kch sql, POST /sql)", () => {
  it('a Kafka engine table consumes from and produces to the broker that stores its topics', async () => {
    // The broker's storage on the directory this file's Session has open: one ClickHouse for both.
    const storage = clickhouseStorage({ chdb: dir, database: 'kch_own' });
    const own = await startBroker({ storage });
    const run = async (statement: string) => (await storage.query(statement)).toString();
    const ddl = (topic: string, group: string) => kafkaEngine(topic, group, 'JSONEachRow', '', own.bootstrap);
    try {
      // Produce: the INSERT returns once the broker stored the records. (It used to hang, until
      // librdkafka gave up after 300 s: storage.query ran on the log's chdb session, which runs one
      // statement at a time, so the Produce the INSERT waits for could not append until it ended.)
      await run(`CREATE TABLE own_out (id UInt32) ${ddl('own-topic', 'own-out')}`);
      await run('INSERT INTO own_out SELECT number FROM numbers(100)');
      expect(await run("SELECT count(), sum(JSONExtractUInt(value, 'id')) FROM kch_own.`own-topic`")).toBe(
        '100\t4950\n',
      );

      // Consume the same topic back into a MergeTree.
      await run(`CREATE TABLE own_in (id UInt32) ${ddl('own-topic', 'own-in')}`);
      await run('CREATE TABLE own_rows (id UInt32) ENGINE = MergeTree ORDER BY id');
      await run('CREATE MATERIALIZED VIEW own_mv TO own_rows AS SELECT id FROM own_in');
      const got = await waitFor(
        () => run('SELECT count(), sum(id) FROM own_rows'),
        (r) => r === '100\t4950\n',
      );
      expect(got, await consumersState('own_in')).toBe('100\t4950\n');
    } finally {
      for (const t of ['own_mv', 'own_in', 'own_out']) await run(`DROP TABLE IF EXISTS ${t}`).catch(() => {});
      await own.close();
    }
  });
});
