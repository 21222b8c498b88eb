"""
By hand, not part of the suite: Kafka 4's online migration with librdkafka. A classic consumer
(group.protocol=classic, the given assignment strategy) consumes a 4-partition topic alone; a second
consumer with group.protocol=consumer joins the same group (the group is upgraded to a consumer
group), the two share the partitions without overlap; the second closes (the group is downgraded to a
classic group) and the first takes every partition back. Every record should be consumed, and no
record twice (offsets are committed and survive both conversions).

Start a broker on port 19092 (groupInitialRebalanceDelayMs 0, memory storage), then:
  LD_LIBRARY_PATH=<librdkafka >= 2.10 src dir> /usr/bin/python3 \
    packages/broker/test/scripts/kip848-migration-librdkafka.py [range|cooperative-sticky]
"""
import json, os, subprocess, sys, threading, time
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

BOOT = '127.0.0.1:19092'
STRATEGY = sys.argv[1] if len(sys.argv) > 1 else 'range'
TOPIC = 'mig-' + str(int(time.time()))
GROUP = TOPIC + '-g'
a = AdminClient({'bootstrap.servers': BOOT})
a.create_topics([NewTopic(TOPIC, 4, 1)])[TOPIC].result()
p = Producer({'bootstrap.servers': BOOT})
sent = 0

def produce(n):
    global sent
    for i in range(sent, sent + n):
        p.produce(TOPIC, value=str(i), partition=i % 4)
    p.flush(30)
    sent += n

seen = {}
assignments = {}
lock = threading.Lock()
stop = {}

KCH = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'cli', 'dist', 'main.js')

def group_type():
    # `kch groups list --json` shows each group's type (ListGroups v5).
    out = subprocess.run(['node', KCH, 'groups', 'list', '--json', '-b', BOOT], capture_output=True, text=True).stdout
    for g in json.loads(out or '[]'):
        if g.get('group') == GROUP:
            return '%s %s' % (g.get('type'), g.get('state'))
    return 'none'

def run(name, protocol):
    conf = {'bootstrap.servers': BOOT, 'group.id': GROUP, 'group.protocol': protocol,
            'auto.offset.reset': 'earliest', 'enable.auto.commit': True, 'auto.commit.interval.ms': 200}
    if protocol == 'classic':
        conf.update({'partition.assignment.strategy': STRATEGY, 'session.timeout.ms': 10000,
                     'heartbeat.interval.ms': 500})
    c = Consumer(conf)
    def on_assign(c_, parts):
        with lock:
            if STRATEGY == 'cooperative-sticky' or protocol == 'consumer':
                assignments[name] = sorted(set(assignments.get(name, [])) | {x.partition for x in parts})
            else:
                assignments[name] = sorted(x.partition for x in parts)
            print('%.1f' % time.time(), name, 'assigned', [x.partition for x in parts], '->', assignments[name], flush=True)
    def on_revoke(c_, parts):
        with lock:
            assignments[name] = sorted(set(assignments.get(name, [])) - {x.partition for x in parts})
            print('%.1f' % time.time(), name, 'revoked', [x.partition for x in parts], '->', assignments[name], flush=True)
    c.subscribe([TOPIC], on_assign=on_assign, on_revoke=on_revoke)
    while not stop.get(name):
        m = c.poll(0.2)
        if m is None: continue
        if m.error():
            print(name, 'error', m.error(), flush=True); continue
        with lock:
            seen.setdefault(int(m.value()), []).append(name)
    c.close()
    print(name, 'closed', flush=True)

def wait_all(timeout=40):
    deadline = time.time() + timeout
    while time.time() < deadline and len(seen) < sent: time.sleep(0.2)

def report(step, names):
    time.sleep(3)
    with lock:
        owned = [x for n in names for x in assignments.get(n, [])]
        print(step, '| group', group_type(), '| consumed', len(seen), 'of', sent, '| assignments',
              {n: assignments.get(n) for n in names}, '| disjoint', len(owned) == len(set(owned)),
              'covering', sorted(owned) == [0, 1, 2, 3],
              '| seen twice', sum(1 for v in seen.values() if len(v) > 1), flush=True)

threads = {'classic': threading.Thread(target=run, args=('classic', 'classic'))}
threads['classic'].start()
produce(200); wait_all(); report('classic alone', ['classic'])

threads['kip848'] = threading.Thread(target=run, args=('kip848', 'consumer'))
threads['kip848'].start()
time.sleep(8)
produce(200); wait_all(); report('after the KIP-848 consumer joined', ['classic', 'kip848'])

stop['kip848'] = True; threads['kip848'].join()
time.sleep(5)
produce(200); wait_all(); report('after the KIP-848 consumer left', ['classic'])
stop['classic'] = True; threads['classic'].join()
