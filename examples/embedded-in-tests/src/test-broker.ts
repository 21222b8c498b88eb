/**
 * A Kafka broker for tests: in memory, on a free port, inside the test process. Nothing to install,
 * nothing left behind, one per test file (or one per test: it starts in milliseconds).
 */
import { type Broker, type BrokerOptionsInput, createBroker, silentLogger } from '@kch/broker';
import { memoryStorage } from '@kch/storage';

export interface TestBroker {
  broker: Broker;
  /** `host:port`, for a client's bootstrap servers / brokers list. */
  bootstrap: string;
  close(): Promise<void>;
}

export async function startTestBroker(options: Partial<BrokerOptionsInput> = {}): Promise<TestBroker> {
  const broker = await createBroker({
    storage: memoryStorage(),
    // Log lines would interleave with the test output; pass jsonLogger('debug') to see them.
    logger: silentLogger,
    // A new consumer group rebalances at once instead of waiting 3 s for more members.
    groupInitialRebalanceDelayMs: 0,
    ...options,
  });
  const { host, port } = await broker.listen({ host: '127.0.0.1', port: 0 });
  return { broker, bootstrap: `${host}:${port}`, close: () => broker.close() };
}
