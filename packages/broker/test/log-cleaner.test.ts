/**
 * The log cleaner's scheduling rules, on a clock the test holds (docs/compaction.md, *When*): records
 * younger than min.compaction.lag.ms are not cleaned; a partition whose dirty share is below
 * min.cleanable.dirty.ratio waits until it reaches it, or until max.compaction.lag.ms passed; a
 * tombstone stays delete.retention.ms after the cleaning that first passed it, and goes at the first
 * cleaning after that. The broker's own cleaner is off: the test runs one look at a time at the time it
 * sets, produces and reads with kafkajs over TCP. Transactions: aborted records are never read,
 * committed records are compacted as any, a producer whose last batch was superseded goes on producing,
 * and a marker goes delete.retention.ms after its transaction's records went.
 */
import { type CompactionEvent, silentLogger } from '@kch/broker';
import { type Admin, Kafka, logLevel, type Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogCleaner } from '../src/log/log-cleaner.js';
import { type RunningBroker, startBroker, TEST_STORAGE, testStorageIn } from './helpers/broker.js';
import { readKeyedFromStart } from './helpers/kafkajs.js';

const DATABASE = 'kch_log_cleaner';
let b: RunningBroker;
let kafka: Kafka;
let admin: Admin;
/** The cleaner's clock, which each look sets. */
let clock = 0;
/**
 * A time an hour ahead, for tests whose records carry the producer's timestamps: with
 * min.compaction.lag.ms 0 they are all old enough then.
 */
const later = () => Date.now() + 3_600_000;
let cleaner: LogCleaner;
const events: CompactionEvent[] = [];

/** Starts the broker (its own cleaner off) and the test's cleaner, on the clock the test holds. */
async function start(storage = testStorageIn(DATABASE)): Promise<void> {
  b = await startBroker({ logCleanerEnable: false, storage });
  const context = b.broker.context;
  cleaner = new LogCleaner({
    topics: context.topics,
    topicDefaults: () => context.topicDefaults,
    backoffMs: 1,
    logger: silentLogger,
    events: context.events,
    now: () => clock,
    states: context.storage.cleanerStates,
  });
  b.broker.on('compaction', (e) => events.push(e));
  kafka = new Kafka({ clientId: 'kch-cleaner', brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
}

async function stop(): Promise<void> {
  await admin?.disconnect();
  await b?.close();
}

beforeAll(() => start());
afterAll(stop);

/** Creates a one-partition compacted topic with `configs` on top of cleanup.policy=compact. */
async function compactedTopic(topic: string, configs: Record<string, string>): Promise<void> {
  const configEntries = Object.entries({ 'cleanup.policy': 'compact', ...configs }).map(([name, value]) => ({
    name,
    value,
  }));
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries }] });
}

/** Sends `messages` as one batch. */
async function produce(topic: string, messages: Message[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages });
  } finally {
    await producer.disconnect();
  }
}

/** One look of the cleaner at `at`: the records it removed from `topic`, or null when it did not clean it. */
async function lookAt(at: number, topic: string): Promise<number | null> {
  clock = at;
  const before = events.length;
  await cleaner.run();
  const mine = events.slice(before).filter((e) => e.topic === topic);
  return mine.length === 0 ? null : mine.reduce((n, e) => n + e.removed, 0);
}

/** Every message from the start as `offset key=value` (`~` for a tombstone), until `count` came. */
function readFromStart(topic: string, count: number, readUncommitted = false): Promise<string[]> {
  return readKeyedFromStart(kafka, topic, count, readUncommitted);
}

const at = (ms: number) => String(ms);

