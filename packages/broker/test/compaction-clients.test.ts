/**
 * Log compaction seen by a real client over TCP (kafkajs): cleanup.policy=compact keeps the latest
 * record of each key at its offset, tombstones stay for delete.retention.ms after the cleaner passed
 * them (the log's last record excepted), and the high watermark and log start never move
 * (docs/compaction.md).
 */
import type { CompactionEvent } from '@kch/broker';
import { type Admin, Kafka, logLevel, type Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBroker, startBroker } from './helpers/broker.js';
import { readKeyedFromStart } from './helpers/kafkajs.js';

let b: RunningBroker;
let kafka: Kafka;
let admin: Admin;

beforeAll(async () => {
  // The cleaner looks every 20 ms, so the test waits on its events, not on a timer of its own.
  b = await startBroker({ logCleanerBackoffMs: 20 });
  kafka = new Kafka({ clientId: 'kch-compaction', brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await admin?.disconnect();
  await b?.close();
});

/** Resolves with the cleaner's event for `topic` once `done` holds for the records it removed in all. */
function compactions(topic: string, done: (removed: number, e: CompactionEvent) => boolean): Promise<void> {
  let removed = 0;
  return new Promise((resolve) => {
    const listener = (e: CompactionEvent) => {
      if (e.topic !== topic) return;
      removed += e.removed;
      if (done(removed, e)) {
        b.broker.off('compaction', listener);
        resolve();
      }
    };
    b.broker.on('compaction', listener);
  });
}

/** Every message from the start as `offset key=value` (`~` for a tombstone), until `count` came. */
function readFromStart(topic: string, count: number, readUncommitted = false): Promise<string[]> {
  return readKeyedFromStart(kafka, topic, count, readUncommitted);
}

/** Sends each of `sends` as one produce request (one batch) to `topic`. */
async function produce(topic: string, ...sends: Message[][]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (const messages of sends) await producer.send({ topic, messages });
  } finally {
    await producer.disconnect();
  }
}

describe('cleanup.policy=compact', () => {
  it('keeps the latest record of each key at its offset, then drops the tombstone after delete.retention.ms', async () => {
    const topic = 'compacted-kafkajs';
    const configs = [
      { name: 'cleanup.policy', value: 'compact' },
      { name: 'min.compaction.lag.ms', value: '0' },
      { name: 'delete.retention.ms', value: '3600000' },
    ];
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: configs }] });
    const firstRemoval = compactions(topic, (removed) => removed >= 2);
    await produce(
      topic,
      [
        { key: 'k1', value: 'a' },
        { key: 'k2', value: 'b' },
      ],
      [
        { key: 'k1', value: 'c' },
        { key: 'k2', value: null },
      ],
    );
    await firstRemoval;
    // Offsets 0 and 1 are holes: a consumer from the start gets k1's latest value and k2's tombstone.
    expect(await readFromStart(topic, 2)).toEqual(['2 k1=c', '3 k2=~']);
    const ends = async () => (await admin.fetchTopicOffsets(topic)).map((p) => [p.low, p.high]);
    expect(await ends()).toEqual([['0', '4']]);

    // The tombstone is the log's last record, which is never removed (a log does not end in holes):
    // a record after it first.
    await produce(topic, [{ key: 'k3', value: 'x' }]);
    // delete.retention.ms passed (0 now) since the cleaner first cleaned past the tombstone: it goes.
    const tombstoneGone = compactions(topic, (removed, e) => removed >= 1 && e.tombstonesBefore >= 4);
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: 2,
          name: topic,
          configEntries: configs.map((c) => (c.name === 'delete.retention.ms' ? { ...c, value: '0' } : c)),
        },
      ],
    });
    await tombstoneGone;
    expect(await ends()).toEqual([['0', '5']]);
    expect(await readFromStart(topic, 2)).toEqual(['2 k1=c', '4 k3=x']);
  });

  it('leaves records younger than min.compaction.lag.ms alone', async () => {
    const topic = 'compacted-min-lag';
    const configEntries = [
      { name: 'cleanup.policy', value: 'compact' },
      { name: 'min.compaction.lag.ms', value: '3600000' },
    ];
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries }] });
    let last: CompactionEvent | undefined;
    const looked = compactions(topic, (_, e) => {
      last = e;
      return true;
    });
    await produce(topic, [
      { key: 'k', value: 'a' },
      { key: 'k', value: 'b' },
    ]);
    await looked;
    // The cleaning stopped at the first record too young: offset 0, nothing removed.
    expect(last).toMatchObject({ cleanedTo: 0, removed: 0 });
    expect(await readFromStart(topic, 2)).toEqual(['0 k=a', '1 k=b']);
  });
});
