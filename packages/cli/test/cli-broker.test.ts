import { ConfigResourceTypes, Kafka, logLevel, Partitioners } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerArgs, metric, type RunningKch, startKch } from './kch-process.js';

describe('kch broker on memory storage, in a child process', () => {
  let kch: RunningKch;
  let kafka: Kafka;

  beforeAll(async () => {
    kch = await startKch(
      brokerArgs(
        'memory',
        '--partitions',
        '2',
        '--group-initial-rebalance-delay-ms',
        '0',
        '--queued-max-request-bytes',
        '33554432',
      ),
    );
    kafka = new Kafka({ clientId: 'cli-test', brokers: [kch.bootstrap], logLevel: logLevel.NOTHING });
  });

  afterAll(async () => {
    await kch?.stop('SIGKILL');
  });

  it('prints a banner with the real port, the storage and how to connect', () => {
    const out = kch.stdout();
    expect(kch.kafka.port).toBeGreaterThan(0);
    expect(out).toContain(`Kafka     127.0.0.1:${kch.kafka.port}`);
    expect(out).toContain('storage   process memory');
    expect(out).toContain(`kcat -b 127.0.0.1:${kch.kafka.port} -L`);
    expect(out).toContain(`brokers: ['127.0.0.1:${kch.kafka.port}']`);
    expect(out).toContain(`bootstrap.servers=127.0.0.1:${kch.kafka.port}`);
    expect(kch.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // Logs are JSON lines on stderr.
    const listening = kch
      .stderr()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === 'listening');
    expect(listening).toMatchObject({ level: 'info', port: kch.kafka.port });
  });

  it('passes --queued-max-request-bytes to the broker (queued.max.request.bytes)', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const { brokers } = await admin.describeCluster();
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [
          {
            type: ConfigResourceTypes.BROKER,
            name: String(brokers[0]!.nodeId),
            configNames: ['queued.max.request.bytes'],
          },
        ],
      });
      expect(resources[0]!.configEntries).toMatchObject([
        { configName: 'queued.max.request.bytes', configValue: '33554432' },
      ]);
    } finally {
      await admin.disconnect();
    }
  });

  it('answers /healthz with 200 and what it checked', async () => {
    const res = await fetch(`${kch.adminUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', kafka: kch.bootstrap });
  });

  it('exports requests, bytes, latency, produced records, connections and consumer lag on /metrics', async () => {
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({
      topic: 'metered',
      messages: Array.from({ length: 10 }, (_, i) => ({ key: 'k', value: `v${i}` })),
    });
    await producer.disconnect();
    // A group reads 4 of the 10 records and commits offset 4: a lag of 6.
    const consumer = kafka.consumer({ groupId: 'billing' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'metered', fromBeginning: true });
    const partition = await new Promise<number>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            if (message.offset !== '3') return;
            await consumer.commitOffsets([{ topic: 'metered', partition, offset: '4' }]);
            resolve(partition);
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();

    const res = await fetch(`${kch.adminUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await res.text();
    expect(metric(text, 'kch_requests_total{api="Produce",version="7"}')).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'kch_request_bytes_total{api="Produce"}')).toBeGreaterThan(0);
    expect(metric(text, 'kch_response_bytes_total{api="Produce"}')).toBeGreaterThan(0);
    expect(metric(text, 'kch_request_duration_seconds_count{api="Produce"}')).toBeGreaterThanOrEqual(1);
    expect(
      metric(text, 'kch_request_duration_seconds_bucket{api="Produce",le="+Inf"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(text).toContain('# TYPE kch_request_duration_seconds histogram');
    expect(metric(text, 'kch_produced_records_total{topic="metered"}')).toBe(10);
    expect(metric(text, 'kch_connections_total')).toBeGreaterThanOrEqual(2);
    expect(metric(text, 'kch_connections')).toBeGreaterThanOrEqual(0);
    expect(metric(text, `kch_partition_high_watermark{topic="metered",partition="${partition}"}`)).toBe(10);
    expect(
      metric(
        text,
        `kch_consumer_group_committed_offset{group="billing",topic="metered",partition="${partition}"}`,
      ),
    ).toBe(4);
    expect(
      metric(text, `kch_consumer_group_lag{group="billing",topic="metered",partition="${partition}"}`),
    ).toBe(6);
  });

  it('says POST /sql needs ClickHouse storage, and routes nothing else', async () => {
    const sql = await fetch(`${kch.adminUrl}/sql`, { method: 'POST', body: 'SELECT 1' });
    expect(sql.status).toBe(501);
    expect(await sql.text()).toMatch(/does not run SQL: start the broker with --storage chdb/);
    expect((await fetch(`${kch.adminUrl}/nope`)).status).toBe(404);
    expect((await fetch(`${kch.adminUrl}/sql`)).status).toBe(405);
  });

  it('stops on SIGTERM with exit code 0 after a graceful shutdown', async () => {
    const { code } = await kch.stop('SIGTERM');
    expect(code).toBe(0);
    const msgs = kch
      .stderr()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l).msg);
    expect(msgs).toContain('shutting down');
    expect(msgs).toContain('stopped');
  });
});
