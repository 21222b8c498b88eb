/**
 * The metrics clients push (KIP-714) as Prometheus families: one family per pushed metric name,
 * `kch_client_<name with every character but [a-zA-Z0-9_] as _>`, one series per client instance and
 * data point, labelled client_id, client_instance_id and the OTLP resource and data point attributes
 * (node_id, topic...). The names are the clients', not known in advance, so a family is added to the
 * registry when a client first pushes its name, and taken out at the first scrape that finds no live
 * client with it (expired, terminated, dropped past the bound: see telemetry/client-telemetry.ts).
 *
 * prom-client's Gauge and Counter fix their label names when created and cannot set a counter to a
 * total, so these families are objects of the shape prom-client's Registry renders (name, help, type,
 * get()), reading the latest values from the broker's ClientTelemetry at each scrape.
 */
import type { Metric } from 'prom-client';
import type { MetricsRegistry } from './metrics-families.js';
import type { ClientSeries, ClientTelemetry } from './telemetry/client-telemetry.js';

const PREFIX = 'kch_client_';

/** What a push said of one of its metrics (the 'client-telemetry' event). */
export interface PushedMetric {
  name: string;
  type: 'counter' | 'gauge';
  description: string;
}

/** A Prometheus metric or label name for an OTLP one. */
export function promName(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

export class ClientTelemetryFamilies {
  private readonly families = new Map<string, TelemetryFamily>();
  /** The series by family name, read once per scrape: prom-client collects every family in one tick. */
  private byFamily: Map<string, ClientSeries[]> | undefined;

  constructor(
    private readonly registry: MetricsRegistry,
    private readonly telemetry: ClientTelemetry,
  ) {
    // Clients that pushed before these metrics were created are shown as well.
    this.pushed(telemetry.metricNames());
  }

  /** Adds the families of metrics pushed for the first time. */
  pushed(metrics: Iterable<PushedMetric>): void {
    for (const m of metrics) {
      const family = PREFIX + promName(m.name);
      if (this.families.has(family)) continue;
      // A broker family of the same name (none starts with kch_client_ today) keeps its place.
      if (this.registry.getSingleMetric(family)) continue;
      const f = new TelemetryFamily(family, m, this);
      this.families.set(family, f);
      this.registry.registerMetric(f as unknown as Metric);
    }
  }

  /** The series of one family now; a family with none left leaves the registry. */
  seriesOf(family: string): ClientSeries[] {
    if (!this.byFamily) {
      const byFamily = new Map<string, ClientSeries[]>();
      for (const s of this.telemetry.series()) {
        const f = PREFIX + promName(s.name);
        const list = byFamily.get(f);
        if (list) list.push(s);
        else byFamily.set(f, [s]);
      }
      this.byFamily = byFamily;
      queueMicrotask(() => {
        this.byFamily = undefined;
      });
    }
    const series = this.byFamily.get(family) ?? [];
    if (series.length === 0) this.remove(family);
    return series;
  }

  private remove(family: string): void {
    if (!this.families.delete(family)) return;
    this.registry.removeSingleMetric(family);
  }

  /** Takes every telemetry family out of the registry. */
  close(): void {
    for (const family of [...this.families.keys()]) this.remove(family);
  }
}

/** One pushed metric name as a family prom-client's Registry renders. */
class TelemetryFamily {
  /** Read by the registry before get(); an OpenMetrics registry takes `_total` off a counter's. */
  name: string;
  /** The first push of the name decides the type and help of the family. */
  readonly type: 'counter' | 'gauge';
  readonly help: string;

  constructor(
    private readonly key: string,
    first: PushedMetric,
    private readonly source: ClientTelemetryFamilies,
  ) {
    this.name = key;
    this.type = first.type;
    this.help = first.description
      ? `${first.description} (pushed by clients: ${first.name})`
      : `Pushed by clients (KIP-714): ${first.name}`;
  }

  async get() {
    const series = this.source.seriesOf(this.key);
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: 'sum' as const,
      values: series.map((s) => ({ labels: labelsOf(s), value: s.value })),
    };
  }

  reset(): void {}
}

function labelsOf(s: ClientSeries): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.attributes)) {
    const name = promName(k);
    // Names starting with __ are reserved to Prometheus.
    if (!name.startsWith('__')) labels[name] = v;
  }
  // The client's identity from the broker's side wins over any attribute of the same name.
  labels.client_id = s.clientId;
  labels.client_instance_id = s.clientInstanceId;
  return labels;
}
