/**
 * Broker children over one database of the shared ClickHouse, for the `cluster` group (bench/cluster.ts,
 * bench/cluster-failover.ts): starting them, and where their partitions are led (Metadata).
 */

import { BrokerProcess } from './children.js';
import type { Bench } from './context.js';
import type { RawClient } from './raw-client.js';

/** 12 partitions: 4 for each of 3 brokers (packages/broker/src/cluster/assignment.ts balances them). */
export const CLUSTER_PARTITIONS = 12;
/** A broker child starts in seconds; several at once on a loaded 2-core machine, far slower. */
const SETTLE_MS = 60_000;

export interface Shared {
  url: string;
  /** The ClickHouse server's process. */
  pid: number;
}

export interface Node {
  id: number;
  b: BrokerProcess;
}

/** Broker children with `ids` over `database` of the shared ClickHouse. */
export function startBrokers(bench: Bench, shared: Shared, database: string, ids: number[]): Promise<Node[]> {
  return Promise.all(
    ids.map(async (id) => ({
      id,
      b: await BrokerProcess.start({
        storage: 'clickhouse',
        url: shared.url,
        database,
        tailCacheBytes: bench.plan.tailCacheBytes,
        broker: { nodeId: id },
      }),
    })),
  );
}

export const bootstrapOf = (nodes: Node[]) => nodes.map((x) => `127.0.0.1:${x.b.port}`).join(',');

export interface Layout {
  brokers: number[];
  /** Leader node id by partition (-1: none). */
  leaders: number[];
}

/** Metadata of `topic` as the broker at `port` answers it. */
export async function layout(c: RawClient, topic: string): Promise<Layout> {
  const r = await c.send('Metadata', 12, {
    topics: [{ name: topic, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
    allowAutoTopicCreation: false,
    includeTopicAuthorizedOperations: false,
  });
  const partitions = [...(r.topics[0]?.partitions ?? [])].sort((a, b) => a.partitionIndex - b.partitionIndex);
  return { brokers: r.brokers.map((b) => b.nodeId).sort(), leaders: partitions.map((p) => p.leaderId) };
}

/** Whether `l` has every partition led and as many on each of `ids` (only `ids` alive). */
export function spread(l: Layout, ids: number[], partitions: number): boolean {
  const per = partitions / ids.length;
  return (
    JSON.stringify(l.brokers) === JSON.stringify([...ids].sort()) &&
    l.leaders.length === partitions &&
    ids.every((id) => l.leaders.filter((x) => x === id).length === per)
  );
}

/** Waits until the broker behind `c` sees `topic`'s partitions spread evenly over `ids`. */
export async function untilSpread(c: RawClient, topic: string, ids: number[]): Promise<Layout> {
  const deadline = Date.now() + SETTLE_MS;
  let last: Layout | string = 'nothing';
  for (;;) {
    try {
      last = await layout(c, topic);
      if (spread(last, ids, CLUSTER_PARTITIONS)) return last;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(`${topic} not spread over ${ids} within ${SETTLE_MS} ms: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
