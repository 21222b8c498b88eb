/**
 * Broker metrics in the Prometheus text exposition format (version 0.0.4), without a dependency: the
 * broker may depend on protocol, storage, zod and eventemitter3 only (see DESIGN.md), and what is
 * needed here (counters, gauges, histograms with labels, rendered as text) is small. prom-client would
 * bring a global default registry and more than we use.
 *
 * `brokerMetrics(broker)` subscribes to the broker's events ('request', 'produce', 'fetch',
 * 'connection', 'disconnect', 'group-change', 'invalid-records', 'error', and 'topic-deleted', which
 * removes the topic's series) and to the storage's optional `onFlush` hook;
 * `render()` adds what is read at scrape time: consumer lag per group and partition (committed offset
 * against the partition's high watermark), groups and topics. Serve `render()` at `/metrics` (the
 * `kch` CLI does, on its admin port).
 *
 * Every series is listed in packages/cli/README.md ("Metrics").
 */
import type { FlushStats } from '@kch/storage';
import type { Broker } from './broker.js';
import type { BrokerEvents, RequestEvent } from './events.js';
import { computeLag } from './groups/lag.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Seconds: from 0.5 ms (an in-memory produce) to 30 s (a long-poll fetch waits up to its max wait). */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
] as const;
/** Bytes of one storage flush: 1 KiB .. 64 MiB in powers of 4. */
export const FLUSH_BYTES_BUCKETS = [
  1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
] as const;
/** Rows of one storage flush. */
export const FLUSH_ROWS_BUCKETS = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000] as const;

type Labels = Record<string, string | number>;
type MetricType = 'counter' | 'gauge' | 'histogram';

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

