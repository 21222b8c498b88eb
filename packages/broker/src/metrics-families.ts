/**
 * The broker's metric families, as prom-client metrics: names, help texts, labels and buckets are a
 * public contract (dashboards and alerts use them; packages/cli/README.md "Metrics" lists them), so
 * they are declared here once and change only on purpose. Families read at scrape time fill
 * themselves through prom-client's `collect` hook from the sources they are given, so that a scrape of
 * the registry alone (an embedder's own `/metrics`) sees them as current as `BrokerMetrics.render()`.
 */
import {
  Counter,
  Gauge,
  Histogram,
  type OpenMetricsContentType,
  type PrometheusContentType,
  type Registry,
} from 'prom-client';
import type { GroupsScrape, TransactionsScrape } from './metrics-scrape.js';
import type { ClientQuotasScrape } from './quotas/client-quotas.js';

/** A prom-client registry of either exposition format. */
export type MetricsRegistry = Registry<PrometheusContentType> | Registry<OpenMetricsContentType>;

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

type LabelSet = Record<string, string | number>;
/** What prom-client's registry writes one family from (lib/histogram.js, getForPromString). */
interface HistogramExposition {
  values: { labels: LabelSet; sharedLabels?: LabelSet }[];
}
const exposeHistogram = (
  Histogram.prototype as unknown as { getForPromString(): Promise<HistogramExposition> }
).getForPromString;

/**
 * A histogram whose bucket lines name `le` last, `{api="Produce",le="0.1"}`, as kch wrote them before
 * prom-client and as Prometheus' Go client does: prom-client writes it first, and scripts and tests
 * grep these lines (Prometheus itself ignores the order). The exposition test fails if prom-client's
 * internals move.
 */
class LeLastHistogram<T extends string> extends Histogram<T> {
  async getForPromString(): Promise<HistogramExposition> {
    const data = await exposeHistogram.call(this);
    for (const v of data.values) {
      if (!v.sharedLabels || Object.keys(v.sharedLabels).length === 0) continue;
      v.labels = { ...v.sharedLabels, ...v.labels };
      v.sharedLabels = {};
    }
    return data;
  }
}

/** What the scrape-time families read. */
export interface ScrapeSources {
  topics(): { topics: number; partitions: number };
  queuedRequestBytes(): number;
  pendingStorageBytes(): number;
  /** Called by four families in one scrape: it should read the broker once for them all. */
  groups(): Promise<GroupsScrape>;
  /** The client quotas' sensors (measured at the call) and throttle counts. */
  clientQuotas(): ClientQuotasScrape;
  /** Transactions open now, and the partitions whose last stable offset is behind their end. */
  transactions(): TransactionsScrape;
}

/**
 * Creates the families in `registry`, in the order they are exposed. prom-client throws when a
 * family of the same name is registered there already (a second BrokerMetrics on one registry).
 */
