"""Produces records with librdkafka (python3-confluent-kafka) and prints a delivery report per record.

Usage: librdkafka_produce.py BOOTSTRAP TOPIC < records.json
records.json: [{"partition": 0, "key": "k" | null, "value": "...", "timestamp": ms, "headers": {...}}, ...]
Prints: [{"partition": 0, "offset": 5 | null, "error": null | "...", "code": null | "INVALID_RECORD"}, ...]
"""
import json
import sys

from confluent_kafka import Producer

bootstrap, topic = sys.argv[1], sys.argv[2]
records = json.load(sys.stdin)

# Not idempotent: a batch the broker rejects is then an ordinary permanent error. One batch per
# partition: the metadata is there before the first record, and linger.ms gathers the records.
producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 200})
producer.list_topics(topic, timeout=10)
reports = [None] * len(records)

for i, r in enumerate(records):
    def on_delivery(err, msg, i=i):
        reports[i] = {
            "partition": msg.partition(),
            "offset": None if err else msg.offset(),
            "error": None if err is None else err.str(),
            "code": None if err is None else err.name(),
        }

    producer.produce(
        topic,
        value=r["value"].encode(),
        key=None if r["key"] is None else r["key"].encode(),
        partition=r["partition"],
        timestamp=r["timestamp"],
        headers=[(k, v.encode()) for k, v in (r.get("headers") or {}).items()],
        on_delivery=on_delivery,
    )
producer.flush(30)
print(json.dumps(reports))
