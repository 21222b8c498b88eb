import { createServer, type Server } from 'node:net';
import type { BrokerContext } from '../context.js';
import type { ApiTable } from '../handler.js';
import { Connection } from './connection.js';
import { RequestMemory } from './request-memory.js';

/** The TCP listener: one Connection per client socket. */
export class KafkaServer {
  private server: Server | undefined;
  readonly connections = new Set<Connection>();
  /** Bytes of requests read and not yet answered, bounded by queuedMaxRequestBytes. */
  readonly requestMemory: RequestMemory;

  constructor(
    private readonly broker: BrokerContext,
    private readonly apis: ApiTable,
  ) {
    this.requestMemory = new RequestMemory(broker.config.queuedMaxRequestBytes, () => {
      for (const c of this.connections) c.updateFlow();
    });
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true }, (socket) => {
        const c = new Connection(socket, this.broker, this.apis, this.requestMemory, (closed) =>
          this.connections.delete(closed),
        );
        this.connections.add(c);
        this.broker.events.emit('connection', {
          connectionId: c.info.id,
          remoteAddress: c.info.remoteAddress,
          remotePort: c.info.remotePort,
        });
      });
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        server.on('error', (e) => this.broker.logger.error('listener error', { error: e }));
        this.server = server;
        const addr = server.address();
        resolve(typeof addr === 'object' && addr ? { host, port: addr.port } : { host, port });
      });
    });
  }

  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes every connection. */
  async close(graceMs: number): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const stopped = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    for (const c of this.connections) c.stopAccepting();
    const drained = Promise.all([...this.connections].map((c) => c.drain()));
    await Promise.race([drained, new Promise((r) => setTimeout(r, graceMs).unref())]);
    for (const c of [...this.connections]) c.end('broker shutting down');
    await stopped;
  }
}
