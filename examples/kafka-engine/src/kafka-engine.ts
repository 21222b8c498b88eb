/**
 * A kch broker and a ClickHouse that talk Kafka to each other.
 *
 * The broker stores its topics in embedded ClickHouse (chdb) in `dir`; the example's own SQL runs on
 * the same embedded engine (chdb opens one data directory per process, and a second `Session` on the
 * same directory shares it). ClickHouse's Kafka engine inside it connects to the broker over TCP,
 * like any Kafka client: it would do the same from a ClickHouse server elsewhere, given the broker's
 * address.
 */
import { type Broker, createBroker, silentLogger } from '@kch/broker';
import { clickhouseStorage } from '@kch/storage';
import { Session } from 'chdb';
import { type Admin, AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import type { CdcMessage } from './events.js';
import {
  consumeSql,
  DEFAULT_NAMES,
  KAFKA_TABLES,
  type PipelineNames,
  PUBLISH_REVENUE_SQL,
  produceSql,
} from './sql.js';

export interface Stack {
  broker: Broker;
  /** host:port of the broker. */
  bootstrap: string;
  /** SQL on the embedded ClickHouse that also holds the broker's topics (database `kafka`). */
  ch: Session;
  kafka: Kafka;
  admin: Admin;
  names: PipelineNames;
  close(): Promise<void>;
}

/** Starts a broker on embedded ClickHouse in `dir`, on a free port, and opens SQL on the same engine. */
export async function start(dir: string, names: Partial<PipelineNames> = {}): Promise<Stack> {
  const broker = await createBroker({
    storage: clickhouseStorage({ chdb: dir, database: 'kafka' }),
    logger: silentLogger,
  });
  const { host, port } = await broker.listen({ host: '127.0.0.1', port: 0 });
  const bootstrap = `${host}:${port}`;
  const ch = new Session(dir);
  // Kafka engine tables left by an earlier run point at that run's port: replace them.
  for (const table of KAFKA_TABLES) await query(ch, `DROP TABLE IF EXISTS ${table}`);
  const kafka = new Kafka({
    clientId: 'kafka-engine-example',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  return {
    broker,
    bootstrap,
    ch,
    kafka,
    admin,
    names: { ...DEFAULT_NAMES, brokers: bootstrap, ...names },
    async close() {
      // The Kafka engine tables first: their consumers would keep polling a stopped broker.
      for (const table of KAFKA_TABLES) await query(ch, `DROP TABLE IF EXISTS ${table}`);
      ch.close();
      await admin.disconnect();
      await broker.close();
    },
  };
}

/** Runs SQL; returns the text result (TabSeparated unless another format is given). */
export async function query(ch: Session, sql: string, format = 'TabSeparated'): Promise<string> {
  return (await ch.queryAsync(sql, { format })).text();
}

/** Runs a SELECT; returns its rows. */
export async function select<T = Record<string, unknown>>(ch: Session, sql: string): Promise<T[]> {
  const text = await query(ch, sql, 'JSONEachRow');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);
}

/** Creates the Kafka engine table, the target table and the materialized view (see ./sql.ts). */
export async function createConsumingPipeline(stack: Stack): Promise<void> {
  for (const sql of consumeSql(stack.names)) await query(stack.ch, sql);
}

/** Produces change events to the CDC topic with kafkajs, as Debezium's Kafka Connect would. */
export async function publishChanges(stack: Stack, messages: CdcMessage[], partitions = 3): Promise<void> {
  const topic = stack.names.cdcTopic;
  if (!(await stack.admin.listTopics()).includes(topic)) {
    await stack.admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
  }
  const producer = stack.kafka.producer();
  await producer.connect();
  try {
    // Keyed by primary key: all changes of a row go to one partition, in order.
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

/** One row of `kch groups describe`: a partition's committed offset, end offset, lag and owner. */
export interface GroupOffsetRow {
  topic: string;
  partition: number;
  currentOffset: string | null;
  logEndOffset: string;
  lag: string | null;
  clientId: string | null;
}

export interface GroupDescription {
  group: string;
  state: string;
  protocol: string;
  members: { memberId: string; clientId: string; host: string }[];
  offsets: GroupOffsetRow[];
}

/**
 * A consumer group as `kch groups describe <group>` shows it, through the same Kafka requests
 * (DescribeGroups, OffsetFetch, ListOffsets).
 */
export async function describeGroup(stack: Stack, group: string, topic: string): Promise<GroupDescription> {
  const { groups } = await stack.admin.describeGroups([group]);
  const g = groups[0]!;
  const owners = new Map<number, string>();
  for (const m of g.members) {
    const assignment = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
    for (const p of assignment?.assignment[topic] ?? []) owners.set(p, m.clientId);
  }
  const [committed] = await stack.admin.fetchOffsets({ groupId: group, topics: [topic] });
  const ends = await stack.admin.fetchTopicOffsets(topic);
  const offsets = ends
    .map((end): GroupOffsetRow => {
      const c = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
      const current = c === '-1' ? null : c;
      return {
        topic,
        partition: end.partition,
        currentOffset: current,
        logEndOffset: end.high,
        lag: current === null ? null : String(BigInt(end.high) - BigInt(current)),
        clientId: owners.get(end.partition) ?? null,
      };
    })
    .sort((a, b) => a.partition - b.partition);
  return {
    group,
    state: g.state,
    protocol: g.protocol,
    members: g.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, host: m.clientHost })),
    offsets,
  };
}

/**
 * Waits until the group has committed the end offset of every partition that has records: ClickHouse
 * commits after the materialized view wrote the block, so the rows are then in the table.
 */
export async function waitUntilCaughtUp(
  stack: Stack,
  group: string,
  topic: string,
  timeoutMs = 60_000,
): Promise<GroupDescription> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await describeGroup(stack, group, topic);
    const caughtUp = d.offsets.every((o) => o.logEndOffset === '0' || o.lag === '0');
    if (caughtUp) return d;
    if (Date.now() > deadline) {
      const consumers = await query(
        stack.ch,
        'SELECT consumer_id, assignments.partition_id, assignments.current_offset, exceptions.text FROM system.kafka_consumers FORMAT Vertical',
      );
      throw new Error(
        `group ${group} did not catch up on ${topic} in ${timeoutMs} ms: ${JSON.stringify(d.offsets)}\n${consumers}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Creates the producing Kafka engine table and INSERTs the revenue per customer into it. */
export async function publishRevenue(stack: Stack): Promise<void> {
  for (const sql of produceSql(stack.names)) await query(stack.ch, sql);
  await query(stack.ch, PUBLISH_REVENUE_SQL);
}

/** Reads `count` messages of a topic from the beginning with a kafkajs consumer group. */
export async function consume(
  stack: Stack,
  topic: string,
  count: number,
  groupId: string,
  timeoutMs = 30_000,
): Promise<{ partition: number; offset: string; key: string | null; value: string | null }[]> {
  const consumer = stack.kafka.consumer({ groupId });
  const got: { partition: number; offset: string; key: string | null; value: string | null }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${got.length} of ${count} messages arrived from ${topic}`)),
        timeoutMs,
      );
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          got.push({
            partition,
            offset: message.offset,
            key: message.key?.toString() ?? null,
            value: message.value?.toString() ?? null,
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
  return got;
}
