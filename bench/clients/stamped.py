#!/usr/bin/python3
"""Producer of the `engine-peer` group (bench/engine-peer.ts): records that carry their send time.

    /usr/bin/python3 bench/clients/stamped.py '<json options>'

Each value is a JSON object {"sent": <wall-clock ms, when produce() was called>, "pad": "xx..."} of
about options.size bytes, so that a query on the table the records land in (kch's topic table, or the
MergeTree a ClickHouse Kafka engine table feeds) knows when each one was sent. The wall clock, not
perf_counter: the harness compares it with the times at which its SQL polls saw the rows.

options: bootstrap, topic, size; rate > 0: rate * duration records, paced; else count records at full
speed. acks=all, linger.ms=5, no compression (the settings of bench/clients/rdkafka.py's produce).
Prints one JSON line: records, seconds, first_sent_ms, errors, error, unflushed, latencies_ms (acks of
every sample_every-th record).
"""
import json
import sys
import time

from confluent_kafka import Producer

opts = json.loads(sys.argv[1])
topic = opts["topic"]
rate = opts.get("rate", 0)
total = int(rate * opts["duration"]) if rate > 0 else opts["count"]
sample_every = opts.get("sample_every", 64)
# {"sent":1765134092123.456,"pad":""} is 36 bytes; pad fills the rest.
pad = "x" * max(0, opts.get("size", 100) - 36)
failures = []
latencies = []


def on_delivery(err, msg):
    if err is None:
        latencies.append(msg.latency() * 1000.0)
    else:
        failures.append(str(err))


p = Producer(
    {
        "bootstrap.servers": opts["bootstrap"],
        "acks": "all",
        "linger.ms": 5,
        "batch.size": 1_000_000,
        "batch.num.messages": 10_000,
        "compression.type": "none",
        "enable.idempotence": False,
        "queue.buffering.max.messages": 2_000_000,
        "queue.buffering.max.kbytes": 2_097_151,
    }
)
# Connect and learn the metadata before the clock starts.
p.list_topics(topic, timeout=10)
t0 = time.perf_counter()
first = None
i = 0
while i < total:
    if rate > 0 and i >= int((time.perf_counter() - t0) * rate) + 1:
        p.poll(0.0002)
        continue
    sent = time.time() * 1000.0
    if first is None:
        first = sent
    value = '{"sent":%.3f,"pad":"%s"}' % (sent, pad)
    try:
        if i % sample_every == 0:
            p.produce(topic, value, on_delivery=on_delivery)
        else:
            p.produce(topic, value)
        i += 1
    except BufferError:
        p.poll(0.001)
    if i % 1024 == 0:
        p.poll(0)
left = p.flush(120)
print(
    json.dumps(
        {
            "records": i,
            "bytes": i * len(value),
            "seconds": time.perf_counter() - t0,
            "first_sent_ms": first,
            "errors": len(failures),
            "error": failures[-1] if failures else None,
            "unflushed": left,
            "latencies_ms": latencies,
        }
    )
)