export function createBrokerFamilies(registry: MetricsRegistry, sources: ScrapeSources) {
  const registers = [registry];
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });
  const gauge = <L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    collect?: (this: Gauge<L>) => void | Promise<void>,
  ) => new Gauge<L>({ name, help, labelNames, registers, ...(collect && { collect }) });
  const histogram = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets: readonly number[],
  ) => new LeLastHistogram<L>({ name, help, labelNames, buckets: [...buckets], registers });
  /** Families labelled by topic alone: a deleted topic's series are removed from each. */
  const perTopic: Counter<'topic'>[] = [];
  const topicCounter = (name: string, help: string): Counter<'topic'> => {
    const c = counter(name, help, ['topic']);
    perTopic.push(c);
    return c;
  };
  /** A gauge rebuilt from what `read` returns at each scrape, so that nothing gone leaves a series behind. */
  const rebuiltGauge =
    <S>(read: () => S | Promise<S>) =>
    <L extends string>(
      name: string,
      help: string,
      labelNames: readonly L[],
      fill: (gauge: Gauge<L>, scraped: S) => void,
    ) =>
      gauge(name, help, labelNames, async function () {
        const scraped = await read();
        this.reset();
        fill(this, scraped);
      });
  const groupsGauge = rebuiltGauge(() => sources.groups());
  /** An expired client (an hour idle) leaves no series. */
  const quotaGauge = rebuiltGauge(() => sources.clientQuotas());

  const families = {
    requests: counter('kch_requests_total', 'Kafka requests answered, by API and version.', [
      'api',
      'version',
    ]),
    requestBytes: counter('kch_request_bytes_total', 'Bytes of Kafka requests received (frames), by API.', [
      'api',
    ]),
    responseBytes: counter('kch_response_bytes_total', 'Bytes of Kafka responses sent (frames), by API.', [
      'api',
    ]),
    requestDuration: histogram(
      'kch_request_duration_seconds',
      'Time from a request read to its response ready, by API (Produce includes the storage write; Fetch includes long-poll waiting).',
      ['api'],
      LATENCY_BUCKETS,
    ),
    producedRecords: topicCounter(
      'kch_produced_records_total',
      'Records appended and acknowledged, by topic.',
    ),
    producedBytes: topicCounter('kch_produced_bytes_total', 'Bytes of record batches appended, by topic.'),
    fetchedBytes: topicCounter(
      'kch_fetched_bytes_total',
      'Bytes of record batches returned to fetches, by topic.',
    ),
    recordsRejected: topicCounter(
      'kch_records_rejected_total',
      "Records that failed the topic's checks (kch.table, kch.schema, a schema in the topics option) and were refused with INVALID_RECORD, by topic.",
    ),
    recordsDeadLettered: topicCounter(
      'kch_records_dead_lettered_total',
      "Records that failed the topic's checks and were stored in its dead-letter topic, by (source) topic.",
    ),
    deadLetterFailures: topicCounter(
      'kch_dead_letter_failures_total',
      'Records that failed the checks but could not be stored in the dead-letter topic (their offsets are in the error log), by (source) topic.',
    ),
    recordsCompacted: topicCounter(
      'kch_compacted_records_total',
      'Records the log cleaner removed from topics with cleanup.policy compact (docs/compaction.md), by topic.',
    ),
    connections: gauge('kch_connections', 'Client connections open now.'),
    connectionsTotal: counter('kch_connections_total', 'Client connections accepted since start.'),
    errors: counter(
      'kch_errors_total',
      'Unexpected failures that did not stop the broker (see the error log lines).',
    ),
    rebalances: counter('kch_consumer_group_rebalances_total', 'Rebalances started, by group.', ['group']),
    transactionsEnded: counter(
      'kch_transactions_ended_total',
      'Transactions whose end was decided, by outcome (commit, abort) and reason (client: the producer ended it; fenced: a new producer of its transactional id; timeout: transaction.timeout.ms passed; admin: an operator aborted it).',
      ['outcome', 'reason'],
    ),
    flushes: counter('kch_storage_flushes_total', 'Group-commit writes to storage, by kind and outcome.', [
      'kind',
      'outcome',
    ]),
    flushBytes: histogram(
      'kch_storage_flush_bytes',
      'Bytes of rows per group-commit write to storage, by kind (records or offsets).',
      ['kind'],
      FLUSH_BYTES_BUCKETS,
    ),
    flushRows: histogram(
      'kch_storage_flush_rows',
      'Rows per group-commit write to storage, by kind.',
      ['kind'],
      FLUSH_ROWS_BUCKETS,
    ),
    flushDuration: histogram(
      'kch_storage_flush_duration_seconds',
      'Time of one group-commit write to storage (an insert into ClickHouse), by kind.',
      ['kind'],
      LATENCY_BUCKETS,
    ),
    // From here on, read at scrape time.
    queuedRequestBytes: gauge(
      'kch_queued_request_bytes',
      'Bytes of requests read and not yet answered; at queued.max.request.bytes the broker stops reading.',
      [],
      function () {
        this.set(sources.queuedRequestBytes());
      },
    ),
    pendingStorageBytes: gauge(
      'kch_storage_pending_bytes',
      'Bytes of record batches handed to storage and not stored yet; at maxPendingStorageBytes partitions wait.',
      [],
      function () {
        this.set(sources.pendingStorageBytes());
      },
    ),
    topics: gauge('kch_topics', 'Topics.', [], function () {
      this.set(sources.topics().topics);
    }),
    partitions: gauge('kch_partitions', 'Partitions.', [], function () {
      this.set(sources.topics().partitions);
    }),
    transactionsOpen: gauge(
      'kch_transactions_open',
      'Transactions open now (Ongoing) on this coordinator.',
      [],
      function () {
        this.set(sources.transactions().open);
      },
    ),
    lastStableOffsetLag: rebuiltGauge(() => sources.transactions())(
      'kch_partition_last_stable_offset_lag',
      'High watermark minus last stable offset: records of a partition that read_committed consumers cannot read yet because a transaction before them is open (partitions where it is above 0).',
      ['topic', 'partition'],
      (g, { unstable }) => {
        for (const u of unstable) g.set({ topic: u.topic, partition: u.partition }, u.lag);
      },
    ),
    groupMembers: groupsGauge(
      'kch_consumer_group_members',
      'Members of a consumer group, by group and state.',
      ['group', 'state'],
      (g, { members }) => {
        for (const m of members) g.set({ group: m.group, state: m.state }, m.members);
      },
    ),
    committed: groupsGauge(
      'kch_consumer_group_committed_offset',
      'The committed offset of a group: the next record it will read.',
      ['group', 'topic', 'partition'],
      (g, { offsets }) => {
        for (const o of offsets)
          g.set({ group: o.group, topic: o.topic, partition: o.partition }, o.committedOffset);
      },
    ),
    lag: groupsGauge(
      'kch_consumer_group_lag',
      'High watermark (last stable offset for a group whose consumers read committed) minus committed offset: records the group has not consumed yet.',
      ['group', 'topic', 'partition'],
      (g, { offsets }) => {
        for (const o of offsets)
          if (o.lag !== null) g.set({ group: o.group, topic: o.topic, partition: o.partition }, o.lag);
      },
    ),
    highWatermark: groupsGauge(
      'kch_partition_high_watermark',
      'The end of a partition (the offset the next record gets), for partitions produced to since start or with committed offsets.',
      ['topic', 'partition'],
      (g, { highWatermarks }) => {
        for (const h of highWatermarks) g.set({ topic: h.topic, partition: h.partition }, h.highWatermark);
      },
    ),
    // Client quotas: a series per client measured now (Kafka's per user/client-id sensors, which drop
    // after an hour idle), labelled by the quota's metric tags ('' when not part of them).
    clientByteRate: quotaGauge(
      'kch_client_byte_rate',
      "Bytes per second of a client's Produce requests or Fetch responses over the quota window (Kafka's byte-rate), by quota, user and client id; measured while a byte-rate quota is configured.",
      ['quota', 'user', 'client_id'],
      (g, { clients }) => {
        for (const c of clients)
          if (c.quota !== 'Request') g.set({ quota: c.quota, user: c.user, client_id: c.clientId }, c.rate);
      },
    ),
    clientRequestTime: quotaGauge(
      'kch_client_request_time_percent',
      "Time spent handling a client's requests as a percentage of one thread over the quota window (Kafka's request-time), by user and client id; measured while a request_percentage quota is configured.",
      ['user', 'client_id'],
      (g, { clients }) => {
        for (const c of clients)
          if (c.quota === 'Request') g.set({ user: c.user, client_id: c.clientId }, c.rate);
      },
    ),
    clientThrottleTime: quotaGauge(
      'kch_client_throttle_time_ms',
      "Mean throttle time of a client's throttled responses in the last 60 s (Kafka's throttle-time; 0 when none), by the quota that throttled, user and client id.",
      ['quota', 'user', 'client_id'],
      (g, { clients }) => {
        for (const c of clients) {
          const ms = Number.isNaN(c.throttleTimeMs) ? 0 : c.throttleTimeMs;
          g.set({ quota: c.quota, user: c.user, client_id: c.clientId }, ms);
        }
      },
    ),
    throttledResponses: new Counter<'quota'>({
      name: 'kch_client_throttled_responses_total',
      help: 'Responses throttled by a client quota (the connection is muted for the throttle time after each), by the quota that decided the throttle: Produce, Fetch or Request.',
      labelNames: ['quota'],
      registers,
      collect() {
        // Totals the quotas keep: the counter takes their values.
        this.reset();
        for (const [quota, n] of Object.entries(sources.clientQuotas().throttled)) this.inc({ quota }, n);
      },
    }),
  };
  /** Every family created here, to take them out of the registry again. */
  const created: object[] = [...Object.values(families), ...createProcessFamilies(registry)];
  return { ...families, perTopic, created };
}

