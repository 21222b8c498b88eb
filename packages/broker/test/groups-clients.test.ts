/**
 * The group coordinator against real clients over TCP: a kafkajs consumer group (JoinGroup v5,
 * SyncGroup v3, Heartbeat v3, OffsetCommit v5, OffsetFetch v4, LeaveGroup v3, FindCoordinator v2),
 * and a librdkafka static member (group.instance.id) that restarts without a rebalance.
 */
import { type Consumer, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBroker, startBroker } from './helpers/broker.js';
import { run } from './helpers/run.js';
import { skipEachUnless } from './helpers/skip.js';
import { confluentKafka, PYTHON } from './helpers/tools.js';

let b: RunningBroker;
let kafka: Kafka;
const changes: { groupId: string; state: string; generationId: number; members: number }[] = [];

beforeAll(async () => {
  b = await startBroker({ defaultPartitions: 6 });
  b.broker.on('group-change', (c) => changes.push(c));
  kafka = new Kafka({
    clientId: 'kch-groups',
    brokers: [b.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8 },
  });
});

afterAll(async () => {
  await b?.close();
});

describe('kafkajs consumer group', () => {
  it('three members share six partitions, commit, and the rest take over when one leaves', async () => {
    const topic = 'groups-kafkajs';
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, value: `a${i}` })),
    });

    const seen = new Set<string>();
    const partitionsOf = new Map<number, Set<number>>();
    let waiting: { count: number; resolve: () => void } | undefined;
    const consumers: Consumer[] = [];
    for (let i = 0; i < 3; i++) {
      // kafkajs heartbeats between fetches: short fetch waits let members notice rebalances quickly.
      const c = kafka.consumer({
        groupId: 'groups-kafkajs',
        sessionTimeout: 10_000,
        heartbeatInterval: 300,
        rebalanceTimeout: 10_000,
        maxWaitTimeInMs: 100,
      });
      consumers.push(c);
      partitionsOf.set(i, new Set());
      await c.connect();
      await c.subscribe({ topic, fromBeginning: true });
      await c.run({
        eachMessage: async ({ partition, message }) => {
          partitionsOf.get(i)!.add(partition);
          seen.add(message.value!.toString());
          if (waiting && seen.size >= waiting.count) waiting.resolve();
        },
      });
    }
    const until = (count: number) =>
      new Promise<void>((resolve, reject) => {
        if (seen.size >= count) return resolve();
        const timer = setTimeout(
          () => reject(new Error(`only ${seen.size} of ${count} records arrived`)),
          40_000,
        );
        waiting = {
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
    await until(300);

    const admin = kafka.admin();
    await admin.connect();
    // Wait for the group to settle with three members.
    let described = await admin.describeGroups(['groups-kafkajs']);
    for (
      let i = 0;
      i < 50 && (described.groups[0]!.state !== 'Stable' || described.groups[0]!.members.length !== 3);
      i++
    ) {
      await new Promise((r) => setTimeout(r, 200));
      described = await admin.describeGroups(['groups-kafkajs']);
    }
    expect(described.groups[0]).toMatchObject({ state: 'Stable', protocolType: 'consumer' });
    expect(described.groups[0]!.members).toHaveLength(3);

    // One member leaves (LeaveGroup); the other two take over its partitions.
    await consumers[2]!.disconnect();
    await producer.send({
      topic,
      messages: Array.from({ length: 60 }, (_, i) => ({ key: `k${i}`, value: `b${i}` })),
    });
    await until(360);
    for (
      let i = 0;
      i < 50 && (described.groups[0]!.state !== 'Stable' || described.groups[0]!.members.length !== 2);
      i++
    ) {
      await new Promise((r) => setTimeout(r, 200));
      described = await admin.describeGroups(['groups-kafkajs']);
    }
    expect(described.groups[0]!.members).toHaveLength(2);

    await consumers[0]!.disconnect();
    await consumers[1]!.disconnect();
    await producer.disconnect();
    // Every record was committed.
    const committed = await admin.fetchOffsets({ groupId: 'groups-kafkajs', topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    const endOf = new Map(ends.map((p) => [p.partition, p.high]));
    for (const p of committed[0]!.partitions) expect(p.offset).toBe(endOf.get(p.partition));
    const listed = await admin.listGroups();
    expect(listed.groups).toContainEqual({ groupId: 'groups-kafkajs', protocolType: 'consumer' });
    await admin.deleteGroups(['groups-kafkajs']);
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).not.toContain('groups-kafkajs');
    await admin.disconnect();
  });
});

/** A static member consumes, closes (static members send no LeaveGroup), and a new process with the same group.instance.id takes over. */
const STATIC_MEMBER = `
import json, sys, time
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
bootstrap, topic = sys.argv[1], sys.argv[2]
p = Producer({"bootstrap.servers": bootstrap})
def produce(first, last):
    for i in range(first, last):
        p.produce(topic, value=f"m{i}".encode())
    p.flush(10)
def member():
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": topic + "-g", "group.instance.id": "pod-0",
                  "auto.offset.reset": "earliest", "session.timeout.ms": 10000, "enable.auto.commit": False})
    c.subscribe([topic])
    return c
def read(c, got, until):
    deadline = time.time() + 30
    while len(got) < until and time.time() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m.value().decode())
            c.commit(message=m, asynchronous=False)
produce(0, 50)
got = []
c = member()
read(c, got, 50)
c.close()
c = member()
produce(50, 60)
read(c, got, 60)
assigned = sorted(tp.partition for tp in c.assignment())
c.close()
groups = [[g.id, g.state, g.protocol_type, len(g.members)] for g in AdminClient({"bootstrap.servers": bootstrap}).list_groups(timeout=10)]
print(json.dumps({"got": len(got), "distinct": len(set(got)), "assigned": assigned, "groups": groups}))
`;

describe('librdkafka static membership', () => {
  skipEachUnless(confluentKafka);
  it('a restarted static member takes its place back without a rebalance', async () => {
    const topic = 'groups-static';
    const r = await run(PYTHON, ['-c', STATIC_MEMBER, b.bootstrap, topic], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ got: 60, distinct: 60, assigned: [0, 1, 2, 3, 4, 5] });
    expect(out.groups).toContainEqual([`${topic}-g`, 'Stable', 'consumer', 1]);
    // One rebalance only: the second process replaced the member id in generation 1.
    const generations = changes.filter((c) => c.groupId === `${topic}-g`).map((c) => c.generationId);
    expect(Math.max(...generations)).toBe(1);
  });
});
