/**
 * maxPendingStorageBytes: when storage stores more slowly than producers send, the bytes handed to it
 * and not stored yet stay within the bound plus one append, and every record is still acknowledged
 * and read back in order. Real kafkajs producers and consumer over TCP; the storage is the memory
 * storage behind a real delay per append (as a slow ClickHouse insert would be), which measures
 * what it holds.
 */
import { memoryStorage, type Storage, type StoredBatch, type TopicPartition } from '@kch/storage';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { StorageBacklog } from '../src/log/storage-backlog.js';
import { type RunningBroker, startBroker } from './helpers/broker.js';
import { consumeMessages } from './helpers/kafkajs.js';

/** Bytes handed to storage and not settled yet, as the storage sees them, and the most there were. */
interface Held {
  bytes: number;
  max: number;
  /** The largest batch handed in: one produce request's batch of a partition. */
  largestBatch: number;
  appends: number;
}

/**
 * The memory storage, each append taking `delayMs` more (a timer, in storage's time): appends of a
 * partition are pipelined (`appendsInFlight`) and reach the memory storage in order, one at a time.
 */
function slowStorage(delayMs: number, held: Held): Storage {
  const inner = memoryStorage();
  const chains = new Map<string, Promise<unknown>>();
  const append = (tp: TopicPartition, batches: readonly StoredBatch[], options?: unknown) => {
    let bytes = 0;
    for (const b of batches) {
      bytes += b.bytes.length;
      held.largestBatch = Math.max(held.largestBatch, b.bytes.length);
    }
    held.bytes += bytes;
    held.max = Math.max(held.max, held.bytes);
    held.appends++;
    const key = `${tp.topic}/${tp.partition}`;
    const done = (chains.get(key) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => new Promise((r) => setTimeout(r, delayMs)))
      .then(() => inner.append(tp, batches, options as never))
      .finally(() => {
        held.bytes -= bytes;
      });
    chains.set(key, done);
    return done;
  };
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'append') return append;
      if (prop === 'appendsInFlight') return 4;
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('StorageBacklog', () => {
  it('has room below the bound only, and wakes waiters when bytes are released below it', async () => {
    const b = new StorageBacklog(100);
    b.take(60);
    expect(b.room).toBe(40);
    b.take(60); // an append is handed over whole, past the bound
    expect([b.room, b.bytes, b.maxBytes]).toEqual([0, 120, 120]);
    let woken = false;
    const waiting = b.released().then(() => {
      woken = true;
    });
    b.release(10); // still at the bound
    await Promise.resolve();
    expect(woken).toBe(false);
    b.release(60);
    await waiting;
    expect([woken, b.room, b.maxBytes]).toEqual([true, 50, 120]);
  });
});

describe('maxPendingStorageBytes over TCP', () => {
  let b: RunningBroker | undefined;
  afterEach(async () => {
    await b?.close();
    b = undefined;
  });

  it('keeps what storage holds within the bound plus one append; every record is acknowledged and read in order', async () => {
    const cap = 64 * 1024;
    const held: Held = { bytes: 0, max: 0, largestBatch: 0, appends: 0 };
    b = await startBroker({ storage: slowStorage(10, held), maxPendingStorageBytes: cap });
    const kafka = new Kafka({ clientId: 'backlog', brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'slow', numPartitions: 2 }] });
    await admin.disconnect();

    // Idempotent producers, one request in flight each: each one's records keep its order.
    const producers = 12;
    const sends = 10;
    const perSend = 16;
    const value = (p: number, n: number) => `${p}:${n}:`.padEnd(1024, 'x');
    const acks = await Promise.all(
      Array.from({ length: producers }, async (_, p) => {
        const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
        await producer.connect();
        let acked = 0;
        for (let s = 0; s < sends; s++) {
          const messages = Array.from({ length: perSend }, (_, i) => ({ value: value(p, s * perSend + i) }));
          const [r] = await producer.send({
            topic: 'slow',
            acks: -1,
            messages: messages.map((m) => ({ ...m, partition: p % 2 })),
          });
          expect(r!.errorCode).toBe(0);
          acked += perSend;
        }
        await producer.disconnect();
        return acked;
      }),
    );
    expect(acks.reduce((a, n) => a + n, 0)).toBe(producers * sends * perSend);

    // Storage was behind (the bound was reached), and held no more than the bound and one append.
    expect(held.max).toBeGreaterThanOrEqual(cap);
    expect(held.max).toBeLessThanOrEqual(cap + held.largestBatch);
    expect(held.bytes).toBe(0);
    expect(b.broker.pendingStorageBytes).toBe(0);

    const consumer = kafka.consumer({ groupId: 'backlog-reader' });
    await consumer.connect();
    try {
      const got = await consumeMessages(consumer, 'slow', producers * sends * perSend);
      const next = new Array<number>(producers).fill(0);
      const lastOffset = [-1, -1];
      for (const m of got) {
        const [p, n] = m.message.value!.toString().split(':').map(Number) as [number, number];
        expect(m.partition).toBe(p % 2);
        expect(n).toBe(next[p]); // each producer's records, all of them, in the order sent
        next[p]!++;
        expect(Number(m.message.offset)).toBe(lastOffset[m.partition]! + 1); // no gaps, no repeats
        lastOffset[m.partition] = Number(m.message.offset);
      }
      expect(next).toEqual(new Array(producers).fill(sends * perSend));
    } finally {
      await consumer.disconnect();
    }
  });
});
