/**
 * Client telemetry (KIP-714) over TCP: GetTelemetrySubscriptions and PushTelemetry as Kafka answers
 * them, and the pushed metrics in the broker's Prometheus exposition per client.
 *
 * A librdkafka producer (python3-confluent-kafka) pushes its own metrics where librdkafka is 2.5 or
 * later; Debian 12's is 2.0.2, which pushes none, so there that test is skipped with the reason (it
 * runs with LD_LIBRARY_PATH naming a newer librdkafka.so.1). The push that reaches /metrics on every
 * machine is sent by @platformatic/kafka's own encoding of the two APIs, with an OTLP payload made by
 * OpenTelemetry's SDK and serializer and gzipped by node:zlib, so none of it is kch's code. The error
 * paths go through kch's codec on a raw socket.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { type Broker, brokerMetrics } from '@kch/broker';
import {
  ApiKeys,
  type ApiMessages,
  apiByKey,
  CompressionType,
  compress,
  decodeResponseFrame,
  ErrorCode,
  encodeRequestFrame,
  FrameSplitter,
  type Init,
} from '@kch/protocol';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { Connection, getTelemetrySubscriptionsV0, pushTelemetryV0 } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientTelemetry } from '../src/telemetry/client-telemetry.js';
import { type RunningBroker, startBroker } from './helpers/broker.js';
import { skipEachUnless } from './helpers/skip.js';
import { PYTHON } from './helpers/tools.js';

const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

let b: RunningBroker;
beforeAll(async () => {
  b = await startBroker({ clientTelemetry: { pushIntervalMs: 60_000, maxBytes: 4096 } });
});
afterAll(async () => {
  await b?.close();
});

/** A MetricReader collected by hand: the SDK's metrics as one OTLP request, as a client encodes them. */
class ManualReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** Producer metrics as the Java client and librdkafka name them (KIP-714's org.apache.kafka.*). */
async function producerMetricsPayload(): Promise<Uint8Array> {
  const reader = new ManualReader();
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'client.rack': 'rack-a' }),
    readers: [reader],
  });
  const meter = provider.getMeter('telemetry-test');
  meter.createGauge('org.apache.kafka.producer.record.queue.time.avg').record(1.5);
  meter.createCounter('org.apache.kafka.producer.connection.creation.total').add(3, { node_id: '1' });
  meter.createHistogram('org.apache.kafka.producer.request.latency').record(12);
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  return ProtobufMetricsSerializer.serializeRequest(resourceMetrics)!;
}

/** One request on its own connection through kch's codec; the decoded response. */
async function request<K extends keyof ApiMessages>(
  api: K,
  body: Init<ApiMessages[K]['request']>,
  socket?: Socket,
): Promise<ApiMessages[K]['response']> {
  const s = socket ?? (await open());
  const apiKey = ApiKeys[api];
  const descriptor = apiByKey(apiKey)!;
  const frame = new Promise<Buffer>((resolve, reject) => {
    const splitter = new FrameSplitter({ maxFrameSize: 1 << 20 });
    const onData = (c: Buffer) => {
      const [f] = splitter.push(c);
      if (!f) return;
      s.off('data', onData);
      resolve(f);
    };
    s.on('data', onData);
    s.once('error', reject);
  });
  for (const c of encodeRequestFrame(descriptor.request, apiKey, 0, 7, 'telemetry-codec', body as never))
    s.write(c);
  const { body: response } = decodeResponseFrame(descriptor.response, apiKey, 0, await frame);
  if (!socket) s.end();
  return response as ApiMessages[K]['response'];
}

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(b.port, b.host, () => resolve(s));
    s.once('error', reject);
  });
}

/** A subscribed client instance: its id and subscription id. */
async function subscribed(): Promise<{ clientInstanceId: string; subscriptionId: number }> {
  const got = await request('GetTelemetrySubscriptions', { clientInstanceId: ZERO_UUID });
  expect(got.errorCode).toBe(ErrorCode.NONE);
  return { clientInstanceId: got.clientInstanceId, subscriptionId: got.subscriptionId };
}