/**
 * The process, under the names and meanings of Prometheus' client libraries, and only these four:
 * prom-client's collectDefaultMetrics would add dozens more. A family whose name the registry has
 * already (an embedder called collectDefaultMetrics on it) is left to the registry's own.
 */
function createProcessFamilies(registry: MetricsRegistry): (Gauge | Counter)[] {
  const registers = [registry];
  const startTime = Math.round((Date.now() - performance.now()) / 1000);
  const gauge = (name: string, help: string, read: () => number) => () =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  const families: [name: string, create: () => Gauge | Counter][] = [
    [
      'process_start_time_seconds',
      gauge(
        'process_start_time_seconds',
        'Start time of the process since the Unix epoch, in seconds.',
        () => startTime,
      ),
    ],
    [
      'process_resident_memory_bytes',
      gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () =>
        process.memoryUsage.rss(),
      ),
    ],
    [
      'process_cpu_seconds_total',
      () =>
        new Counter({
          name: 'process_cpu_seconds_total',
          help: 'User and system CPU time spent, in seconds.',
          registers,
          collect() {
            // A total the OS keeps: the counter takes its value.
            const cpu = process.cpuUsage();
            this.reset();
            this.inc((cpu.user + cpu.system) / 1e6);
          },
        }),
    ],
    [
      'nodejs_heap_used_bytes',
      gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes.', () => process.memoryUsage().heapUsed),
    ],
  ];
  return families
    .filter(([name]) => registry.getSingleMetric(name) === undefined)
    .map(([, create]) => create());
}

export type BrokerFamilies = ReturnType<typeof createBrokerFamilies>;
