"""A topic in dead-letter mode through librdkafka: an idempotent producer sends valid and invalid JSON
records; a consumer reads the valid ones (with holes where the invalid were) and the dead-letter topic.
Prints one JSON object.
Usage: confluent_dead_letters.py BOOTSTRAP TOPIC
"""
import json
import sys

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, topic = sys.argv[1], sys.argv[2]
dlq = f"{topic}.dlq"
schema = json.dumps({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
admin = AdminClient({"bootstrap.servers": bootstrap})
config = {"kch.schema": schema, "kch.invalid.records": "dead-letter"}
for f in admin.create_topics([NewTopic(topic, 1, 1, config=config)]).values():
    f.result(10)

# Every fifth record is not JSON; one batch (linger) so that no batch is left without records.
p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 200})
offsets_by_index, errors = {}, []
COUNT = 51
for i in range(COUNT):
    value = f"not json {i}" if i % 5 == 4 else json.dumps({"n": i})

    def on_delivery(err, msg, i=i):
        if err:
            errors.append(str(err))
        else:
            offsets_by_index[i] = msg.offset()

    p.produce(topic, key=f"k{i}".encode(), value=value.encode(), headers=[("i", str(i).encode())],
              on_delivery=on_delivery)
p.flush(30)


def read_all(name):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{name}-reader", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(name, 0, 0)])
    _, high = c.get_watermark_offsets(TopicPartition(name, 0), timeout=10)
    got = []
    while True:
        m = c.poll(5)
        if m is None:
            break
        if m.error():
            raise RuntimeError(str(m.error()))
        got.append({"offset": m.offset(), "key": m.key().decode(), "value": m.value().decode(),
                    "headers": {k: v.decode() for k, v in (m.headers() or [])}})
        if m.offset() >= high - 1:
            break
    c.close()
    return high, got


high, records = read_all(topic)
dlq_high, dead = read_all(dlq)
print(json.dumps({
    "errors": errors[:5],
    # The producer learns each record's offset, dead-lettered or not: the batch's base plus its index.
    "delivered_at_index": sorted(offsets_by_index.items()) == [(i, i) for i in range(COUNT)],
    "high": high,
    "offsets": [r["offset"] for r in records],
    "values": [json.loads(r["value"])["n"] for r in records],
    "dlq_high": dlq_high,
    "dead": dead,
}))