function push(
  s: { clientInstanceId: string; subscriptionId: number },
  fields: Partial<Init<ApiMessages['PushTelemetry']['request']>> = {},
) {
  return request('PushTelemetry', { ...s, compressionType: 0, metrics: Buffer.alloc(0), ...fields });
}

async function render(broker: Broker): Promise<string> {
  const metrics = brokerMetrics(broker);
  try {
    return await metrics.render();
  } finally {
    metrics.close();
  }
}

describe('client telemetry from a client of its own encoding (@platformatic/kafka)', () => {
  it("shows a producer's pushed gauges and counters in /metrics with its client id, until it terminates", async () => {
    const metrics = brokerMetrics(b.broker);
    const connection = new Connection('telemetry-producer');
    try {
      await connection.connect(b.host, b.port);
      const sub = await getTelemetrySubscriptionsV0.api.async(connection, null);
      expect(sub).toMatchObject({
        errorCode: 0,
        requestedMetrics: ['*'],
        acceptedCompressionTypes: [
          CompressionType.Zstd,
          CompressionType.Lz4,
          CompressionType.Gzip,
          CompressionType.Snappy,
        ],
        pushIntervalMs: 60_000,
        telemetryMaxBytes: 4096,
        deltaTemporality: false,
      });
      expect(sub.clientInstanceId).not.toBe('00000000-0000-0000-0000-000000000000');
      const payload = gzipSync(await producerMetricsPayload());
      const pushed = await pushTelemetryV0.api.async(
        connection,
        sub.clientInstanceId,
        sub.subscriptionId,
        false,
        CompressionType.Gzip,
        payload,
      );
      expect(pushed.errorCode).toBe(0);

      const instance = Buffer.from(sub.clientInstanceId.replaceAll('-', ''), 'hex').toString('base64url');
      const text = await metrics.render();
      expect(text).toContain('# TYPE kch_client_org_apache_kafka_producer_record_queue_time_avg gauge');
      expect(text).toContain(
        `kch_client_org_apache_kafka_producer_record_queue_time_avg{client_rack="rack-a",client_id="telemetry-producer",client_instance_id="${instance}"} 1.5`,
      );
      expect(text).toContain('# TYPE kch_client_org_apache_kafka_producer_connection_creation_total counter');
      expect(text).toContain(
        `kch_client_org_apache_kafka_producer_connection_creation_total{client_rack="rack-a",node_id="1",client_id="telemetry-producer",client_instance_id="${instance}"} 3`,
      );
      // Histograms are not kept (Kafka's clients push none).
      expect(text).not.toContain('kch_client_org_apache_kafka_producer_request_latency');

      // The last push, on close: accepted at once (no interval applies), and the client's series go.
      const last = await pushTelemetryV0.api.async(
        connection,
        sub.clientInstanceId,
        sub.subscriptionId,
        true,
        CompressionType.Gzip,
        payload,
      );
      expect(last.errorCode).toBe(0);
      const after = await metrics.render();
      expect(after).not.toContain(`client_instance_id="${instance}"`);
      // The family whose last series went is gone by the next scrape.
      expect(await metrics.render()).not.toContain(
        'kch_client_org_apache_kafka_producer_record_queue_time_avg',
      );
    } finally {
      await connection.close();
      metrics.close();
    }
  });
});

/** librdkafka as python3-confluent-kafka loads it: telemetry needs 2.5 (0x020500ff) or later. */
const librdkafka = (() => {
  const r = spawnSync(PYTHON, ['-c', 'import confluent_kafka; print(confluent_kafka.libversion()[1])'], {
    encoding: 'utf8',
  });
  const version = r.status === 0 ? Number(r.stdout.trim()) : 0;
  const available = version >= 0x020500ff;
  const seen = version ? `librdkafka 0x${version.toString(16)}` : 'python3-confluent-kafka is missing';
  return {
    available,
    reason: available
      ? ''
      : `${seen}: KIP-714 telemetry needs librdkafka 2.5+ (LD_LIBRARY_PATH to a newer librdkafka.so.1)`,
  };
})();

