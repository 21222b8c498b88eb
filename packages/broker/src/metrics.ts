/**
 * Broker metrics for Prometheus, through prom-client in a registry of the broker's own (or one the
 * embedder hands in): never prom-client's global default registry, so that two brokers in one process,
 * or a broker inside an application with its own metrics, do not collide.
 *
 * `brokerMetrics(broker)` subscribes to the broker's events ('request', 'produce', 'fetch',
 * 'connection', 'disconnect', 'group-change', 'transaction', 'invalid-records', 'error', and 'topic-deleted', which
 * removes the topic's series) and to the storage's optional `onFlush` hook; what is read at scrape
 * time (consumer lag per group and partition, groups, topics, process memory and CPU) is read by the
 * families' collect hooks (metrics-families.ts). Serve `render()` at `/metrics` (the `kch` CLI does,
 * on its admin port).
 *
 * Every series is listed in packages/cli/README.md ("Metrics").
 */
import type { FlushStats } from '@kch/storage';
import { Registry } from 'prom-client';
import type { Broker } from './broker.js';
import type { BrokerEvents, RequestEvent } from './events.js';
import { type BrokerFamilies, createBrokerFamilies, type MetricsRegistry } from './metrics-families.js';
import { type GroupsScrape, scrapeGroups, scrapeTransactions } from './metrics-scrape.js';
import { ClientTelemetryFamilies } from './metrics-telemetry.js';

export type { MetricsRegistry } from './metrics-families.js';

/** The content type of `render()`'s text with the default registry (Prometheus text format 0.0.4). */
export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

export interface BrokerMetricsOptions {
  /**
   * The prom-client registry to put the broker's metrics in, e.g. the application's own, to serve
   * them with its other metrics. Default: a new registry of this BrokerMetrics alone. One registry
   * holds one broker's metrics: a second BrokerMetrics on it throws (the names are taken).
   */
  registry?: MetricsRegistry;
}

