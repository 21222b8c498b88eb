"""A consume-transform-produce loop with librdkafka's transactional API, stopped half-way and restarted.

Reads TOPIC-in (100 records), writes each value upper-cased to TOPIC-out in transactions of 10, with
the consumer's offsets sent in the same transaction. One transaction is aborted (and its input read
again); the first instance then stops with a transaction open, and a second instance with the same
transactional.id takes over: its init_transactions fences the first and aborts the open transaction.
The fenced first instance then tries to commit and must fail.

Prints one JSON object: what a read_committed consumer of TOPIC-out read, and what the zombie got.
Usage: confluent_transactions.py BOOTSTRAP TOPIC
"""
import json
import sys

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, topic = sys.argv[1], sys.argv[2]
source, sink, group = f"{topic}-in", f"{topic}-out", f"{topic}-eos"
admin = AdminClient({"bootstrap.servers": bootstrap})
for name in (source, sink):
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])[name].result(10)

plain = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
for i in range(100):
    plain.produce(source, key=str(i).encode(), value=f"v{i:03d}".encode())
plain.flush(30)


def instance():
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    consumer.assign([TopicPartition(source, 0)])
    producer = Producer(
        {"bootstrap.servers": bootstrap, "transactional.id": f"{topic}-tx", "transaction.timeout.ms": 60000}
    )
    producer.init_transactions(30)
    return consumer, producer


def batch_of(consumer, size):
    got = []
    while len(got) < size:
        m = consumer.poll(5)
        if m is None:
            break
        if m.error():
            continue
        got.append(m)
    return got


def transform(consumer, producer, size, outcome):
    msgs = batch_of(consumer, size)
    if not msgs:
        return 0
    producer.begin_transaction()
    for m in msgs:
        producer.produce(sink, key=m.key(), value=m.value().upper())
    producer.send_offsets_to_transaction(
        consumer.position(consumer.assignment()), consumer.consumer_group_metadata(), 30
    )
    if outcome == "commit":
        producer.commit_transaction(30)
    elif outcome == "abort":
        producer.abort_transaction(30)
        # The aborted batch's input is read again from the committed offsets.
        committed = consumer.committed([TopicPartition(source, 0)], 10)
        consumer.seek(TopicPartition(source, 0, max(committed[0].offset, 0)))
    else:
        producer.flush(30)  # left open: the instance "dies" here
    return len(msgs)


consumer, zombie = instance()
plan = ["commit", "commit", "abort", "commit", "commit", "open"]
for outcome in plan:
    transform(consumer, zombie, 10, outcome)
consumer.close()

# The second instance fences the first and aborts its open transaction.
consumer, producer = instance()
while transform(consumer, producer, 10, "commit"):
    pass
consumer.close()

zombie_error = None
try:
    zombie.commit_transaction(10)
except KafkaException as e:
    zombie_error = e.args[0].name()

reader = Consumer(
    {
        "bootstrap.servers": bootstrap,
        "group.id": f"{topic}-reader",
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
    }
)
reader.assign([TopicPartition(sink, 0, 0)])
values = []
while True:
    m = reader.poll(10)
    if m is None:
        break
    if m.error():
        break  # end of partition
    values.append(m.value().decode())
reader.close()
committed = Consumer({"bootstrap.servers": bootstrap, "group.id": group}).committed(
    [TopicPartition(source, 0)], 10
)[0].offset
print(json.dumps({"values": values, "zombie_error": zombie_error, "committed": committed}))
