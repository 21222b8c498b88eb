/**
 * Classic groups against real clients over TCP in the situations where a group must change without a
 * member leaving cleanly:
 * - cooperative-sticky (KIP-429): a subscribed topic grows, and the members rebalance once their
 *   metadata refresh shows it (Kafka's coordinator does not start that rebalance: the clients do, when
 *   a refresh shows a new partition count); a second member joins, and the first gives up only the
 *   partition it is asked to, over two rebalances; the second leaves and the first takes it back;
 *   kafkajs (eager) rejoins on a grown topic after its metadata refresh as well;
 * - static members (KIP-345) send no LeaveGroup when they close: their sessions expire, and the group
 *   can then be deleted.
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBroker, startBroker } from './helpers/broker.js';
import { run } from './helpers/run.js';
import { skipEachUnless } from './helpers/skip.js';
import { confluentKafka, PYTHON } from './helpers/tools.js';

let b: RunningBroker;
let kafka: Kafka;
const changes: { groupId: string; state: string; generationId: number; members: number }[] = [];

beforeAll(async () => {
  b = await startBroker();
  b.broker.on('group-change', (c) => changes.push(c));
  kafka = new Kafka({ clientId: 'kch-coop', brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
});

afterAll(async () => {
  await b?.close();
});

/**
 * One process drives members "a" and "b" (polling each in turn, which serves their rebalance
 * callbacks) through a topic's growth from 1 to 2 partitions, b's arrival and b's departure. After each
 * step a record is produced to every partition and must be read by whoever owns it. Prints the
 * rebalance callbacks (seconds since start, member, assign/revoke, partitions) and what each read.
 */
const COOPERATIVE = `
import json, sys, time
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic, NewPartitions
bootstrap, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap})
admin.create_topics([NewTopic(topic, 1, 1)])[topic].result()
producer = Producer({"bootstrap.servers": bootstrap})
events, got, members = [], {}, {}
start = time.time()
def log(*e):
    events.append([round(time.time() - start, 2), *e])
def member(name):
    # A short metadata refresh: the refresh is what shows a member the new partition.
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": topic + "-g", "client.id": name,
                  "partition.assignment.strategy": "cooperative-sticky", "topic.metadata.refresh.interval.ms": 500,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
    c.subscribe([topic], on_assign=lambda c, ps: log(name, "assign", sorted(p.partition for p in ps)),
                on_revoke=lambda c, ps: log(name, "revoke", sorted(p.partition for p in ps)))
    members[name] = c
    got[name] = []
def owned(name):
    return sorted(p.partition for p in members[name].assignment())
def poll_until(cond, what, timeout=30):
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            print(json.dumps({"timeout": what, "events": events, "owned": {n: owned(n) for n in members}}))
            sys.exit(1)
        for name, c in members.items():
            m = c.poll(0.05)
            if m is not None and not m.error():
                got[name].append([m.partition(), m.value().decode()])
    log("done", what, {n: owned(n) for n in members})
def produce(tag):
    # The producer's own metadata may lag the growth: it asks until it sees every partition.
    n = len(producer.list_topics(topic, timeout=10).topics[topic].partitions)
    for p in range(n):
        producer.produce(topic, value=f"{tag}-{p}".encode(), partition=p)
    producer.flush(10)
    values = {f"{tag}-{p}" for p in range(n)}
    poll_until(lambda: values <= {v for g in got.values() for _, v in g}, "read " + tag)
member("a")
poll_until(lambda: owned("a") == [0], "a owns p0")
produce("one")
admin.create_partitions([NewPartitions(topic, 2)])[topic].result()
log("grown", len(admin.list_topics(topic, timeout=10).topics[topic].partitions))
poll_until(lambda: owned("a") == [0, 1], "a owns p0 and p1")
produce("two")
member("b")
log("b joins")
poll_until(lambda: len(owned("a")) == 1 and len(owned("b")) == 1, "a and b share")
produce("three")
members.pop("b").close()
log("b closed")
poll_until(lambda: owned("a") == [0, 1], "a owns both again")
produce("four")
members["a"].close()
print(json.dumps({"events": events, "got": got}))
`;

type Event = [number, string, ...unknown[]];

/** The events between the first named `from` and the first named `to` after it. */
function between(events: Event[], from: string, to: string): Event[] {
  const i = events.findIndex((e) => e[1] === from || e[2] === from);
  const j = events.findIndex((e, k) => k > i && (e[1] === to || e[2] === to));
  expect(i, `${from} happened`).toBeGreaterThanOrEqual(0);
  expect(j, `${to} happened`).toBeGreaterThan(i);
  return events.slice(i + 1, j);
}

