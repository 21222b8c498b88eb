"""Dynamic broker configs through librdkafka's AdminClient (legacy AlterConfigs; this confluent-kafka
has no incremental_alter_configs). Prints one JSON object.
Usage: confluent_broker_configs.py BOOTSTRAP TOPIC
"""
import json
import sys

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource

bootstrap, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap})
out = {}


def alter(config):
    res = ConfigResource(ConfigResource.Type.BROKER, "1", set_config=config)
    try:
        admin.alter_configs([res])[res].result(10)
        return None
    except KafkaException as e:
        err = e.args[0]
        return [err.name(), err.str()]


def described(name):
    res = ConfigResource(ConfigResource.Type.BROKER, "1")
    entry = admin.describe_configs([res])[res].result(10)[name]
    return [entry.value, ConfigSource(entry.source).name, entry.is_read_only]


def produce(size):
    p = Producer({"bootstrap.servers": bootstrap, "retries": 0})
    outcome = []
    p.produce(topic, value=b"a" * size, on_delivery=lambda err, msg: outcome.append(err.name() if err else "stored"))
    p.flush(30)
    return outcome[0] if outcome else "no delivery report"


out["before"] = produce(3000)
out["altered"] = alter({"message.max.bytes": "2000"})
out["described"] = described("message.max.bytes")
out["too_large"] = produce(3000)
out["read_only"] = alter({"offsets.retention.minutes": "1"})
out["reset"] = alter({})
out["after_reset"] = produce(3000)
out["described_after_reset"] = described("message.max.bytes")
print(json.dumps(out))
