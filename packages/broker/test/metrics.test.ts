import { readFileSync } from 'node:fs';
import { type Broker, brokerMetrics, createBroker, silentLogger } from '@kch/broker';
import { type FlushStats, memoryStorage, type Storage } from '@kch/storage';
import { Kafka, logLevel } from 'kafkajs';
import { collectDefaultMetrics, register as promClientDefaultRegistry, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { startBroker } from './helpers/broker.js';
import { consumeMessages } from './helpers/kafkajs.js';

/**
 * What the hand-written exposition of kch 0.1 rendered after the events emitted by emitOneOfEach():
 * the names, types, help texts, labels, label escaping and buckets that dashboards rely on. The
 * process' own values vary, so they read `<value>` there.
 */
const EXPOSITION = readFileSync(new URL('./fixtures/metrics/exposition.txt', import.meta.url), 'utf8');

/** The exposition without blank lines (prom-client separates families with one) and process values. */
function normalized(text: string): string {
  return `${text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.replace(/^((?:process|nodejs)_[a-z_]+) \S+$/, '$1 <value>'))
    .join('\n')}\n`;
}

/** One event of every kind the metrics count, on a broker without topics or groups. */
function emitOneOfEach(broker: Broker): void {
  broker.emit('request', {
    connectionId: 1,
    apiKey: 0,
    apiName: 'Produce',
    apiVersion: 9,
    correlationId: 1,
    clientId: null,
    durationMs: 3,
    requestBytes: 100,
    responseBytes: 50,
  });
  const topic = 'nowhere';
  broker.emit('produce', { topic, partition: 0, baseOffset: 0, records: 4, bytes: 400 });
  broker.emit('fetch', { topic, partition: 0, offset: 0, bytes: 300 });
  for (const [outcome, records] of [
    ['rejected', 2],
    ['dead-lettered', 1],
    ['dead-letter-failed', 1],
  ] as const)
    broker.emit('invalid-records', { topic, partition: 0, records, outcome, reason: 'x' });
  broker.emit('compaction', {
    topic,
    partition: 0,
    cleanedTo: 4,
    removed: 2,
    tombstonesBefore: 0,
    durationMs: 1,
  });
  broker.emit('connection', { connectionId: 1, remoteAddress: '127.0.0.1', remotePort: 1 });
  broker.emit('connection', { connectionId: 2, remoteAddress: '127.0.0.1', remotePort: 2 });
  broker.emit('disconnect', { connectionId: 1 });
  broker.emit('error', new Error('x'), {});
  // A group id may hold any character: quotes, backslashes and newlines are escaped in label values.
  const groupId = 'a"b\\c\nd';
  broker.emit('group-change', { groupId, state: 'PreparingRebalance', generationId: 1, members: 1 });
  broker.emit('transaction', { transactionalId: 'tx', producerId: 1, outcome: 'abort', reason: 'timeout' });
}

const flush: FlushStats = {
  kind: 'records',
  topic: 't',
  appends: 3,
  rows: 30,
  bytes: 3000,
  durationMs: 4,
  ok: true,
};

describe('the exposition', () => {
  it('keeps the names, types, help texts, labels and buckets of every family', async () => {
    const broker = await createBroker({ storage: memoryStorage(), logger: silentLogger });
    const metrics = brokerMetrics(broker);
    try {
      emitOneOfEach(broker);
      metrics.observeFlush(flush);
      expect(normalized(await metrics.render())).toBe(EXPOSITION);
      expect(metrics.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    } finally {
      metrics.close();
      await broker.close();
    }
  });

  it("goes into a registry the embedder gives, never into prom-client's default one", async () => {
    const broker = await createBroker({ storage: memoryStorage(), logger: silentLogger });
    const registry = new Registry();
    // The application's own metrics, including the process metrics of prom-client, which the broker's
    // metrics leave in place instead of registering their own under the same names.
    collectDefaultMetrics({ register: registry });
    const appStartTime = registry.getSingleMetric('process_start_time_seconds');
    const metrics = brokerMetrics(broker, { registry });
    const other = brokerMetrics(broker); // a registry of its own: no conflict with the first
    try {
      expect(metrics.registry).toBe(registry);
      expect(promClientDefaultRegistry.getMetricsAsArray()).toEqual([]);
      expect(registry.getSingleMetric('process_start_time_seconds')).toBe(appStartTime);
      expect(() => brokerMetrics(broker, { registry })).toThrow(/already been registered/);
      emitOneOfEach(broker);
      // The registry alone gives what render() gives: the scrape-time values come from collect hooks.
      const fromRegistry = await registry.metrics();
      for (const line of (await other.render()).split('\n').filter((l) => l.startsWith('kch_')))
        expect(fromRegistry.split('\n')).toContain(line);
      expect(fromRegistry).toContain('nodejs_eventloop_lag_seconds');

      metrics.close();
      // close() takes the broker's metrics out of the registry, and leaves the application's.
      expect(registry.getSingleMetric('kch_requests_total')).toBeUndefined();
      expect(registry.getSingleMetric('process_start_time_seconds')).toBe(appStartTime);
      expect(() => brokerMetrics(broker, { registry }).close()).not.toThrow();
    } finally {
      metrics.close();
      other.close();
      await broker.close();
    }
  });
});

describe('brokerMetrics', () => {
  it("subscribes to the storage's onFlush hook when it has one, and stops on close", async () => {
    const listeners = new Set<(s: FlushStats) => void>();
    const storage: Storage = Object.assign(memoryStorage(), {
      onFlush(l: (s: FlushStats) => void) {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    });
    const broker = await createBroker({ storage, logger: silentLogger });
    const metrics = brokerMetrics(broker);
    expect(listeners.size).toBe(1);
    for (const l of listeners)
      l({ kind: 'records', topic: 't', appends: 3, rows: 30, bytes: 3000, durationMs: 4, ok: true });
    const text = await metrics.render();
    expect(text).toContain('kch_storage_flushes_total{kind="records",outcome="ok"} 1');
    expect(text).toContain('kch_storage_flush_rows_sum{kind="records"} 30');
    expect(text).toContain('kch_storage_flush_bytes_bucket{kind="records",le="4096"} 1');
    expect(text).toContain('kch_storage_flush_duration_seconds_sum{kind="records"} 0.004');
    metrics.close();
    expect(listeners.size).toBe(0);
    expect(broker.listenerCount('request')).toBe(0);
    await broker.close();
  });

  it("removes a deleted topic's series, so a topic re-created under its name starts from 0", async () => {
    const b = await startBroker();
    const metrics = brokerMetrics(b.broker);
    const kafka = new Kafka({
      clientId: 'kch-metrics',
      brokers: [b.bootstrap],
      logLevel: logLevel.NOTHING,
      // INVALID_RECORD below is the answer expected, not one to retry.
      retry: { retries: 0 },
    });
    const admin = kafka.admin();
    const producer = kafka.producer();
    await admin.connect();
    await producer.connect();
    const topic = 'orders';
    const lines = async () =>
      (await metrics.render()).split('\n').filter((l) => l.includes(`topic="${topic}"`));
    try {
      // Every kind of per-topic series: produced records and bytes, rejected records (a schema),
      // fetched bytes, and the per-partition high watermark, committed offset and lag of a group.
      await admin.createTopics({
        topics: [
          { topic, numPartitions: 1, configEntries: [{ name: 'kch.schema', value: '{"type":"object"}' }] },
        ],
      });
      const n = 5;
      const values = (count: number) => Array.from({ length: count }, (_, i) => ({ value: `{"i":${i}}` }));
      await producer.send({ topic, messages: values(n) });
      await expect(producer.send({ topic, messages: [{ value: 'not json' }] })).rejects.toThrow();
      const consumer = kafka.consumer({ groupId: 'metrics-g' });
      await consumer.connect();
      try {
        await consumeMessages(consumer, topic, n);
      } finally {
        // Disconnecting waits for the batch in progress, whose offsets kafkajs then commits.
        await consumer.disconnect();
      }
      const before = await lines();
      // So that "no series after the delete" below is not true of series that were never there.
      expect(new Set(before.map((l) => l.slice(0, l.indexOf('{'))))).toEqual(
        new Set([
          'kch_produced_records_total',
          'kch_produced_bytes_total',
          'kch_fetched_bytes_total',
          'kch_records_rejected_total',
          'kch_consumer_group_committed_offset',
          'kch_consumer_group_lag',
          'kch_partition_high_watermark',
        ]),
      );
      expect(before).toContain(`kch_produced_records_total{topic="${topic}"} ${n}`);

      await admin.deleteTopics({ topics: [topic] });
      expect(await lines()).toEqual([]);

      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
      const m = 3;
      await producer.send({ topic, messages: values(m) });
      const after = await lines();
      expect(after).toContain(`kch_produced_records_total{topic="${topic}"} ${m}`);
      expect(after).toContain(`kch_partition_high_watermark{topic="${topic}",partition="0"} ${m}`);
      expect(after.filter((l) => l.startsWith('kch_records_rejected_total'))).toEqual([]);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
      metrics.close();
      await b.close();
    }
  });
});
