/**
 * A kch broker whose topics are ClickHouse tables (embedded ClickHouse, chdb, in `dir`), a Kafka
 * producer publishing Debezium change events to it over TCP, and a materialized view on the topic's
 * table that keeps a typed table of the orders up to date.
 *
 * No Kafka engine and no consumer: the view reads the topic's own table, inside the insert of each
 * produce, so when the producer has its acknowledgement the typed table already holds the change.
 * The example's SQL runs on the same ClickHouse through the storage (`storage.query`, what `kch sql`
 * does), since chdb opens one data directory per process.
 */
import { type Broker, createBroker, silentLogger } from '@kch/broker';
import { type ClickHouseStorage, clickhouseStorage, type ViewInfo } from '@kch/storage';
import { type Admin, Kafka, logLevel, Partitioners, type Producer, type RecordMetadata } from 'kafkajs';
import { type CdcMessage, TOPIC } from './debezium.js';
import { DATABASE, ORDERS_TABLE, ORDERS_VIEW } from './sql.js';

export interface Stack {
  broker: Broker;
  storage: ClickHouseStorage;
  /** host:port of the broker. */
  bootstrap: string;
  admin: Admin;
  producer: Producer;
  close(): Promise<void>;
}

/** Starts a broker on embedded ClickHouse in `dir` on a free port, with a connected producer. */
export async function start(dir: string): Promise<Stack> {
  const storage = clickhouseStorage({ chdb: dir, database: 'kafka' });
  const broker = await createBroker({ storage, logger: silentLogger });
  const { host, port } = await broker.listen({ host: '127.0.0.1', port: 0 });
  const bootstrap = `${host}:${port}`;
  const kafka = new Kafka({ clientId: 'debezium-connect', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  // Kafka's default partitioner (murmur2 of the key), as Kafka Connect's producer uses.
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await admin.connect();
  await producer.connect();
  return {
    broker,
    storage,
    bootstrap,
    admin,
    producer,
    async close() {
      await producer.disconnect();
      await admin.disconnect();
      await broker.close();
    },
  };
}

/** Creates the CDC topic (Debezium's Kafka Connect would, through auto-creation or its own admin). */
export async function createTopic(stack: Stack, partitions = 3): Promise<void> {
  await stack.admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: partitions }] });
}

/**
 * Produces change events as Debezium's Kafka Connect does: keyed by primary key, so all the changes of
 * an order land in one partition, in order; acks=all, answered once the records (and what the view
 * made of them) are stored.
 */
export async function publish(stack: Stack, messages: CdcMessage[]): Promise<RecordMetadata[]> {
  return stack.producer.send({ topic: TOPIC, acks: -1, messages });
}

/** Creates the typed table, then the materialized view on the topic (backfilling what is there). */
export async function createPipeline(stack: Stack): Promise<ViewInfo> {
  await stack.storage.query(`CREATE DATABASE IF NOT EXISTS ${DATABASE}`);
  await stack.storage.query(ORDERS_TABLE);
  return stack.storage.createView(ORDERS_VIEW);
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
function unquote64(_key: string, v: unknown): unknown {
  return typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
}
