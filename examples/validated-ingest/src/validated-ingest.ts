/**
 * A kch broker embedded in this process, storing its topics in embedded ClickHouse (chdb) in `dir`,
 * with two topics bound to typed tables and checked (./topics.ts), and the clients that use it over
 * TCP: kafkajs, a raw Produce request to read the broker's whole answer, and librdkafka through
 * python3-confluent-kafka.
 *
 * The tables are created with SQL through the storage (`storage.query`, what `kch sql` does) before
 * the broker starts, since the topics are bound to them at start; chdb opens a data directory in one
 * process at a time, so the example's SQL runs on the broker's own storage.
 */
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Broker, type BrokerMetrics, brokerMetrics, createBroker, silentLogger } from '@kch/broker';
import {
  ApiKeys,
  decodeResponseFrame,
  encodeRecordBatchSync,
  encodeRequestFrame,
  FrameSplitter,
  ProduceRequest,
  ProduceResponse,
} from '@kch/protocol';
import { type ClickHouseStorage, clickhouseStorage } from '@kch/storage';
import {
  type Admin,
  type IHeaders,
  Kafka,
  logLevel,
  Partitioners,
  type Producer,
  type RecordMetadata,
} from 'kafkajs';
import type { Input } from './records.js';
import { CREATE_DATABASE, ORDERS_TABLE, REFUNDS_TABLE } from './sql.js';
import { TOPICS } from './topics.js';

export interface Stack {
  broker: Broker;
  storage: ClickHouseStorage;
  /** The broker's Prometheus metrics (what `kch broker` serves at /metrics). */
  metrics: BrokerMetrics;
  /** host:port of the broker. */
  bootstrap: string;
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  close(): Promise<void>;
}

/** Creates the tables, then starts the broker with its topics declared, on a free port. */
export async function start(dir: string): Promise<Stack> {
  const storage = clickhouseStorage({ chdb: dir });
  // The broker opens the storage too (a second open is a no-op); the tables must exist before it
  // binds the topics to them.
  await storage.open();
  for (const sql of [CREATE_DATABASE, ORDERS_TABLE, REFUNDS_TABLE]) await storage.query(sql);
  const broker = await createBroker({
    storage,
    topics: TOPICS,
    logger: silentLogger,
    // The example's consumer groups start at once (Kafka waits 3 s for more members to join).
    groupInitialRebalanceDelayMs: 0,
  });
  const metrics = brokerMetrics(broker);
  const { host, port } = await broker.listen({ host: '127.0.0.1', port: 0 });
  const bootstrap = `${host}:${port}`;
  const kafka = new Kafka({ clientId: 'validated-ingest', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await admin.connect();
  await producer.connect();
  return {
    broker,
    storage,
    metrics,
    bootstrap,
    kafka,
    admin,
    producer,
    async close() {
      await producer.disconnect();
      await admin.disconnect();
      await broker.close();
    },
  };
}

const kafkajsMessage = (i: Input) => ({
  partition: i.partition,
  key: i.key,
  value: i.value,
  timestamp: String(i.timestamp),
  headers: i.headers,
});

/** Produces with kafkajs, acks=all: the records of each partition go in one batch. */
export function produce(stack: Stack, topic: string, inputs: readonly Input[]): Promise<RecordMetadata[]> {
  return stack.producer.send({ topic, acks: -1, messages: inputs.map(kafkajsMessage) });
}

/** What a Produce response says about one partition (Produce v9). */
export type PartitionAnswer = ProduceResponse['responses'][number]['partitionResponses'][number];

/**
 * Sends the records as one batch to one partition in a Produce v9 request, on a connection of its
 * own, and returns the broker's answer for that partition. kafkajs speaks Produce v7 at most, where an
 * answer carries an error code only; from v8 on it also carries `errorMessage` and `recordErrors`
 * (the index and reason of each bad record), which Java's producer puts in its exception's message.
 */
export async function produceRaw(
  bootstrap: string,
  topic: string,
  partition: number,
  inputs: readonly Input[],
): Promise<PartitionAnswer> {
  const records = encodeRecordBatchSync({
    records: inputs.map((i) => ({
      key: i.key === null ? null : Buffer.from(i.key),
      value: Buffer.from(i.value),
      headers: Object.entries(i.headers ?? {}).map(([key, value]) => ({ key, value: Buffer.from(value) })),
      timestamp: BigInt(i.timestamp),
    })),
  });
  const version = 9;
  const request = encodeRequestFrame(ProduceRequest, ApiKeys.Produce, version, 1, 'validated-ingest-raw', {
    acks: -1,
    timeoutMs: 10_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  });
  const colon = bootstrap.lastIndexOf(':');
  const [host, port] = [bootstrap.slice(0, colon), Number(bootstrap.slice(colon + 1))];
  const frame = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect(port, host, () => {
      for (const chunk of request) socket.write(chunk);
    });
    const splitter = new FrameSplitter({ maxFrameSize: 1 << 24 });
    socket.on('data', (chunk: Buffer) => {
      const [first] = splitter.push(chunk);
      if (first) {
        socket.destroy();
        resolve(first);
      }
    });
    socket.on('error', reject);
  });
  const { body } = decodeResponseFrame(ProduceResponse, ApiKeys.Produce, version, frame);
  return body.responses[0]!.partitionResponses[0]!;
}