/** Metrics of one broker; see {@link brokerMetrics}. */
export class BrokerMetrics {
  /** The prom-client registry the metrics are in. */
  readonly registry: MetricsRegistry;
  private readonly families: BrokerFamilies;
  /** What clients push (KIP-714), a family per metric name. */
  private readonly telemetry: ClientTelemetryFamilies;
  /** Partitions produced to since start: their high watermark is shown even without consumers. */
  private readonly produced = new Map<string, Set<number>>();
  /** The groups read in progress, shared by the families that a scrape collects together. */
  private groupsRead: Promise<GroupsScrape> | undefined;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly broker: Broker,
    options: BrokerMetricsOptions = {},
  ) {
    this.registry = options.registry ?? new Registry();
    this.families = createBrokerFamilies(this.registry, {
      topics: () => {
        const all = broker.context.topics.list();
        return { topics: all.length, partitions: all.reduce((n, t) => n + t.logs.length, 0) };
      },
      queuedRequestBytes: () => broker.queuedRequestBytes,
      pendingStorageBytes: () => broker.pendingStorageBytes,
      groups: () => this.readGroups(),
      clientQuotas: () => broker.context.quotas.scrape(),
      transactions: () => scrapeTransactions(broker),
    });
    this.telemetry = new ClientTelemetryFamilies(this.registry, broker.context.telemetry);
    this.subscribe();
    const off = broker.context.storage.onFlush?.((s) => this.observeFlush(s));
    if (off) this.unsubscribe.push(off);
  }

  private subscribe(): void {
    const f = this.families;
    const on = <K extends keyof BrokerEvents>(
      name: K,
      listener: (...args: BrokerEvents[K]) => void,
    ): void => {
      this.broker.on(name, listener as never);
      this.unsubscribe.push(() => this.broker.off(name, listener as never));
    };
    on('request', (e: RequestEvent) => {
      f.requests.inc({ api: e.apiName, version: e.apiVersion });
      f.requestBytes.inc({ api: e.apiName }, e.requestBytes);
      f.responseBytes.inc({ api: e.apiName }, e.responseBytes);
      f.requestDuration.observe({ api: e.apiName }, e.durationMs / 1000);
    });
    on('produce', (e) => {
      f.producedRecords.inc({ topic: e.topic }, e.records);
      f.producedBytes.inc({ topic: e.topic }, e.bytes);
      let partitions = this.produced.get(e.topic);
      if (!partitions) {
        partitions = new Set();
        this.produced.set(e.topic, partitions);
      }
      partitions.add(e.partition);
    });
    on('fetch', (e) => f.fetchedBytes.inc({ topic: e.topic }, e.bytes));
    on('invalid-records', (e) => {
      const counter =
        e.outcome === 'rejected'
          ? f.recordsRejected
          : e.outcome === 'dead-lettered'
            ? f.recordsDeadLettered
            : f.deadLetterFailures;
      counter.inc({ topic: e.topic }, e.records);
    });
    on('compaction', (e) => f.recordsCompacted.inc({ topic: e.topic }, e.removed));
    on('connection', () => {
      f.connections.inc();
      f.connectionsTotal.inc();
    });
    on('disconnect', () => f.connections.dec());
    on('error', () => f.errors.inc());
    on('transaction', (e) => f.transactionsEnded.inc({ outcome: e.outcome, reason: e.reason }));
    on('client-telemetry', (e) => this.telemetry.pushed(e.metrics));
    on('group-change', (e) => {
      if (e.state === 'PreparingRebalance') f.rebalances.inc({ group: e.groupId });
    });
    // A deleted topic's series disappear (the Prometheus convention for a gone object): a topic
    // re-created under the same name is another topic, whose counters start from 0 instead of adding
    // to its predecessor's. The families with more labels than the topic are rebuilt at every scrape.
    on('topic-deleted', (e) => {
      this.produced.delete(e.topic);
      for (const counter of f.perTopic) counter.remove({ topic: e.topic });
    });
  }

  /**
   * One read of the groups per scrape: prom-client starts every family's collect hook in the same
   * tick, so the families that need the groups join the read the first of them started.
   */
  private readGroups(): Promise<GroupsScrape> {
    this.groupsRead ??= scrapeGroups(this.broker, this.produced).finally(() => {
      this.groupsRead = undefined;
    });
    return this.groupsRead;
  }

  /** Records a storage flush; called by the storage's onFlush hook, or by hand for other storages. */
  observeFlush(s: FlushStats): void {
    const f = this.families;
    f.flushes.inc({ kind: s.kind, outcome: s.ok ? 'ok' : 'error' });
    f.flushBytes.observe({ kind: s.kind }, s.bytes);
    f.flushRows.observe({ kind: s.kind }, s.rows);
    f.flushDuration.observe({ kind: s.kind }, s.durationMs / 1000);
  }

  /** The content type of `render()`'s text: Prometheus 0.0.4, or OpenMetrics for such a registry. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * The metrics of the registry as text (with an embedder's registry, its other metrics too).
   * Consumer lag is computed now: a partition's log is opened (read from storage) if nothing used it
   * since the broker started.
   */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Stops listening to the broker and storage, and takes the broker's metrics out of the registry. */
  close(): void {
    for (const u of this.unsubscribe.splice(0)) u();
    this.telemetry.close();
    const ours = new Set(this.families.created);
    for (const m of this.registry.getMetricsAsArray())
      if (ours.has(m)) this.registry.removeSingleMetric(m.name);
  }
}

/**
 * Starts collecting metrics of a broker; serve `await metrics.render()` at /metrics with
 * `metrics.contentType`.
 *
 * The metrics go into a prom-client registry of their own unless `options.registry` names one: pass
 * the application's registry to serve the broker's metrics with its own (then `registry.metrics()`
 * is enough; the scrape-time values are read by collect hooks). prom-client's global default registry
 * is never used. One registry holds the metrics of one broker.
 *
 * @example
 * import { Registry, collectDefaultMetrics } from 'prom-client';
 * const registry = new Registry();
 * collectDefaultMetrics({ register: registry, prefix: 'app_' });
 * const metrics = brokerMetrics(broker, { registry });
 * // GET /metrics: res.setHeader('content-type', registry.contentType); res.end(await registry.metrics());
 */
export function brokerMetrics(broker: Broker, options: BrokerMetricsOptions = {}): BrokerMetrics {
  return new BrokerMetrics(broker, options);
}
