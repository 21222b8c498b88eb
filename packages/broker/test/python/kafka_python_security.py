"""kafka-python over a secured listener: produce, then consume what was produced.
Prints one JSON object: {"offsets": [...], "consumed": [values], "error": null or the error}.
Usage: kafka_python_security.py CONFIG_JSON TOPIC   (CONFIG_JSON: kafka-python client keyword arguments)
"""
import json
import sys

from kafka import KafkaConsumer, KafkaProducer

config = json.loads(sys.argv[1])
topic = sys.argv[2]
result = {"offsets": [], "consumed": [], "error": None}
try:
    producer = KafkaProducer(acks="all", **config)
    futures = [producer.send(topic, value=f"secure-{i}".encode()) for i in range(10)]
    result["offsets"] = [f.get(timeout=30).offset for f in futures]
    producer.close()
    consumer = KafkaConsumer(
        topic, group_id=f"{topic}-group", auto_offset_reset="earliest", consumer_timeout_ms=5000, **config
    )
    result["consumed"] = [m.value.decode() for m in consumer]
    consumer.close()
except Exception as e:  # the test reads the error's text
    result["error"] = f"{type(e).__name__}: {e}"
print(json.dumps(result))
