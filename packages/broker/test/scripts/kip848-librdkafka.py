"""
By hand, not part of the suite: three librdkafka consumers with group.protocol=consumer (KIP-848)
against a kch broker on 127.0.0.1:19092. Checks that they get disjoint assignments covering the
topic's 6 partitions, consume every record once, and take over the partitions of one that leaves.

librdkafka needs ConsumerGroupHeartbeat v1 (Kafka 4.0), which kch serves.
Then start a broker on port 19092 (groupInitialRebalanceDelayMs 0, memory storage) and run:
  LD_LIBRARY_PATH=<librdkafka >= 2.10 src dir> /usr/bin/python3 packages/broker/test/scripts/kip848-librdkafka.py
"""
import sys, threading, time
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

BOOT = '127.0.0.1:19092'
TOPIC = 'kip848-' + str(int(time.time()))
N = 600
a = AdminClient({'bootstrap.servers': BOOT})
a.create_topics([NewTopic(TOPIC, 6, 1)])['%s' % TOPIC].result()
p = Producer({'bootstrap.servers': BOOT})
for i in range(N):
    p.produce(TOPIC, key=str(i), value=str(i), partition=i % 6)
p.flush(30)

seen = {}
assignments = {}
lock = threading.Lock()
stop = {}

def run(name):
    c = Consumer({'bootstrap.servers': BOOT, 'group.id': 'kip848-g', 'group.protocol': 'consumer',
                  'auto.offset.reset': 'earliest', 'enable.auto.commit': True, 'auto.commit.interval.ms': 200,
                  })
    def on_assign(c_, parts):
        with lock:
            assignments[name] = sorted(assignments.get(name, []) + [p.partition for p in parts])
            print(name, 'assigned+', [p.partition for p in parts], '->', assignments[name], flush=True)
    def on_revoke(c_, parts):
        with lock:
            assignments[name] = sorted(set(assignments.get(name, [])) - {p.partition for p in parts})
            print(name, 'revoked-', [p.partition for p in parts], '->', assignments[name], flush=True)
    c.subscribe([TOPIC], on_assign=on_assign, on_revoke=on_revoke)
    while not stop.get(name):
        m = c.poll(0.2)
        if m is None: continue
        if m.error():
            print(name, 'error', m.error(), flush=True); continue
        with lock:
            seen.setdefault(int(m.value()), set()).add(name)
    c.close()
    print(name, 'closed', flush=True)

threads = {n: threading.Thread(target=run, args=(n,)) for n in ['c1', 'c2', 'c3']}
for t in threads.values(): t.start(); time.sleep(1)
deadline = time.time() + 40
while time.time() < deadline and len(seen) < N: time.sleep(0.5)
time.sleep(6)
with lock:
    print('consumed', len(seen), 'of', N, 'assignments', assignments, flush=True)
    owned = [p for v in assignments.values() for p in v]
    print('disjoint', len(owned) == len(set(owned)), 'covering', sorted(owned) == list(range(6)), flush=True)
# c3 leaves: the others take over its partitions
stop['c3'] = True; threads['c3'].join()
for i in range(N, N + 120): p.produce(TOPIC, key=str(i), value=str(i), partition=i % 6)
p.flush(30)
deadline = time.time() + 40
while time.time() < deadline and len(seen) < N + 120: time.sleep(0.5)
time.sleep(6)
with lock:
    print('after c3 left: consumed', len(seen), 'of', N + 120, 'assignments', {k: v for k, v in assignments.items() if k != 'c3'}, flush=True)
    owned = [p for k, v in assignments.items() if k != 'c3' for p in v]
    print('disjoint', len(owned) == len(set(owned)), 'covering', sorted(owned) == list(range(6)), flush=True)
    dup = sum(1 for v in seen.values() if len(v) > 1)
    print('records seen by more than one consumer:', dup, flush=True)
stop['c1'] = stop['c2'] = True
for t in threads.values(): t.join()