describe('client telemetry from librdkafka (python3-confluent-kafka, enable.metrics.push)', () => {
  skipEachUnless(librdkafka);

  it("shows the producer's own metrics in /metrics with its client id, and drops them when it closes", async () => {
    const fast = await startBroker({ clientTelemetry: { pushIntervalMs: 500 } });
    const metrics = brokerMetrics(fast.broker);
    const script = new URL('./python/confluent_telemetry.py', import.meta.url).pathname;
    const child = spawn(PYTHON, [script, fast.bootstrap, 'telemetry-rdkafka', 'rdkafka-producer'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    try {
      const pushed = await new Promise((resolve) => fast.broker.once('client-telemetry', resolve));
      expect(pushed).toMatchObject({ clientId: 'rdkafka-producer', terminating: false });
      const text = await metrics.render();
      expect(text).toContain('# TYPE kch_client_org_apache_kafka_producer_connection_creation_total counter');
      expect(text).toMatch(
        /^kch_client_org_apache_kafka_producer_node_request_latency_avg\{node_id="\d+",client_id="rdkafka-producer",client_instance_id="[\w-]{22}"\} [\d.]+$/m,
      );
      const terminated = new Promise((resolve) =>
        fast.broker.on('client-telemetry', (e) => e.terminating && resolve(e)),
      );
      child.stdin.end();
      await terminated;
      expect(await metrics.render()).not.toContain('client_id="rdkafka-producer"');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
    } finally {
      child.kill();
      metrics.close();
      await fast.close();
    }
  });
});

describe('GetTelemetrySubscriptions and PushTelemetry as Kafka answers them', () => {
  it('advertises both APIs at version 0', async () => {
    const versions = await request('ApiVersions', {});
    for (const apiKey of [ApiKeys.GetTelemetrySubscriptions, ApiKeys.PushTelemetry])
      expect(versions.apiKeys).toContainEqual({ apiKey, minVersion: 0, maxVersion: 0 });
  });

  it('assigns an instance id for the zero id, keeps a given one, and throttles asking again within the interval', async () => {
    const first = await subscribed();
    expect(first.clientInstanceId).not.toBe(ZERO_UUID);
    const again = await request('GetTelemetrySubscriptions', { clientInstanceId: first.clientInstanceId });
    expect(again.errorCode).toBe(ErrorCode.THROTTLING_QUOTA_EXCEEDED);
    const other = await request('GetTelemetrySubscriptions', { clientInstanceId: 'q83vEjRWeJCrze8SNFZ4kA' });
    expect(other).toMatchObject({ errorCode: ErrorCode.NONE, clientInstanceId: 'q83vEjRWeJCrze8SNFZ4kA' });
  });

  it('refuses a push for a reserved instance id with INVALID_REQUEST', async () => {
    expect((await push({ clientInstanceId: ZERO_UUID, subscriptionId: 0 })).errorCode).toBe(
      ErrorCode.INVALID_REQUEST,
    );
  });

  it('answers a push before any subscription, or with another subscription id, UNKNOWN_SUBSCRIPTION_ID; the client may then subscribe at once', async () => {
    const never = { clientInstanceId: 'EjRWeJCrze8SNFZ4kKvN7w', subscriptionId: 12345 };
    expect((await push(never)).errorCode).toBe(ErrorCode.UNKNOWN_SUBSCRIPTION_ID);
    const sub = await subscribed();
    expect((await push({ ...sub, subscriptionId: sub.subscriptionId + 1 })).errorCode).toBe(
      ErrorCode.UNKNOWN_SUBSCRIPTION_ID,
    );
    // Without that error the second request within the interval would be throttled.
    const again = await request('GetTelemetrySubscriptions', { clientInstanceId: sub.clientInstanceId });
    expect(again).toMatchObject({ errorCode: ErrorCode.NONE, subscriptionId: sub.subscriptionId });
  });

  it('throttles a push within the push interval of the last, but takes a terminating one', async () => {
    const sub = await subscribed();
    expect((await push(sub)).errorCode).toBe(ErrorCode.NONE);
    expect((await push(sub)).errorCode).toBe(ErrorCode.THROTTLING_QUOTA_EXCEEDED);
    expect((await push(sub, { terminating: true })).errorCode).toBe(ErrorCode.NONE);
    // Nothing is taken from a client after it said it terminates.
    expect((await push(sub, { terminating: true })).errorCode).toBe(ErrorCode.INVALID_REQUEST);
  });

  it('refuses an unknown compression type with UNSUPPORTED_COMPRESSION_TYPE', async () => {
    const sub = await subscribed();
    expect((await push(sub, { compressionType: 9 })).errorCode).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  });

  it('refuses a payload over telemetry max bytes, compressed or once decompressed, with TELEMETRY_TOO_LARGE', async () => {
    const big = await subscribed();
    expect((await push(big, { metrics: Buffer.alloc(5000) })).errorCode).toBe(ErrorCode.TELEMETRY_TOO_LARGE);
    const inflating = await subscribed();
    const bomb = await compress(CompressionType.Gzip, Buffer.alloc(100_000));
    expect(bomb.length).toBeLessThan(4096);
    expect((await push(inflating, { compressionType: CompressionType.Gzip, metrics: bomb })).errorCode).toBe(
      ErrorCode.TELEMETRY_TOO_LARGE,
    );
  });

  it('answers a payload that is not OTLP metrics, or not in its compression, INVALID_RECORD', async () => {
    const notOtlp = await subscribed();
    expect((await push(notOtlp, { metrics: Buffer.from([0x0a, 0xff, 0xff, 0xff]) })).errorCode).toBe(
      ErrorCode.INVALID_RECORD,
    );
    const notGzip = await subscribed();
    const plain = Buffer.from(await producerMetricsPayload());
    expect((await push(notGzip, { compressionType: CompressionType.Gzip, metrics: plain })).errorCode).toBe(
      ErrorCode.INVALID_RECORD,
    );
  });

  it('takes a zstd-compressed push into /metrics', async () => {
    const sub = await subscribed();
    const metrics = await compress(CompressionType.Zstd, await producerMetricsPayload());
    const socket = await open();
    try {
      const res = await request(
        'PushTelemetry',
        { ...sub, compressionType: CompressionType.Zstd, metrics, terminating: false },
        socket,
      );
      expect(res.errorCode).toBe(ErrorCode.NONE);
    } finally {
      socket.end();
    }
    expect(await render(b.broker)).toContain(
      `kch_client_org_apache_kafka_producer_record_queue_time_avg{client_rack="rack-a",client_id="telemetry-codec",client_instance_id="${sub.clientInstanceId}"} 1.5`,
    );
  });
});

describe('ClientTelemetry bounds', () => {
  const config = {
    metrics: ['*'],
    pushIntervalMs: 1000,
    maxBytes: 1024,
    maxClients: 2,
    maxSeriesPerClient: 1,
  };
  const point = (name: string) => ({
    name,
    description: '',
    type: 'gauge' as const,
    delta: false,
    attributes: {},
    value: 1,
  });
  const pushOf = (t: ClientTelemetry, clientId: string) => {
    const { clientInstanceId, subscriptionId } = t.subscribe(ZERO_UUID, clientId);
    const body = {
      clientInstanceId,
      subscriptionId,
      terminating: false,
      compressionType: 0,
      metrics: new Uint8Array(),
    };
    const checked = t.checkPush(body, clientId);
    t.record(checked.instance!, [point('a'), point('b')]);
  };

  it('drops a client that stopped pushing after max(60 s, 3 push intervals)', () => {
    let now = 1_000_000;
    const t = new ClientTelemetry(config, () => now);
    pushOf(t, 'quiet');
    expect(t.series().map((s) => s.clientId)).toEqual(['quiet']);
    now += 59_999;
    expect(t.series()).toHaveLength(1);
    now += 1;
    expect(t.series()).toHaveLength(0);
    expect(t.size).toBe(0);
  });

  it('keeps at most maxClients instances (the least recently heard from goes) and maxSeriesPerClient series each', () => {
    const t = new ClientTelemetry(config, () => 5_000_000);
    for (const id of ['one', 'two', 'three']) pushOf(t, id);
    expect(t.size).toBe(2);
    expect(t.series().map((s) => `${s.clientId}:${s.name}`)).toEqual(['two:a', 'three:a']);
  });
});
