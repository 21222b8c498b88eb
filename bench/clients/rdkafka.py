#!/usr/bin/python3
"""librdkafka (python3-confluent-kafka) client for the kch benchmarks, driven by bench/run.ts.

    /usr/bin/python3 bench/clients/rdkafka.py '<json options>'

Modes (options.mode):
  produce  count records (rate * duration when rate > 0; as many as duration allows when count is 0)
           with acks=all and tuned batching; every
           sample_every-th record asks for a delivery report, whose msg.latency() is the ack latency
           (produce() call to acknowledgement, linger included).
  txn      count records in transactions of transaction_size (transactional.id, acks=all): each
           transaction is begun, filled, then committed; commit_ms holds how long each commit took
           (commit_transaction: the flush of its last records, then EndTxn).
  consume  reads count records from the given offsets (assign, no group), counting them.
  watermarks  the low and high watermarks of partitions 0..partitions-1 (what the broker still
           holds: librdkafka's mock cluster keeps only the last ~5 MiB of each partition).
  e2e      a producer thread at a fixed rate stamps perf_counter() into each value; a consumer in the
           same process measures produce-to-consume latency.
Prints one JSON line with the figures and this process's CPU time (cpu_seconds: the whole process;
timed_cpu_seconds: from the start of the clock, without Python's start-up and connecting).
options.config: more client properties over the bench's own (security.protocol, sasl.*, ssl.*).
"""
import json
import resource
import struct
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition, libversion

opts = json.loads(sys.argv[1])
size = opts["size"]


def load_pool():
    with open(opts["pool"], "rb") as f:
        data = f.read()
    return [data[i : i + size] for i in range(0, len(data) - size + 1, size)]


def producer_config():
    return {
        "bootstrap.servers": opts["bootstrap"],
        "acks": "all",
        "linger.ms": opts.get("linger_ms", 5),
        "batch.size": opts.get("batch_size", 1_000_000),
        "batch.num.messages": 10_000,
        "compression.type": "none",
        "enable.idempotence": False,
        "queue.buffering.max.messages": 2_000_000,
        "queue.buffering.max.kbytes": 2_097_151,
        "api.version.request": True,
        **opts.get("config", {}),
    }


def consumer_config():
    return {
        "bootstrap.servers": opts["bootstrap"],
        "group.id": "kch-bench",
        "enable.auto.commit": False,
        "fetch.max.bytes": 52_428_800,
        "max.partition.fetch.bytes": 10_485_760,
        "fetch.wait.max.ms": opts.get("fetch_wait_ms", 100),
        "fetch.min.bytes": 1,
        "queued.min.messages": 1_000_000,
        "queued.max.messages.kbytes": 1_048_576,
        "check.crcs": False,
        "enable.partition.eof": False,
        **opts.get("config", {}),
    }


def cpu_now():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def usage():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_seconds": round(r.ru_utime + r.ru_stime, 3),
        "max_rss_mib": round(r.ru_maxrss / 1024, 1),
        "librdkafka": libversion()[0],
    }


def produce():
    pool = load_pool()
    npool = len(pool)
    topic = opts["topic"]
    rate = opts.get("rate", 0)
    duration = opts.get("duration", 0)
    # rate > 0: rate * duration records, paced; else count records, or as many as fit in duration.
    if rate > 0:
        total = int(rate * duration)
    elif duration > 0:
        total = 1 << 62
    else:
        total = opts["count"]
    sample_every = opts.get("sample_every", 64)
    latencies = []
    errors = [0, None]

    def on_delivery(err, msg):
        if err is not None:
            errors[0] += 1
            errors[1] = str(err)
        else:
            latencies.append(msg.latency() * 1000.0)

    p = Producer(producer_config())
    # Connect and learn the metadata before the clock starts.
    p.list_topics(topic, timeout=10)
    produce_ = p.produce
    cpu0 = cpu_now()
    t0 = time.perf_counter()
    i = 0
    timed = rate == 0 and duration > 0
    while i < total:
        if rate > 0:
            target = min(total, int((time.perf_counter() - t0) * rate) + 1)
            if i >= target:
                p.poll(0.0002)
                continue
        else:
            if timed and time.perf_counter() - t0 >= duration:
                break
            target = min(total, i + 4096)
        while i < target:
            try:
                if i % sample_every == 0:
                    produce_(topic, pool[i % npool], on_delivery=on_delivery)
                else:
                    produce_(topic, pool[i % npool])
                i += 1
            except BufferError:
                p.poll(0.001)
        p.poll(0)
    sent_at = time.perf_counter()
    left = p.flush(120)
    t1 = time.perf_counter()
    out = {
        "records": i,
        "bytes": i * size,
        "seconds": t1 - t0,
        "send_seconds": sent_at - t0,
        "unflushed": left,
        "errors": errors[0],
        "error": errors[1],
        "latencies_ms": latencies,
        "timed_cpu_seconds": round(cpu_now() - cpu0, 3),
    }
    out.update(usage())
    print(json.dumps(out))


