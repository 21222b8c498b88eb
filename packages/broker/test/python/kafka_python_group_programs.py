"""kafka-python groups one after another: for each group, one consumer reads every record of the
2-partition TOPIC, commits and closes (LeaveGroup). Prints the groups and what each read.
Usage: kafka_python_group_programs.py BOOTSTRAP TOPIC COUNT
"""
import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer

bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
producer = KafkaProducer(bootstrap_servers=bootstrap)
for p in range(2):
    for i in range(3):
        producer.send(topic, value=f"p{p}-{i}".encode(), partition=p).get(timeout=30)
producer.close()

groups = {}
for i in range(count):
    group = f"{topic}-{i}"
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                      enable_auto_commit=False, heartbeat_interval_ms=300)
    got = set()
    deadline = time.time() + 30
    while len(got) < 6:
        if time.time() > deadline:
            sys.exit(f"{group}: read {sorted(got)}")
        for records in c.poll(timeout_ms=100).values():
            got.update(r.value.decode() for r in records)
    c.commit()
    c.close()
    groups[group] = sorted(got)
print(json.dumps(groups))
