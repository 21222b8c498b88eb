"""librdkafka groups one after another, as dozens of client programs would run them against one
broker. The first group is a static member (group.instance.id), which closes without LeaveGroup and
stays until its session expires; then, for each group, two members (polled in turn) share the
2-partition TOPIC with the range or cooperative-sticky assignor, read every record, commit and close
(LeaveGroup). Prints the groups and what each read.
Usage: confluent_group_programs.py BOOTSTRAP TOPIC COUNT
"""
import json
import sys
import time

from confluent_kafka import Consumer, Producer

bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
producer = Producer({"bootstrap.servers": bootstrap})
for p in range(2):
    for i in range(3):
        producer.produce(topic, value=f"p{p}-{i}".encode(), partition=p)
producer.flush(10)


def consumer(group, name, extra):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "heartbeat.interval.ms": 300, **extra})
    c.subscribe([topic])
    return c


def read_all(members, group):
    got = set()
    deadline = time.time() + 30
    while len(got) < 6 or any(not c.assignment() for c in members):
        if time.time() > deadline:
            sys.exit(f"{group}: read {sorted(got)}, assignments {[c.assignment() for c in members]}")
        for c in members:
            m = c.poll(0.05)
            if m is not None and not m.error():
                got.add(m.value().decode())
                c.commit(message=m, asynchronous=False)
    return sorted(got)


groups = {}
static = f"{topic}-static"
member = consumer(static, "s0", {"group.instance.id": "pod-0", "session.timeout.ms": 3000})
groups[static] = read_all([member], static)
member.close()
for i in range(count):
    group = f"{topic}-{i}"
    strategy = "cooperative-sticky" if i % 2 else "range"
    members = [consumer(group, f"m{k}", {"partition.assignment.strategy": strategy}) for k in range(2)]
    groups[group] = read_all(members, group)
    for c in members:
        c.close()
print(json.dumps(groups))
