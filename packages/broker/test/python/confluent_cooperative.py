"""librdkafka cooperative-sticky (KIP-429): one process drives members "a" and "b" (polling each in
turn, which serves their rebalance callbacks) through a topic's growth from 1 to 2 partitions, b's
arrival and b's departure. After each step a record is produced to every partition and must be read
by whoever owns it. Prints the rebalance callbacks (seconds since start, member, assign/revoke,
partitions) and what each read. On a timeout it prints what it knows of the stall: deliveries,
watermarks, positions, the errors the clients reported, and (on stderr) the members' last librdkafka
fetch, group and topic log lines (the offset reset: where ListOffsets said the partition starts).
Usage: confluent_cooperative.py BOOTSTRAP TOPIC
"""
import collections, json, logging, sys, time
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic, NewPartitions
bootstrap, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap})
admin.create_topics([NewTopic(topic, 1, 1)])[topic].result()
producer = Producer({"bootstrap.servers": bootstrap, "error_cb": lambda e: note("producer", e)})
events, got, members, errors = [], {}, {}, []
start = time.time()
def log(*e):
    events.append([round(time.time() - start, 2), *e])
def note(name, error):
    # Errors the clients report (consumer error events, error_cb), kept apart from the events the test checks.
    errors.append([round(time.time() - start, 2), name, str(error)])
# librdkafka's fetch, group and topic debug lines of the members, the last ones kept for a timeout's report.
trace = collections.deque(maxlen=3000)
class Ring(logging.Handler):
    def emit(self, record):
        trace.append(f"{round(time.time() - start, 2)} {record.getMessage()}")
rdkafka_log = logging.getLogger("confluent_cooperative")
rdkafka_log.addHandler(Ring())
rdkafka_log.setLevel(logging.DEBUG)
rdkafka_log.propagate = False
def member(name):
    # A short metadata refresh: the refresh is what shows a member the new partition.
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": topic + "-g", "client.id": name,
                  "partition.assignment.strategy": "cooperative-sticky", "topic.metadata.refresh.interval.ms": 500,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                  "debug": "cgrp,fetch,topic", "logger": rdkafka_log,
                  "error_cb": lambda e: note(name, e)})
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
            # What the broker says of each partition and where each member stands, for the reader of
            # a failure; then the members leave, so that the group empties at once.
            lo_hi = {}
            for name, c in members.items():
                for tp in c.assignment():
                    lo_hi[f"{name}:p{tp.partition}"] = [list(c.get_watermark_offsets(tp, timeout=5)),
                                                       c.position([tp])[0].offset]
            print(json.dumps({"timeout": what, "events": events, "owned": {n: owned(n) for n in members},
                              "watermarks and positions": lo_hi, "deliveries": deliveries, "errors": errors}))
            print("\n".join(trace), file=sys.stderr)
            for c in members.values():
                c.close()
            sys.exit(1)
        for name, c in members.items():
            m = c.poll(0.05)
            if m is not None and m.error():
                note(name, m.error())
            elif m is not None:
                got[name].append([m.partition(), m.value().decode()])
    log("done", what, {n: owned(n) for n in members})
deliveries = []
def delivered(err, msg):
    deliveries.append([round(time.time() - start, 2), msg.partition(), msg.offset() if err is None else str(err)])
def produce(tag):
    # The producer's own metadata may lag the growth: it asks until it sees every partition.
    n = len(producer.list_topics(topic, timeout=10).topics[topic].partitions)
    for p in range(n):
        producer.produce(topic, value=f"{tag}-{p}".encode(), partition=p, on_delivery=delivered)
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
