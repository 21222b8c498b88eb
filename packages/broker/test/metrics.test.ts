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
import { describe, expect, it } from 'vitest';

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
});
