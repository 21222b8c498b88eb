"""confluent-kafka (librdkafka) over a secured listener: produce, then consume what was produced.
Prints one JSON object: {"delivered": n, "consumed": [values], "error": null or the first error}.
Usage: confluent_security.py CONFIG_JSON TOPIC
CONFIG_JSON holds librdkafka client properties; "oauth_token" in it (with "oauth_expiry") is handed
to the client by an oauth_cb, as an application with its own token provider does.
"""
import json
import sys

from confluent_kafka import Consumer, KafkaException, Producer

config = json.loads(sys.argv[1])
topic = sys.argv[2]
token = config.pop("oauth_token", None)
expiry = config.pop("oauth_expiry", None)
if token is not None:
    config["oauth_cb"] = lambda _config: (token, expiry)

errors = []
config["error_cb"] = lambda e: errors.append(str(e))

result = {"delivered": 0, "consumed": [], "error": None}
try:
    producer = Producer({"message.timeout.ms": 15000, **config})
    delivered = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            delivered.append(msg.offset())

    for i in range(10):
        producer.produce(topic, value=f"secure-{i}".encode(), on_delivery=on_delivery)
    producer.flush(20)
    result["delivered"] = len(delivered)
    if delivered:
        consumer = Consumer({**config, "group.id": f"{topic}-group", "auto.offset.reset": "earliest"})
        consumer.subscribe([topic])
        while len(result["consumed"]) < len(delivered):
            msg = consumer.poll(10)
            if msg is None:
                break
            if msg.error():
                errors.append(str(msg.error()))
                break
            result["consumed"].append(msg.value().decode())
        consumer.close()
except KafkaException as e:
    errors.append(str(e))
result["error"] = errors[0] if errors else None
print(json.dumps(result))