describe('log cleaner scheduling', () => {
  it('does not clean records younger than min.compaction.lag.ms', async () => {
    const topic = 'schedule-min-lag';
    const t = 1_000_000;
    await compactedTopic(topic, { 'min.compaction.lag.ms': '60000', 'min.cleanable.dirty.ratio': '0' });
    await produce(topic, [
      { key: 'k', value: 'a', timestamp: at(t) },
      { key: 'k', value: 'b', timestamp: at(t + 10_000) },
      { key: 'j', value: 'c', timestamp: at(t + 10_000) },
    ]);
    // A millisecond short of the lag for the first record: the cleaning stops before it.
    expect(await lookAt(t + 59_999, topic)).toBe(0);
    expect(events.at(-1)).toMatchObject({ cleanedTo: 0 });
    // The first record is old enough, the others are not: nothing supersedes it yet.
    expect(await lookAt(t + 60_000, topic)).toBe(0);
    expect(events.at(-1)).toMatchObject({ cleanedTo: 1 });
    // All old enough: k=a is superseded and goes.
    expect(await lookAt(t + 70_000, topic)).toBe(1);
    expect(events.at(-1)).toMatchObject({ cleanedTo: 3 });
    expect(await readFromStart(topic, 2)).toEqual(['1 k=b', '2 j=c']);
  });

  it('waits for min.cleanable.dirty.ratio, or for max.compaction.lag.ms', async () => {
    const topic = 'schedule-ratio';
    const t = later();
    await compactedTopic(topic, { 'min.cleanable.dirty.ratio': '0.5', 'max.compaction.lag.ms': '100000' });
    await produce(topic, [
      { key: 'a', value: '1' },
      { key: 'b', value: '1' },
      { key: 'c', value: '1' },
      { key: 'd', value: '1' },
    ]);
    // The whole log is dirty at the first look.
    expect(await lookAt(t, topic)).toBe(0);
    // 1 dirty offset of 5, then 3 of 7: below the ratio, not cleaned.
    await produce(topic, [{ key: 'a', value: '2' }]);
    expect(await lookAt(t + 1, topic)).toBeNull();
    await produce(topic, [
      { key: 'b', value: '2' },
      { key: 'c', value: '2' },
    ]);
    expect(await lookAt(t + 2, topic)).toBeNull();
    // 4 of 8: at the ratio, cleaned: a, b and c's first values go.
    await produce(topic, [{ key: 'd', value: '2' }]);
    expect(await lookAt(t + 3, topic)).toBe(4);

    // 1 dirty offset of 9: below the ratio until max.compaction.lag.ms passed since it was seen dirty.
    await produce(topic, [{ key: 'a', value: '3' }]);
    expect(await lookAt(t + 4, topic)).toBeNull();
    expect(await lookAt(t + 3 + 99_999, topic)).toBeNull();
    expect(await lookAt(t + 3 + 100_000, topic)).toBe(1);
    expect(await readFromStart(topic, 4)).toEqual(['5 b=2', '6 c=2', '7 d=2', '8 a=3']);
  });

  it('keeps a tombstone delete.retention.ms after the cleaning that first passed it, then removes it', async () => {
    const topic = 'schedule-tombstones';
    const t = later();
    await compactedTopic(topic, { 'delete.retention.ms': '1000', 'min.cleanable.dirty.ratio': '0' });
    await produce(topic, [
      { key: 'a', value: '1' },
      { key: 'a', value: null },
      { key: 'x', value: '1' },
    ]);
    // The first cleaning passes a's tombstone at t.
    expect(await lookAt(t, topic)).toBe(1);
    await produce(topic, [
      { key: 'b', value: null },
      { key: 'y', value: '1' },
    ]);
    // The second passes b's at t + 500.
    expect(await lookAt(t + 500, topic)).toBe(0);
    expect(await lookAt(t + 999, topic)).toBeNull();
    // delete.retention.ms after the first: a's goes, b's stays.
    expect(await lookAt(t + 1000, topic)).toBe(1);
    expect(await lookAt(t + 1499, topic)).toBeNull();
    expect(await lookAt(t + 1500, topic)).toBe(1);
    expect(events.at(-1)).toMatchObject({ tombstonesBefore: 5 });
    expect(await readFromStart(topic, 2)).toEqual(['2 x=1', '4 y=1']);
  });

  it.runIf(TEST_STORAGE === 'chdb')(
    'reads where and when it cleaned back after a restart: a tombstone past its horizon goes at the first cleaning',
    async () => {
      const topic = 'schedule-restart';
      const t = later();
      await compactedTopic(topic, { 'delete.retention.ms': '1000' });
      await produce(topic, [
        { key: 'a', value: '1' },
        { key: 'a', value: null },
        { key: 'x', value: '1' },
      ]);
      expect(await lookAt(t, topic)).toBe(1);
      await stop();
      await start();
      // Not dirty, and its tombstone past delete.retention.ms since the cleaning before the restart.
      expect(await lookAt(t + 1000, topic)).toBe(1);
      expect(events.at(-1)).toMatchObject({ tombstonesBefore: 3 });
      expect(await readFromStart(topic, 1)).toEqual(['2 x=1']);
    },
  );
});