describe('librdkafka cooperative-sticky group', () => {
  skipEachUnless(confluentKafka);
  it('a grown topic, a second member and its departure are rebalanced incrementally; consumption goes on', async () => {
    const topic = 'coop-grow';
    const r = await run(PYTHON, ['-c', COOPERATIVE, b.bootstrap, topic], { timeoutMs: 120_000 });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const { events, got } = JSON.parse(r.stdout) as {
      events: Event[];
      got: Record<string, [number, string][]>;
    };

    // Metadata shows the new partition as soon as CreatePartitions is answered.
    expect(events.find((e) => e[1] === 'grown')).toEqual([expect.any(Number), 'grown', 2]);
    // The growth is a rebalance that adds partition 1 to a, which gives up nothing.
    const growth = between(events, 'grown', 'a owns p0 and p1');
    expect(growth.filter((e) => e[1] === 'a')).toEqual([[expect.any(Number), 'a', 'assign', [1]]]);

    // b's arrival: a revokes one partition only (the first rebalance), b gets it in the second.
    const arrival = between(events, 'b joins', 'a and b share');
    const revoked = arrival.filter((e) => e[1] === 'a' && e[2] === 'revoke');
    expect(revoked).toHaveLength(1);
    expect(revoked[0]![3]).toHaveLength(1);
    const [given] = revoked[0]![3] as number[];
    const kept = given === 0 ? 1 : 0;
    const shared = events.find((e) => e[2] === 'a and b share')![3];
    expect(shared).toEqual({ a: [kept], b: [given] });
    const generations = changes.filter(
      (c) => c.groupId === `${topic}-g` && c.state === 'CompletingRebalance' && c.members === 2,
    );
    expect(new Set(generations.map((c) => c.generationId)).size).toBeGreaterThanOrEqual(2);

    // b's departure (a dynamic member: LeaveGroup): a is given b's partition and revokes nothing.
    const departure = between(events, 'b closed', 'a owns both again');
    expect(departure.filter((e) => e[1] === 'a')).toEqual([[expect.any(Number), 'a', 'assign', [given]]]);

    // Every record was read by the owner of its partition at the time.
    const reads = (m: string) => got[m]!.map(([, v]) => v).sort();
    expect(reads('a')).toEqual(['four-0', 'four-1', 'one-0', `three-${kept}`, 'two-0', 'two-1']);
    expect(reads('b')).toEqual([`three-${given}`]);
  });
});

describe('kafkajs consumer group', () => {
  it('rebalances onto a grown topic once a metadata refresh (metadataMaxAge) shows the new partition', async () => {
    const topic = 'kafkajs-grow';
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    // kafkajs compares the partition counts of its subscribed topics after each metadata refresh
    // (every metadataMaxAge, 5 minutes by default) and rejoins when one changed.
    const consumer = kafka.consumer({
      groupId: `${topic}-g`,
      metadataMaxAge: 500,
      heartbeatInterval: 300,
      maxWaitTimeInMs: 100,
    });
    const assignments: number[][] = [];
    let assigned: ((partitions: number[]) => void) | undefined;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const partitions = [...(e.payload.memberAssignment[topic] ?? [])].sort();
      assignments.push(partitions);
      assigned?.(partitions);
    });
    const owns = (wanted: number[]) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`assignments: ${JSON.stringify(assignments)}`)),
          20_000,
        );
        assigned = (partitions) => {
          if (JSON.stringify(partitions) !== JSON.stringify(wanted)) return;
          clearTimeout(timer);
          resolve();
        };
        assigned(assignments.at(-1) ?? []);
      });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic });
      await consumer.run({ eachMessage: async () => {} });
      await owns([0]);
      await admin.createPartitions({ topicPartitions: [{ topic, count: 2 }] });
      // Metadata shows the new partition at once.
      const [described] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
      expect(described!.partitions).toHaveLength(2);
      await owns([0, 1]);
    } finally {
      await consumer.disconnect();
      await admin.disconnect();
    }
  });
});

/** Two static members consume, then close: static members send no LeaveGroup. */
const STATIC_CLOSE = `
import json, sys, time
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic
bootstrap, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap})
admin.create_topics([NewTopic(topic, 2, 1)])[topic].result()
members = [Consumer({"bootstrap.servers": bootstrap, "group.id": topic + "-g", "group.instance.id": f"pod-{i}",
                     "auto.offset.reset": "earliest", "session.timeout.ms": 6000}) for i in range(2)]
for c in members:
    c.subscribe([topic])
deadline = time.time() + 30
while sum(len(c.assignment()) for c in members) < 2 or any(not c.assignment() for c in members):
    if time.time() > deadline:
        sys.exit("the members did not share the partitions")
    for c in members:
        c.poll(0.05)
assigned = [sorted(p.partition for p in c.assignment()) for c in members]
for c in members:
    c.close()
print(json.dumps(assigned))
`;

describe('static members that close', () => {
  skipEachUnless(confluentKafka);
  it('are removed once their session expires, and the group can then be deleted', async () => {
    const topic = 'static-close';
    const groupId = `${topic}-g`;
    const r = await run(PYTHON, ['-c', STATIC_CLOSE, b.bootstrap, topic], { timeoutMs: 60_000 });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const closedAt = Date.now();
    const admin = kafka.admin();
    await admin.connect();
    try {
      // Closing sent no LeaveGroup: both members are still there.
      const described = await admin.describeGroups([groupId]);
      expect(described.groups[0]!.members).toHaveLength(2);
      const deleteError = async (): Promise<string | null> => {
        try {
          await admin.deleteGroups([groupId]);
          return null;
        } catch (e) {
          return (e as { groups?: { error: { type: string } }[] }).groups?.[0]?.error.type ?? String(e);
        }
      };
      expect(await deleteError()).toBe('NON_EMPTY_GROUP');
      // After session.timeout.ms (6 s, group.min.session.timeout.ms) both sessions have expired; a
      // bound of twice that allows for a member whose session restarted with a rebalance response.
      let error = await deleteError();
      while (error !== null && Date.now() - closedAt < 12_000 + 2_000) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        error = await deleteError();
      }
      expect(error).toBeNull();
      expect(Date.now() - closedAt).toBeGreaterThanOrEqual(5_000);
    } finally {
      await admin.disconnect();
    }
  });
});
