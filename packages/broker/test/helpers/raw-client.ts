/**
 * A minimal Kafka client over a real socket, built on the codec: sends any request at any version and
 * decodes the response. For tests that need exact control over bytes (sequence numbers, record
 * errors, old versions) that real clients do not offer.
 */
import { connect, type Socket } from 'node:net';
import {
  ApiKeys,
  type ApiMessages,
  type ApiName,
  apiByKey,
  decodeResponseFrame,
  encodeRequestFrame,
  FrameSplitter,
  type Init,
} from '@kch/protocol';

export class RawClient {
  private correlationId = 0;
  private readonly pending = new Map<
    number,
    { apiKey: number; version: number; resolve: (b: Buffer) => void; reject: (e: Error) => void }
  >();
  private readonly splitter = new FrameSplitter({ maxFrameSize: 1 << 30 });

  private constructor(
    private readonly socket: Socket,
    private readonly clientId: string,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.splitter.push(chunk)) {
        const id = frame.readInt32BE(0);
        const p = this.pending.get(id);
        if (!p) continue;
        this.pending.delete(id);
        p.resolve(frame);
      }
    });
    const fail = (e: Error) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed by the broker')));
  }

  static connect(host: string, port: number, clientId = 'raw-client'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, host, () => resolve(new RawClient(s, clientId)));
      s.once('error', reject);
    });
  }

  async send<K extends ApiName>(
    api: K,
    version: number,
    body: Init<ApiMessages[K]['request']>,
  ): Promise<ApiMessages[K]['response']> {
    const apiKey = ApiKeys[api];
    const descriptor = apiByKey(apiKey)!;
    const id = ++this.correlationId;
    const frame = new Promise<Buffer>((resolve, reject) =>
      this.pending.set(id, { apiKey, version, resolve, reject }),
    );
    const chunks = encodeRequestFrame(descriptor.request, apiKey, version, id, this.clientId, body as never);
    this.socket.cork();
    for (const c of chunks) this.socket.write(c);
    this.socket.uncork();
    const { body: response } = decodeResponseFrame(descriptor.response, apiKey, version, await frame);
    return response as ApiMessages[K]['response'];
  }

  /** Sends without waiting for a response (Produce with acks=0). */
  sendOnly<K extends ApiName>(api: K, version: number, body: Init<ApiMessages[K]['request']>): void {
    const apiKey = ApiKeys[api];
    const descriptor = apiByKey(apiKey)!;
    for (const c of encodeRequestFrame(
      descriptor.request,
      apiKey,
      version,
      ++this.correlationId,
      this.clientId,
      body as never,
    )) {
      this.socket.write(c);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
