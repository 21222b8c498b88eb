/**
 * Produce to a kch broker whose storage is embedded ClickHouse (chdb), then query the topic's table
 * with @clickhouse/client: a topic is a ClickHouse table the moment a produce is acknowledged.
 *
 * chdb opens one data directory per process, and the broker holds it; so the SQL client runs in the
 * same process, through chdb's Connection for @clickhouse/client (`chdb/connection`). With a
 * ClickHouse server (`storage: { url }`), any client anywhere connects to the server instead: see
 * `queryClient`.
 */
import { type ClickHouseClient, createClient } from '@clickhouse/client';

type ClientConfig = NonNullable<Parameters<typeof createClient>[0]>;

import { createBroker, silentLogger } from '@kch/broker';
import { clickhouseStorage } from '@kch/storage';
import { createChdbConnection } from 'chdb/connection';
import { Kafka, logLevel, Partitioners } from 'kafkajs';

/** Where the broker keeps its data: a chdb data directory, or a ClickHouse server URL. */
export type Target = { chdb: string } | { url: string };

export interface OrderRow {
  partition: number;
  offset: string;
  key: string;
  value: string;
  timestamp: string;
}

/** A @clickhouse/client client on the same ClickHouse the broker writes to. */
export function queryClient(target: Target): ClickHouseClient {
  if ('url' in target) return createClient({ url: target.url });
  // Same process, same data directory as the broker's storage: chdb shares the engine. (The cast
  // bridges two copies of the same Connection type: @clickhouse/client 1.23.1 bundles its own, chdb
  // 3.4 uses @clickhouse/client-common 1.23.0's; at run time they are one interface.)
  const connection = createChdbConnection({ path: target.chdb }) as unknown as ClientConfig['connection'];
  return createClient({ connection });
}

export async function produceAndQuery(
  target: Target,
  options: { topic?: string; orders?: number; database?: string } = {},
): Promise<{
  rows: OrderRow[];
  perCustomer: { customer: string; orders: string | number; total: string | number }[];
}> {
  const topic = options.topic ?? 'orders';
  const database = options.database ?? 'kafka';
  const count = options.orders ?? 10;

  // 1. A broker on ClickHouse storage, on a free port.
  const broker = await createBroker({
    storage: clickhouseStorage({ ...target, database }),
    logger: silentLogger,
  });
  const { host, port } = await broker.listen({ host: '127.0.0.1', port: 0 });
  const client = queryClient(target);
  try {
    // 2. Produce with an unchanged Kafka client; acks=-1 (all) is answered after the insert.
    const kafka = new Kafka({
      clientId: 'orders-app',
      brokers: [`${host}:${port}`],
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: count }, (_, i) => ({
        key: `customer-${i % 3}`,
        value: JSON.stringify({ order: i, amount: 10 + i }),
      })),
    });
    await producer.disconnect();

    // 3. The records are rows of the table `<database>.<topic>` already.
    const table = `${database}.\`${topic}\``;
    const rows = await (
      await client.query({
        query: `SELECT partition, offset, key, value, timestamp FROM ${table} ORDER BY partition, offset`,
        format: 'JSONEachRow',
      })
    ).json<OrderRow>();
    // 4. ... and ClickHouse is good at what Kafka is not: ad hoc aggregation over the whole log.
    const perCustomer = await (
      await client.query({
        query: `SELECT key AS customer, count() AS orders, sum(JSONExtractInt(value, 'amount')) AS total
                FROM ${table} GROUP BY customer ORDER BY customer`,
        format: 'JSONEachRow',
      })
    ).json<{ customer: string; orders: string | number; total: string | number }>();
    return { rows, perCustomer };
  } finally {
    await client.close();
    await broker.close();
  }
}
