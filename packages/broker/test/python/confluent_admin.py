"""AdminClient and an idempotent producer through librdkafka. Prints one JSON object.
Usage: confluent_admin.py BOOTSTRAP PREFIX
"""
import json
import sys

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

bootstrap, prefix = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap})
out = {}

t1, t2 = f"{prefix}-one", f"{prefix}-two"
futures = admin.create_topics(
    [NewTopic(t1, num_partitions=3, replication_factor=1, config={"retention.ms": "60000"}), NewTopic(t2, 1, 1)]
)
for f in futures.values():
    f.result(10)
dup = admin.create_topics([NewTopic(t1, 1, 1)])[t1]
try:
    dup.result(10)
    out["duplicate_error"] = None
except Exception as e:  # noqa: BLE001 - the KafkaException carries the code
    out["duplicate_error"] = e.args[0].name()

md = admin.list_topics(timeout=10)
out["topics"] = sorted(t for t in md.topics if t.startswith(prefix))
out["partitions_one"] = len(md.topics[t1].partitions)

res = ConfigResource(ConfigResource.Type.TOPIC, t1)
configs = admin.describe_configs([res])[res].result(10)
out["retention_ms"] = configs["retention.ms"].value
out["cleanup_policy_default"] = configs["cleanup.policy"].is_default

res2 = ConfigResource(ConfigResource.Type.TOPIC, t1, set_config={"retention.ms": "120000"})
admin.alter_configs([res2])[res2].result(10)
out["retention_after_alter"] = admin.describe_configs([res])[res].result(10)["retention.ms"].value

admin.create_partitions([NewPartitions(t2, 4)])[t2].result(10)
out["partitions_two"] = len(admin.list_topics(timeout=10).topics[t2].partitions)

p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
errors = []
for i in range(500):
    p.produce(t1, key=str(i % 7).encode(), value=f"v{i}".encode(),
              on_delivery=lambda err, msg: errors.append(str(err)) if err else None)
    p.poll(0)
p.flush(30)
out["produce_errors"] = errors[:5]

c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{prefix}-reader", "auto.offset.reset": "earliest"})
total = 0
for part in range(3):
    low, high = c.get_watermark_offsets(TopicPartition(t1, part), timeout=10)
    total += high - low
c.close()
out["stored"] = total

admin.delete_topics([t2])[t2].result(10)
out["after_delete"] = sorted(t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix))
print(json.dumps(out))