/** A consumed record, as kafkajs gives it, with text for bytes. */
export interface Consumed {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  timestamp: number;
  headers: Record<string, string>;
}

const text = (b: IHeaders[string]) =>
  b === undefined ? '' : Array.isArray(b) ? b.map(String).join(',') : b.toString();

/**
 * Reads a topic from the beginning with a kafkajs consumer group until `count` records arrived;
 * returns them ordered by partition and offset.
 */
export async function consume(
  stack: Stack,
  topic: string,
  count: number,
  groupId: string,
  timeoutMs = 30_000,
): Promise<Consumed[]> {
  const consumer = stack.kafka.consumer({ groupId });
  const got: Consumed[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${got.length} of ${count} records arrived from ${topic}`)),
        timeoutMs,
      );
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          got.push({
            partition,
            offset: Number(message.offset),
            key: message.key?.toString() ?? null,
            value: message.value?.toString() ?? null,
            timestamp: Number(message.timestamp),
            headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, text(v)])),
          });
          if (got.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return got.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/** The end offset (high watermark) of each partition of a topic, by partition. */
export async function endOffsets(stack: Stack, topic: string): Promise<number[]> {
  const offsets = await stack.admin.fetchTopicOffsets(topic);
  return offsets.sort((a, b) => a.partition - b.partition).map((o) => Number(o.high));
}

/** Runs a SELECT on the broker's ClickHouse; returns its rows. */
export async function select<T = Record<string, unknown>>(stack: Stack, sql: string): Promise<T[]> {
  const text = (await stack.storage.query(sql, 'JSONEachRow')).toString('utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line, unquote64) as T);
}

/**
 * 64-bit integers may come quoted in JSON (`output_format_json_quote_64bit_integers`, whose default
 * depends on the ClickHouse version): read them as numbers (they are small here).
 */
function unquote64(key: string, v: unknown): unknown {
  return typeof v === 'string' && /^-?\d+$/.test(v) && key !== '_raw_message' ? Number(v) : v;
}

/** The series of the broker's metrics whose name is one of `names`, as `name{labels}` -> value. */
export async function metricValues(stack: Stack, names: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await stack.metrics.render()).split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && names.includes(m[1]!)) out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

// ----------------------------------------------------------------- librdkafka (python3-confluent-kafka)

/** Debian's python3, where `apt-get install python3-confluent-kafka` puts the module. */
export const PYTHON = '/usr/bin/python3';

/** Whether python3-confluent-kafka is installed. */
export function librdkafkaAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import confluent_kafka'], { timeout: 15_000 }).status === 0;
}

/** A delivery report of librdkafka: where the record went, or the error. */
export interface Delivery {
  partition: number;
  offset: number | null;
  error: string | null;
  /** The error's name in librdkafka, e.g. INVALID_RECORD. */
  code: string | null;
}

/** Produces with librdkafka (./librdkafka_produce.py); returns one delivery report per input, in order. */
export async function produceWithLibrdkafka(
  bootstrap: string,
  topic: string,
  inputs: readonly Input[],
): Promise<Delivery[]> {
  const script = fileURLToPath(new URL('./librdkafka_produce.py', import.meta.url));
  const child = spawn(PYTHON, [script, bootstrap, topic], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  child.stdin.end(JSON.stringify(inputs.map(({ bad: _, ...i }) => i)));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`${script} exited with ${code}: ${stderr}`);
  return JSON.parse(stdout) as Delivery[];
}

/** The record-check configs of a topic, as DescribeConfigs shows them (what `kch topics describe` prints). */
export async function checkConfigs(stack: Stack, topic: string): Promise<Record<string, string | null>> {
  const names = ['kch.table', 'kch.format', 'kch.invalid.records', 'kch.dead.letter.topic', 'kch.schema'];
  const { resources } = await stack.admin.describeConfigs({
    // ConfigResourceTypes.TOPIC (kafkajs, a CommonJS module, does not export that name to ES modules).
    resources: [{ type: 2, name: topic, configNames: names }],
    includeSynonyms: false,
  });
  return Object.fromEntries(resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
}
