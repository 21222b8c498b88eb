/**
 * Decodes the metrics a client pushes (KIP-714): an OpenTelemetry MetricsData v1 protobuf
 * (opentelemetry-proto, opentelemetry/proto/metrics/v1/metrics.proto), through protobufjs.
 *
 * No npm package ships a decoder for OTLP requests (@opentelemetry/otlp-transformer only encodes
 * them), so protobufjs reads them with the schema below: the messages and field numbers of
 * opentelemetry-proto that a gauge or sum needs. Fields not declared here (histograms, summaries,
 * exemplars) are skipped as unknown fields, as protobuf decoders do: Kafka's clients push gauges and
 * sums only (Java's KafkaMetricsCollector, librdkafka's rdkafka_telemetry_encode.c).
 */
import protobuf from 'protobufjs';

const SCHEMA = `
syntax = "proto3";
package opentelemetry.proto;

message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; }

message MetricsData { repeated ResourceMetrics resource_metrics = 1; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; string schema_url = 3; }
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; string schema_url = 3; }
message Metric {
  string name = 1;
  string description = 2;
  string unit = 3;
  oneof data {
    Gauge gauge = 5;
    Sum sum = 7;
  }
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum { repeated NumberDataPoint data_points = 1; int32 aggregation_temporality = 2; bool is_monotonic = 3; }
message NumberDataPoint {
  repeated KeyValue attributes = 7;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  oneof value {
    double as_double = 4;
    sfixed64 as_int = 6;
  }
  uint32 flags = 8;
}
`;

const metricsData = protobuf
  .parse(SCHEMA, { keepCase: false })
  .root.lookupType('opentelemetry.proto.MetricsData');

/** OTLP's AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA. */
const DELTA = 1;

/** One data point of a pushed gauge or sum, with the attributes of its resource and its own. */
export interface TelemetryPoint {
  /** The OTLP metric name (`org.apache.kafka.producer.record.queue.time.avg`). */
  name: string;
  description: string;
  /** `counter` for a monotonic sum; `gauge` for a gauge or a sum that may go down. */
  type: 'counter' | 'gauge';
  /** Whether a counter's value is the change since the previous push rather than a running total. */
  delta: boolean;
  /** The resource's attributes, then the point's (a point's attribute wins over its resource's). */
  attributes: Record<string, string>;
  value: number;
}

interface Decoded {
  resourceMetrics?: {
    resource?: { attributes?: KeyValue[] };
    scopeMetrics?: { metrics?: DecodedMetric[] }[];
  }[];
}
interface KeyValue {
  key?: string;
  value?: AnyValue;
}
interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  /** Base64. */
  bytesValue?: string;
}
interface DataPoint {
  attributes?: KeyValue[];
  asDouble?: number;
  asInt?: string;
}
interface DecodedMetric {
  name?: string;
  description?: string;
  gauge?: { dataPoints?: DataPoint[] };
  sum?: { dataPoints?: DataPoint[]; aggregationTemporality?: number; isMonotonic?: boolean };
}

/**
 * The gauges and sums of a MetricsData payload; throws on bytes that are not one (the push is then
 * answered INVALID_RECORD, as Kafka answers a payload its exporter cannot read).
 */
export function decodeMetricsData(payload: Uint8Array): TelemetryPoint[] {
  // A plain object of the fields set (a decoded message reads unset fields as defaults from its
  // prototype, which would take a gauge for a sum), 64-bit integers as decimal text.
  const decoded = metricsData.toObject(metricsData.decode(payload), {
    longs: String,
    bytes: String,
  }) as Decoded;
  const points: TelemetryPoint[] = [];
  for (const rm of decoded.resourceMetrics ?? []) {
    const resource = attributesOf(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? [])
      for (const m of sm.metrics ?? []) {
        if (!m.name) continue;
        const data = m.gauge ?? m.sum;
        if (!data) continue; // a histogram or summary: not declared in the schema, so never here
        const type = m.sum?.isMonotonic ? 'counter' : 'gauge';
        const delta = type === 'counter' && m.sum?.aggregationTemporality === DELTA;
        for (const p of data.dataPoints ?? []) {
          const value = p.asDouble ?? (p.asInt === undefined ? undefined : Number(p.asInt));
          if (value === undefined) continue;
          const attributes = { ...resource, ...attributesOf(p.attributes) };
          points.push({ name: m.name, description: m.description ?? '', type, delta, attributes, value });
        }
      }
  }
  return points;
}

function attributesOf(list: KeyValue[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) if (kv.key) out[kv.key] = anyValueText(kv.value);
  return out;
}

/** An attribute's value as a label value: scalars as written, arrays and maps as JSON. */
function anyValueText(v: AnyValue | undefined): string {
  if (!v) return '';
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return String(v.boolValue);
  if (v.intValue !== undefined) return v.intValue;
  if (v.doubleValue !== undefined) return String(v.doubleValue);
  if (v.bytesValue !== undefined) return v.bytesValue;
  if (v.arrayValue) return JSON.stringify((v.arrayValue.values ?? []).map(anyValueText));
  if (v.kvlistValue) return JSON.stringify(attributesOf(v.kvlistValue.values));
  return '';
}
