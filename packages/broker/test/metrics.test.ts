import {
  brokerMetrics,
  Counter,
  createBroker,
  Gauge,
  Histogram,
  MetricsRegistry,
  silentLogger,
} from '@kch/broker';
import { type FlushStats, memoryStorage, type Storage } from '@kch/storage';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { startBroker } from './helpers/broker.js';
import { consumeMessages } from './helpers/kafkajs.js';

describe('Prometheus text rendering', () => {
  it('renders counters, gauges and cumulative histograms with escaped labels', () => {
    const r = new MetricsRegistry();
    const c = r.register(new Counter('t_total', 'A counter.\nTwo lines.', ['topic']));
    const g = r.register(new Gauge('t_gauge', 'A gauge.'));
    const h = r.register(new Histogram('t_seconds', 'A histogram.', ['api'], [0.1, 1]));
    c.inc({ topic: 'a"b\\c\nd' }, 2);
    c.inc({ topic: 'plain' });
    g.set({}, 1.5);
    for (const v of [0.05, 0.5, 0.5, 5]) h.observe({ api: 'Produce' }, v);
    expect(r.render()).toBe(
      [
        '# HELP t_total A counter.\\nTwo lines.',
        '# TYPE t_total counter',
        't_total{topic="a\\"b\\\\c\\nd"} 2',
        't_total{topic="plain"} 1',
        '# HELP t_gauge A gauge.',
        '# TYPE t_gauge gauge',
        't_gauge 1.5',
        '# HELP t_seconds A histogram.',
        '# TYPE t_seconds histogram',
        't_seconds_bucket{api="Produce",le="0.1"} 1',
        't_seconds_bucket{api="Produce",le="1"} 3',
        't_seconds_bucket{api="Produce",le="+Inf"} 4',
        't_seconds_sum{api="Produce"} 6.05',
        't_seconds_count{api="Produce"} 4',
        '',
      ].join('\n'),
    );
  });

  it('removes the series with given label values from the families that have those labels', () => {
    const r = new MetricsRegistry();
    const c = r.register(new Counter('c_total', 'c', ['topic']));
    const g = r.register(new Gauge('g', 'g', ['group', 'topic', 'partition']));
    const other = r.register(new Counter('o_total', 'o', ['api']));
    c.inc({ topic: 'a' }, 2);
    c.inc({ topic: 'b' }, 3);
    g.set({ group: 'x', topic: 'a', partition: 0 }, 1);
    g.set({ group: 'x', topic: 'a', partition: 1 }, 1);
    g.set({ group: 'x', topic: 'b', partition: 0 }, 1);
    other.inc({ api: 'a' });
    expect(r.remove({ topic: 'a' })).toBe(3);
    const text = r.render();
    expect(text).not.toContain('topic="a"');
    expect(text).toContain('c_total{topic="b"} 3');
    expect(text).toContain('g{group="x",topic="b",partition="0"} 1');
    // A family without a topic label keeps its series, even one whose value is "a".
    expect(text).toContain('o_total{api="a"} 1');
    // A removed counter starts again from 0.
    c.inc({ topic: 'a' });
    expect(r.render()).toContain('c_total{topic="a"} 1');
  });

  it('refuses a metric registered twice and a missing label', () => {
    const r = new MetricsRegistry();
    r.register(new Counter('x_total', 'x'));
    expect(() => r.register(new Gauge('x_total', 'x'))).toThrow(/registered twice/);
    expect(() => new Counter('y_total', 'y', ['topic']).inc({})).toThrow(/needs label topic/);
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