def produce_transactional():
    pool = load_pool()
    npool = len(pool)
    topic = opts["topic"]
    total = opts["count"]
    per_txn = opts["transaction_size"]
    p = Producer(
        {**producer_config(), "enable.idempotence": True, "transactional.id": opts.get("transactional_id", "kch-bench-txn")}
    )
    p.init_transactions(30)
    p.list_topics(topic, timeout=10)
    produce_ = p.produce
    commits = []
    cpu0 = cpu_now()
    t0 = time.perf_counter()
    i = 0
    while i < total:
        p.begin_transaction()
        end = min(total, i + per_txn)
        while i < end:
            try:
                produce_(topic, pool[i % npool])
                i += 1
            except BufferError:
                p.poll(0.001)
        c0 = time.perf_counter()
        p.commit_transaction(60)
        commits.append((time.perf_counter() - c0) * 1000.0)
    t1 = time.perf_counter()
    out = {
        "records": i,
        "bytes": i * size,
        "seconds": t1 - t0,
        "transactions": len(commits),
        "commit_ms": commits,
        "timed_cpu_seconds": round(cpu_now() - cpu0, 3),
    }
    out.update(usage())
    print(json.dumps(out))


def consume():
    topic = opts["topic"]
    want = opts["count"]
    offsets = opts["offsets"]
    c = Consumer(consumer_config())
    # Connected before the clock starts (as the fetcher is).
    c.list_topics(topic, timeout=10)
    cpu0 = cpu_now()
    t0 = time.perf_counter()
    c.assign([TopicPartition(topic, p, o) for p, o in enumerate(offsets)])
    got = 0
    nbytes = 0
    first = None
    last = t0
    idle_limit = opts.get("idle_seconds", 15)
    while got < want:
        # Never ask for more than is left: consume() waits for num_messages or the timeout.
        msgs = c.consume(num_messages=min(10_000, want - got), timeout=0.5)
        now = time.perf_counter()
        if not msgs:
            if now - last > idle_limit:
                break
            continue
        if first is None:
            first = now
        for m in msgs:
            if m.error() is None:
                got += 1
                nbytes += len(m.value())
        last = now
    cpu1 = cpu_now()  # before close(): leaving the group is not consuming
    c.close()
    out = {
        "records": got,
        "bytes": nbytes,
        # From assign() to the last record: the first fetch (a cold read) counts.
        "seconds": last - t0,
        "seconds_from_first_record": last - (first if first is not None else t0),
        "timed_cpu_seconds": round(cpu1 - cpu0, 3),
    }
    out.update(usage())
    print(json.dumps(out))


def watermarks():
    topic = opts["topic"]
    c = Consumer(consumer_config())
    marks = [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in range(opts["partitions"])]
    c.close()
    print(json.dumps({"records": 0, "bytes": 0, "seconds": 0, "low": [m[0] for m in marks], "high": [m[1] for m in marks]}))


def e2e():
    pool = load_pool()
    npool = len(pool)
    topic = opts["topic"]
    rate = opts["rate"]
    total = int(rate * opts["duration"])
    partitions = opts["partitions"]
    c = Consumer(consumer_config())
    c.assign([TopicPartition(topic, p, opts["start_offsets"][p]) for p in range(partitions)])
    c.consume(num_messages=1, timeout=1.0)  # connect and fetch once before producing
    p = Producer(producer_config())
    p.list_topics(topic, timeout=10)
    errors = [0]

    def run_producer():
        t0 = time.perf_counter()
        i = 0
        while i < total:
            target = min(total, int((time.perf_counter() - t0) * rate) + 1)
            if i >= target:
                p.poll(0.0002)
                continue
            while i < target:
                v = pool[i % npool]
                try:
                    p.produce(topic, struct.pack(">d", time.perf_counter()) + v[8:])
                    i += 1
                except BufferError:
                    p.poll(0.001)
            p.poll(0)
        errors[0] = p.flush(60)

    th = threading.Thread(target=run_producer)
    th.start()
    latencies = []
    got = 0
    last = time.perf_counter()
    unpack = struct.unpack
    while got < total:
        # poll() returns each message as soon as it is there (consume() would wait to fill a batch).
        m = c.poll(0.1)
        now = time.perf_counter()
        if m is None:
            if now - last > 15:
                break
            continue
        if m.error() is None:
            latencies.append((now - unpack(">d", m.value()[:8])[0]) * 1000.0)
            got += 1
        last = now
    th.join()
    c.close()
    out = {"records": got, "expected": total, "unflushed": errors[0], "latencies_ms": latencies}
    out.update(usage())
    print(json.dumps(out))


try:
    {"produce": produce, "txn": produce_transactional, "consume": consume, "e2e": e2e, "watermarks": watermarks}[opts["mode"]]()
except KafkaException as e:
    print(json.dumps({"error": str(e)}))
    sys.exit(1)