function labelText(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i]!)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** A family of series of one name, one per combination of label values. */
abstract class Family<S> {
  protected readonly series = new Map<string, { values: string[]; state: S }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    readonly labelNames: readonly string[],
  ) {}

  protected get(labels: Labels, create: () => S): S {
    const values = this.labelNames.map((n) => {
      const v = labels[n];
      if (v === undefined) throw new Error(`metric ${this.name} needs label ${n}`);
      return String(v);
    });
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      s = { values, state: create() };
      this.series.set(key, s);
    }
    return s.state;
  }

  /** Forgets every series (gauges recomputed at each scrape). */
  reset(): void {
    this.series.clear();
  }

  /**
   * Forgets the series whose labels have the given values (a deleted topic's); returns how many.
   * A family without one of those labels is left alone.
   */
  remove(labels: Labels): number {
    const indexes = Object.entries(labels).map(([n, v]) => [this.labelNames.indexOf(n), String(v)] as const);
    if (indexes.some(([i]) => i < 0)) return 0;
    let removed = 0;
    for (const [key, { values }] of this.series) {
      if (indexes.every(([i, v]) => values[i] === v)) {
        this.series.delete(key);
        removed++;
      }
    }
    return removed;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`);
    for (const { values, state } of this.series.values()) this.renderSeries(out, values, state);
  }

  protected abstract renderSeries(out: string[], values: string[], state: S): void;
}

export class Counter extends Family<{ v: number }> {
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, 'counter', labelNames);
  }

  inc(labels: Labels = {}, by = 1): void {
    this.get(labels, () => ({ v: 0 })).v += by;
  }

  /** For a total kept elsewhere (the CPU time the OS counts). */
  set(labels: Labels, v: number): void {
    this.get(labels, () => ({ v: 0 })).v = v;
  }

  protected renderSeries(out: string[], values: string[], s: { v: number }): void {
    out.push(`${this.name}${labelText(this.labelNames, values)} ${formatValue(s.v)}`);
  }
}

export class Gauge extends Family<{ v: number }> {
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, 'gauge', labelNames);
  }

  set(labels: Labels, v: number): void {
    this.get(labels, () => ({ v: 0 })).v = v;
  }

  inc(labels: Labels = {}, by = 1): void {
    this.get(labels, () => ({ v: 0 })).v += by;
  }

  protected renderSeries(out: string[], values: string[], s: { v: number }): void {
    out.push(`${this.name}${labelText(this.labelNames, values)} ${formatValue(s.v)}`);
  }
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Family<HistogramState> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {
    super(name, help, 'histogram', labelNames);
  }

  observe(labels: Labels, v: number): void {
    const s = this.get(labels, () => ({ counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 }));
    // Counts per bucket (not cumulative); cumulated when rendered.
    const i = this.buckets.findIndex((b) => v <= b);
    if (i >= 0) s.counts[i]!++;
    s.sum += v;
    s.count++;
  }

  protected renderSeries(out: string[], values: string[], s: HistogramState): void {
    let cumulative = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      cumulative += s.counts[i]!;
      const le = labelText(this.labelNames, values, ['le', formatValue(this.buckets[i]!)]);
      out.push(`${this.name}_bucket${le} ${cumulative}`);
    }
    out.push(`${this.name}_bucket${labelText(this.labelNames, values, ['le', '+Inf'])} ${s.count}`);
    const plain = labelText(this.labelNames, values);
    out.push(`${this.name}_sum${plain} ${formatValue(s.sum)}`, `${this.name}_count${plain} ${s.count}`);
  }
}

/** A set of metric families rendered together. */
export class MetricsRegistry {
  private readonly families: Family<unknown>[] = [];

  register<F extends Family<any>>(family: F): F {
    if (this.families.some((f) => f.name === family.name))
      throw new Error(`metric ${family.name} is registered twice`);
    this.families.push(family as Family<unknown>);
    return family;
  }

  /** Forgets, in every family that has these labels, the series with these values; returns how many. */
  remove(labels: Labels): number {
    let removed = 0;
    for (const f of this.families) removed += f.remove(labels);
    return removed;
  }

  render(): string {
    const out: string[] = [];
    for (const f of this.families) f.render(out);
    return `${out.join('\n')}\n`;
  }
}

/** Metrics of one broker; see {@link brokerMetrics}. */
export class BrokerMetrics {
  readonly registry = new MetricsRegistry();

  private readonly requests = this.registry.register(
    new Counter('kch_requests_total', 'Kafka requests answered, by API and version.', ['api', 'version']),
  );
  private readonly requestBytes = this.registry.register(
    new Counter('kch_request_bytes_total', 'Bytes of Kafka requests received (frames), by API.', ['api']),
  );
  private readonly responseBytes = this.registry.register(
    new Counter('kch_response_bytes_total', 'Bytes of Kafka responses sent (frames), by API.', ['api']),
  );
  private readonly requestDuration = this.registry.register(
    new Histogram(
      'kch_request_duration_seconds',
      'Time from a request read to its response ready, by API (Produce includes the storage write; Fetch includes long-poll waiting).',
      ['api'],
      LATENCY_BUCKETS,
    ),
  );
  private readonly producedRecords = this.registry.register(
    new Counter('kch_produced_records_total', 'Records appended and acknowledged, by topic.', ['topic']),
  );
  private readonly producedBytes = this.registry.register(
    new Counter('kch_produced_bytes_total', 'Bytes of record batches appended, by topic.', ['topic']),
  );
  private readonly fetchedBytes = this.registry.register(
    new Counter('kch_fetched_bytes_total', 'Bytes of record batches returned to fetches, by topic.', [
      'topic',
    ]),
  );
  private readonly recordsRejected = this.registry.register(
    new Counter(
      'kch_records_rejected_total',
      "Records that failed the topic's checks (kch.table, kch.schema, a schema in the topics option) and were refused with INVALID_RECORD, by topic.",
      ['topic'],
    ),
  );
  private readonly recordsDeadLettered = this.registry.register(
    new Counter(
      'kch_records_dead_lettered_total',
      "Records that failed the topic's checks and were stored in its dead-letter topic, by (source) topic.",
      ['topic'],
    ),
  );
  private readonly deadLetterFailures = this.registry.register(
    new Counter(
      'kch_dead_letter_failures_total',
      'Records that failed the checks but could not be stored in the dead-letter topic (their offsets are in the error log), by (source) topic.',
      ['topic'],
    ),
  );
  private readonly connections = this.registry.register(
    new Gauge('kch_connections', 'Client connections open now.'),
  );
  private readonly connectionsTotal = this.registry.register(
    new Counter('kch_connections_total', 'Client connections accepted since start.'),
  );
  private readonly errors = this.registry.register(
    new Counter(
      'kch_errors_total',
      'Unexpected failures that did not stop the broker (see the error log lines).',
    ),
  );
  private readonly rebalances = this.registry.register(
    new Counter('kch_consumer_group_rebalances_total', 'Rebalances started, by group.', ['group']),
  );
  private readonly flushes = this.registry.register(
    new Counter('kch_storage_flushes_total', 'Group-commit writes to storage, by kind and outcome.', [
      'kind',
      'outcome',
    ]),
  );
  private readonly flushBytes = this.registry.register(
    new Histogram(
      'kch_storage_flush_bytes',
      'Bytes of rows per group-commit write to storage, by kind (records or offsets).',
      ['kind'],
      FLUSH_BYTES_BUCKETS,
    ),
  );
  private readonly flushRows = this.registry.register(
    new Histogram(
      'kch_storage_flush_rows',
      'Rows per group-commit write to storage, by kind.',
      ['kind'],
      [...FLUSH_ROWS_BUCKETS],
    ),
  );
  private readonly flushDuration = this.registry.register(
    new Histogram(
      'kch_storage_flush_duration_seconds',
      'Time of one group-commit write to storage (an insert into ClickHouse), by kind.',
      ['kind'],
      LATENCY_BUCKETS,
    ),
  );
  // Read at scrape time.
  private readonly queuedRequestBytes = this.registry.register(
    new Gauge(
      'kch_queued_request_bytes',
      'Bytes of requests read and not yet answered; at queued.max.request.bytes the broker stops reading.',
    ),
  );
  private readonly topics = this.registry.register(new Gauge('kch_topics', 'Topics.'));
  private readonly partitions = this.registry.register(new Gauge('kch_partitions', 'Partitions.'));
  private readonly groupMembers = this.registry.register(
    new Gauge('kch_consumer_group_members', 'Members of a consumer group, by group and state.', [
      'group',
      'state',
    ]),
  );
  private readonly committed = this.registry.register(
    new Gauge(
      'kch_consumer_group_committed_offset',
      'The committed offset of a group: the next record it will read.',
      ['group', 'topic', 'partition'],
    ),
  );
  private readonly lag = this.registry.register(
    new Gauge(
      'kch_consumer_group_lag',
      'High watermark minus committed offset: records the group has not consumed yet.',
      ['group', 'topic', 'partition'],
    ),
  );
  private readonly highWatermark = this.registry.register(
    new Gauge(
      'kch_partition_high_watermark',
      'The end of a partition (the offset the next record gets), for partitions produced to since start or with committed offsets.',
      ['topic', 'partition'],
    ),
  );
  private readonly startTime = this.registry.register(
    new Gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds.'),
  );
  private readonly rss = this.registry.register(
    new Gauge('process_resident_memory_bytes', 'Resident memory size in bytes.'),
  );
  private readonly cpu = this.registry.register(
    new Counter('process_cpu_seconds_total', 'User and system CPU time spent, in seconds.'),
  );
  private readonly heap = this.registry.register(
    new Gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes.'),
  );

  /** Partitions produced to since start: their high watermark is shown even without consumers. */
  private readonly produced = new Map<string, Set<number>>();
  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly broker: Broker) {
    const on = <K extends keyof BrokerEvents>(
      name: K,
      listener: (...args: BrokerEvents[K]) => void,
    ): void => {
      broker.on(name, listener as never);
      this.unsubscribe.push(() => broker.off(name, listener as never));
    };
    on('request', (e: RequestEvent) => {
      this.requests.inc({ api: e.apiName, version: e.apiVersion });
      this.requestBytes.inc({ api: e.apiName }, e.requestBytes);
      this.responseBytes.inc({ api: e.apiName }, e.responseBytes);
      this.requestDuration.observe({ api: e.apiName }, e.durationMs / 1000);
    });
    on('produce', (e) => {
      this.producedRecords.inc({ topic: e.topic }, e.records);
      this.producedBytes.inc({ topic: e.topic }, e.bytes);
      let set = this.produced.get(e.topic);
      if (!set) {
        set = new Set();
        this.produced.set(e.topic, set);
      }
      set.add(e.partition);
    });
    on('fetch', (e) => this.fetchedBytes.inc({ topic: e.topic }, e.bytes));
    on('invalid-records', (e) => {
      const counter =
        e.outcome === 'rejected'
          ? this.recordsRejected
          : e.outcome === 'dead-lettered'
            ? this.recordsDeadLettered
            : this.deadLetterFailures;
      counter.inc({ topic: e.topic }, e.records);
    });
    on('connection', () => {
      this.connections.inc({}, 1);
      this.connectionsTotal.inc();
    });
    on('disconnect', () => this.connections.inc({}, -1));
    on('error', () => this.errors.inc());
    on('group-change', (e) => {
      if (e.state === 'PreparingRebalance') this.rebalances.inc({ group: e.groupId });
    });
    // A deleted topic's series disappear (the Prometheus convention for a gone object): a topic
    // re-created under the same name is another topic, whose counters start from 0 instead of adding
    // to its predecessor's. Every family with a topic label is cleared, so a new one needs nothing here.
    on('topic-deleted', (e) => {
      this.produced.delete(e.topic);
      this.registry.remove({ topic: e.topic });
    });
    this.connections.set({}, 0);
    this.connectionsTotal.inc({}, 0);
    this.errors.inc({}, 0);
    this.startTime.set({}, Math.round((Date.now() - performance.now()) / 1000));
    const off = broker.context.storage.onFlush?.((s) => this.observeFlush(s));
    if (off) this.unsubscribe.push(off);
  }

  /** Records a storage flush; called by the storage's onFlush hook, or by hand for other storages. */
  observeFlush(s: FlushStats): void {
    this.flushes.inc({ kind: s.kind, outcome: s.ok ? 'ok' : 'error' });
    this.flushBytes.observe({ kind: s.kind }, s.bytes);
    this.flushRows.observe({ kind: s.kind }, s.rows);
    this.flushDuration.observe({ kind: s.kind }, s.durationMs / 1000);
  }

  /**
   * The metrics in Prometheus text format. Consumer lag is computed now: a partition's log is opened
   * (read from storage) if nothing used it since the broker started.
   */
  async render(): Promise<string> {
    const { topics, groups } = this.broker.context;
    const all = topics.list();
    this.topics.set({}, all.length);
    this.partitions.set(
      {},
      all.reduce((n, t) => n + t.logs.length, 0),
    );
    this.groupMembers.reset();
    this.committed.reset();
    this.lag.reset();
    this.highWatermark.reset();
    const ends = new Map<string, number | null>();
    const endOffset = async (topic: string, partition: number): Promise<number | null> => {
      const key = `${topic}\u0000${partition}`;
      if (ends.has(key)) return ends.get(key)!;
      const log = topics.log(topic, partition);
      let end: number | null = null;
      if (log) {
        try {
          await log.open();
          end = log.highWatermark;
        } catch {
          end = null; // storage unavailable: no lag for this partition in this scrape
        }
      }
      ends.set(key, end);
      if (end !== null) this.highWatermark.set({ topic, partition }, end);
      return end;
    };
    for (const g of groups.listGroups()) {
      const described = groups.describeGroup(g.groupId);
      this.groupMembers.set({ group: g.groupId, state: g.groupState }, described.members.length);
      for (const row of await computeLag(groups.committedOffsets(g.groupId), endOffset)) {
        const labels = { group: g.groupId, topic: row.topic, partition: row.partition };
        this.committed.set(labels, row.committedOffset);
        if (row.lag !== null) this.lag.set(labels, row.lag);
      }
    }
    for (const [topic, set] of this.produced) for (const p of set) await endOffset(topic, p);
    this.queuedRequestBytes.set({}, this.broker.queuedRequestBytes);
    const mem = process.memoryUsage();
    this.rss.set({}, mem.rss);
    this.heap.set({}, mem.heapUsed);
    const cpu = process.cpuUsage();
    this.cpu.set({}, (cpu.user + cpu.system) / 1e6);
    return this.registry.render();
  }

  /** Stops listening to the broker and storage. */
  close(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }
}

/** Starts collecting metrics of a broker; serve `await metrics.render()` at /metrics. */
export function brokerMetrics(broker: Broker): BrokerMetrics {
  return new BrokerMetrics(broker);
}
