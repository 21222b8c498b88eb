/**
 * queuedMaxRequestBytes (Kafka's queued.max.request.bytes): past the bound, the broker reads from no
 * connection until answered requests free memory; below it, connections are read at once. Real TCP,
 * raw client; a long-poll Fetch is the request that stays in flight for a known time.
 */
import { brokerMetrics } from '@kch/broker';
import { RawClient } from '@kch/kafka-connection';
import { encodeRecordBatchSync } from '@kch/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestMemory } from '../src/server/request-memory.js';
import { type RunningBroker, startBroker } from './helpers/broker.js';

describe('RequestMemory', () => {
  it('is exhausted from the limit on, and tells each change of that once', () => {
    let changes = 0;
    const m = new RequestMemory(100, () => changes++);
    m.take(60);
    expect([m.exhausted, changes]).toEqual([false, 0]);
    m.take(60); // a request already read always counts, past the limit too
    expect([m.exhausted, m.bytes, changes]).toEqual([true, 120, 1]);
    m.take(5);
    m.release(15); // still at 110
    expect(changes).toBe(1);
    m.release(60);
    expect([m.exhausted, changes]).toEqual([false, 2]);
    m.release(50);
    expect([m.bytes, changes]).toEqual([0, 2]);
  });
});

describe('queuedMaxRequestBytes over TCP', () => {
  let b: RunningBroker | undefined;
  const clients: RawClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await b?.close();
    b = undefined;
  });

  async function connect(): Promise<RawClient> {
    const c = await RawClient.connect(b!.host, b!.port);
    clients.push(c);
    return c;
  }

  /** Times a request on `other` sent while a 1.5 s long poll of `poller` is in flight. */
  async function whileLongPolling(): Promise<{ otherMs: number; pollMs: number }> {
    const admin = await connect();
    const created = await admin.send('CreateTopics', 7, {
      topics: [{ name: 'quiet', numPartitions: 1, replicationFactor: -1, configs: [] }],
      timeoutMs: 5000,
    });
    expect(created.topics[0]!.errorCode).toBe(0);
    const poller = await connect();
    const other = await connect();
    const t0 = performance.now();
    const poll = poller
      .send('Fetch', 12, {
        replicaId: -1,
        maxWaitMs: 1500,
        minBytes: 1,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        topics: [
          { topic: 'quiet', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] },
        ],
      })
      .then(() => performance.now() - t0);
    // Let the broker read the Fetch before the other request arrives.
    await new Promise((r) => setTimeout(r, 200));
    const sent = performance.now();
    const versions = await other.send('ApiVersions', 3, {
      clientSoftwareName: 'test',
      clientSoftwareVersion: '1',
    });
    expect(versions.errorCode).toBe(0);
    const otherMs = performance.now() - sent;
    return { otherMs, pollMs: await poll };
  }

  it('reads other connections at once while requests in flight hold less than the bound', async () => {
    b = await startBroker();
    const { otherMs, pollMs } = await whileLongPolling();
    expect(pollMs).toBeGreaterThanOrEqual(1400);
    expect(otherMs).toBeLessThan(1000);
  });

  it('stops reading every connection while requests in flight hold the bound, and reads again after', async () => {
    // One byte: any request in flight holds the bound, so the long poll keeps the broker from reading.
    b = await startBroker({ queuedMaxRequestBytes: 1 });
    const { otherMs, pollMs } = await whileLongPolling();
    expect(pollMs).toBeGreaterThanOrEqual(1400);
    // Read only once the poll was answered: about 1.5 s after the poll began, 0.2 s before this.
    expect(otherMs).toBeGreaterThanOrEqual(1000);
  });

  it('answers every pipelined produce of several connections, offsets dense, at a bound below one request', async () => {
    b = await startBroker({ queuedMaxRequestBytes: 1 });
    const admin = await connect();
    await admin.send('CreateTopics', 7, {
      topics: [{ name: 'bounded', numPartitions: 1, replicationFactor: -1, configs: [] }],
      timeoutMs: 5000,
    });
    const producers = await Promise.all([connect(), connect(), connect()]);
    const value = Buffer.alloc(2000, 'v');
    const sends = producers.flatMap((c) =>
      Array.from({ length: 20 }, () =>
        c.send('Produce', 9, {
          acks: -1,
          timeoutMs: 5000,
          topicData: [
            {
              name: 'bounded',
              partitionData: [
                { index: 0, records: encodeRecordBatchSync({ records: [{ key: null, value }] }) },
              ],
            },
          ],
        }),
      ),
    );
    const results = await Promise.all(sends);
    const offsets = results.map((r) => {
      const p = r.responses[0]!.partitionResponses[0]!;
      expect(p.errorCode).toBe(0);
      return Number(p.baseOffset);
    });
    expect(offsets.sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i));
  });

  it('counts a request in flight in kch_queued_request_bytes until it is answered', async () => {
    b = await startBroker();
    const metrics = brokerMetrics(b.broker);
    const gauge = async () => Number(/^kch_queued_request_bytes (\d+)$/m.exec(await metrics.render())?.[1]);
    const c = await connect();
    await c.send('CreateTopics', 7, {
      topics: [{ name: 'quiet', numPartitions: 1, replicationFactor: -1, configs: [] }],
      timeoutMs: 5000,
    });
    expect(await gauge()).toBe(0);
    const poll = c.send('Fetch', 12, {
      replicaId: -1,
      maxWaitMs: 800,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      topics: [
        { topic: 'quiet', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] },
      ],
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(await gauge()).toBeGreaterThan(50); // the Fetch frame: header, topic, partition
    await poll;
    expect(await gauge()).toBe(0);
    metrics.close();
  });

  it('reports the bound as queued.max.request.bytes', async () => {
    b = await startBroker({ queuedMaxRequestBytes: 12345678 });
    const c = await connect();
    const r = await c.send('DescribeConfigs', 4, {
      resources: [
        {
          resourceType: 4,
          resourceName: String(b.broker.config.nodeId),
          configurationKeys: ['queued.max.request.bytes'],
        },
      ],
      includeSynonyms: false,
      includeDocumentation: false,
    });
    const entry = r.results[0]!.configs.find((x) => x.name === 'queued.max.request.bytes');
    expect(entry?.value).toBe('12345678');
  });
});
