import { type Broker, type BrokerOptionsInput, createBroker, silentLogger } from '@kch/broker';
import { memoryStorage } from '@kch/storage';

export interface RunningBroker {
  broker: Broker;
  host: string;
  port: number;
  /** host:port, for clients' bootstrap servers. */
  bootstrap: string;
  close(): Promise<void>;
}

/** Starts a broker on a free loopback port, with memory storage unless another is given. */
export async function startBroker(options: Partial<BrokerOptionsInput> = {}): Promise<RunningBroker> {
  const broker = await createBroker({
    storage: memoryStorage(),
    logger: process.env.KCH_TEST_LOG ? undefined : silentLogger,
    groupInitialRebalanceDelayMs: 0,
    ...options,
  });
  const { host, port } = await broker.listen({ host: '127.0.0.1', port: 0 });
  return { broker, host, port, bootstrap: `${host}:${port}`, close: () => broker.close() };
}
