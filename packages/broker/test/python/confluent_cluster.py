"""A librdkafka client that runs until its stdin closes, printing what the brokers answered, one line
each, for tests that kill brokers under it (cluster-processes.test.ts).

  confluent_cluster.py produce BOOTSTRAP TOPIC
      an idempotent producer (acks=all) of numbered records r0, r1, ... (about 50 a second, no key);
      prints `ack PARTITION OFFSET VALUE` for each acknowledged record, `err MESSAGE` for each failed
      one and for fatal errors. At the end it flushes what is left and prints `done`.
  confluent_cluster.py consume BOOTSTRAP TOPIC GROUP CLIENT_ID
      a member of GROUP (from the earliest offset, commits after each batch it read); prints
      `got PARTITION OFFSET VALUE` for each record, `committed PARTITION OFFSET` for each commit the
      coordinator acknowledged, `commit-err MESSAGE` for a refused one (while the coordinator moves),
      `assigned P,P,...` at each assignment. At the end it leaves the group and prints `done`.
"""
import sys
import threading

from confluent_kafka import Consumer, KafkaException, Producer

mode, bootstrap, topic = sys.argv[1], sys.argv[2], sys.argv[3]
stop = threading.Event()


def wait_for_stdin():
    sys.stdin.read()
    stop.set()


threading.Thread(target=wait_for_stdin, daemon=True).start()


def say(line):
    print(line, flush=True)


def produce():
    def on_error(err):
        if err.fatal():
            say(f"err fatal {err}")

    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "error_cb": on_error,
        }
    )

    def report(err, msg):
        if err is None:
            say(f"ack {msg.partition()} {msg.offset()} {msg.value().decode()}")
        else:
            say(f"err {msg.value().decode()} {err}")

    n = 0
    while not stop.is_set():
        if len(p) < 1000:
            p.produce(topic, value=f"r{n}".encode(), on_delivery=report)
            n += 1
        p.poll(0.02)
    left = p.flush(60)
    say(f"done {left}")


def consume(group, client_id):
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "client.id": client_id,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 1000,
        }
    )

    def on_assign(consumer, partitions):
        say("assigned " + ",".join(str(tp.partition) for tp in partitions))

    c.subscribe([topic], on_assign=on_assign)
    while not stop.is_set():
        messages = c.consume(num_messages=500, timeout=0.2)
        read = [m for m in messages if not m.error()]
        for m in read:
            say(f"got {m.partition()} {m.offset()} {m.value().decode()}")
        if not read:
            continue
        try:
            for tp in c.commit(asynchronous=False) or []:
                if tp.error is None and tp.offset >= 0:
                    say(f"committed {tp.partition} {tp.offset}")
        except KafkaException as e:
            say(f"commit-err {e}")
    c.close()
    say("done")


if mode == "produce":
    produce()
else:
    consume(sys.argv[4], sys.argv[5])
