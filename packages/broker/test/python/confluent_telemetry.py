"""A librdkafka producer that pushes its metrics (KIP-714, librdkafka 2.5+): it produces, then keeps
serving its queues until its standard input closes, and closes (its last push says it terminates).

Usage: confluent_telemetry.py <bootstrap> <topic> <client id>
"""
import sys
import threading

import confluent_kafka

bootstrap, topic, client_id = sys.argv[1:4]
producer = confluent_kafka.Producer({
    "bootstrap.servers": bootstrap,
    "client.id": client_id,
    "enable.metrics.push": True,
})
for i in range(100):
    producer.produce(topic, value=b"%d" % i)
producer.flush(30)
print("produced", flush=True)

stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
while not stop.is_set():
    producer.poll(0.1)
producer.flush(30)
# Destroying the client sends its terminating push.
del producer
