"""kafka-python: produce, then consume with a group. Prints one JSON object.
Usage: kafka_python_roundtrip.py BOOTSTRAP TOPIC
"""
import json
import sys

from kafka import KafkaConsumer, KafkaProducer

bootstrap, topic = sys.argv[1], sys.argv[2]
producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
futures = [producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), headers=[("h", b"x")]) for i in range(100)]
offsets = [f.get(timeout=30).offset for f in futures]
producer.close()

consumer = KafkaConsumer(
    topic,
    bootstrap_servers=bootstrap,
    group_id=f"{topic}-group",
    auto_offset_reset="earliest",
    consumer_timeout_ms=5000,
)
got = [(m.offset, m.key.decode(), m.value.decode(), [(k, v.decode()) for k, v in m.headers]) for m in consumer]
consumer.commit()
consumer.close()
print(json.dumps({"offsets": offsets, "got": got}))
