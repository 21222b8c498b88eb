"""Three librdkafka consumers share a 6-partition topic; a fourth joins later.

Prints one JSON object: what was produced, what each consumer read, and the duplicates.
Usage: confluent_group.py BOOTSTRAP TOPIC
"""
import json
import sys
import threading
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap})
admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])[topic].result(10)

acked = []


def produce(prefix, count):
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})

    def report(err, msg):
        if err is None:
            acked.append(msg.value().decode())

    for i in range(count):
        p.produce(topic, key=f"{prefix}-{i}".encode(), value=f"{prefix}-{i}".encode(), on_delivery=report)
        p.poll(0)
    p.flush(30)


reads = {}
lock = threading.Lock()
stop = threading.Event()


def consume(name):
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{topic}-group",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 500,
        }
    )
    c.subscribe([topic])
    while not stop.is_set():
        m = c.poll(0.2)
        if m is None or m.error():
            continue
        with lock:
            reads.setdefault(name, []).append(m.value().decode())
        c.commit(message=m, asynchronous=False)
    c.close()


def read_count():
    with lock:
        return sum(len(v) for v in reads.values())


produce("first", 600)
threads = [threading.Thread(target=consume, args=(f"c{i}",)) for i in range(3)]
for t in threads:
    t.start()
deadline = time.time() + 60
while read_count() < len(acked) and time.time() < deadline:
    time.sleep(0.1)
first_phase = read_count()

# A fourth member joins; the group rebalances and nobody starts over: committed offsets hold.
late = threading.Thread(target=consume, args=("late",))
late.start()
time.sleep(3)
produce("second", 300)
deadline = time.time() + 60
while read_count() < len(acked) and time.time() < deadline:
    time.sleep(0.1)
time.sleep(1)
stop.set()
for t in threads + [late]:
    t.join(30)

everything = [v for values in reads.values() for v in values]
print(
    json.dumps(
        {
            "acked": len(acked),
            "first_phase_reads": first_phase,
            "reads": {k: len(v) for k, v in reads.items()},
            "distinct": len(set(everything)),
            "missing": sorted(set(acked) - set(everything))[:10],
            "duplicates": len(everything) - len(set(everything)),
        }
    )
)