describe('compaction of transactional records', () => {
  it('compacts committed records, never shows aborted ones, and the producer goes on after its last batch was superseded', async () => {
    const topic = 'compacted-transactions';
    await compactedTopic(topic, { 'min.cleanable.dirty.ratio': '0' });
    const producer = kafka.producer({
      transactionalId: 'tx-compacted',
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const inTransaction = async (messages: Message[], commit: boolean) => {
      const tx = await producer.transaction();
      await tx.send({ topic, messages });
      await (commit ? tx.commit() : tx.abort());
    };
    try {
      // 0 k1=a, 1 k2=b, 2 COMMIT; 3 k1=x, 4 k3=y, 5 ABORT; 6 k1=c, 7 COMMIT; then 8 k1=d by another producer.
      await inTransaction(
        [
          { key: 'k1', value: 'a' },
          { key: 'k2', value: 'b' },
        ],
        true,
      );
      await inTransaction(
        [
          { key: 'k1', value: 'x' },
          { key: 'k3', value: 'y' },
        ],
        false,
      );
      await inTransaction([{ key: 'k1', value: 'c' }], true);
      await produce(topic, [{ key: 'k1', value: 'd' }]);
      // k1=a goes; k1=c is superseded too, but it is the transactional producer's last batch, which stays
      // (Kafka keeps that batch's header and empties it: see docs/compaction.md); the markers stay.
      expect(await lookAt(later(), topic)).toBe(1);
      const expected = ['1 k2=b', '6 k1=c', '8 k1=d'];
      expect(await readFromStart(topic, 3)).toEqual(expected);
      expect(await readFromStart(topic, 3, true)).toEqual(expected);
      expect((await admin.fetchTopicOffsets(topic)).map((p) => [p.low, p.high])).toEqual([['0', '9']]);

      // Its sequence was kept: the producer's next transaction is accepted, right after.
      await inTransaction([{ key: 'k3', value: 'z' }], true);
      expect((await admin.fetchTopicOffsets(topic)).map((p) => [p.low, p.high])).toEqual([['0', '11']]);
      // Its last batch is the new one now: k1=c goes.
      expect(await lookAt(later(), topic)).toBe(1);
      expect(await readFromStart(topic, 3)).toEqual(['1 k2=b', '8 k1=d', '9 k3=z']);

      // delete.retention.ms (a day) after those cleanings, the markers whose transaction has no record
      // left go: the ABORT (5) and the COMMIT of k1=c (7); those of k2=b (2) and k3=z (10) stay.
      expect(await lookAt(later() + 86_400_000, topic)).toBe(2);
      expect(await readFromStart(topic, 3)).toEqual(['1 k2=b', '8 k1=d', '9 k3=z']);
      expect(await readFromStart(topic, 3, true)).toEqual(['1 k2=b', '8 k1=d', '9 k3=z']);
      expect((await admin.fetchTopicOffsets(topic)).map((p) => [p.low, p.high])).toEqual([['0', '11']]);
    } finally {
      await producer.disconnect();
    }
  });
});
