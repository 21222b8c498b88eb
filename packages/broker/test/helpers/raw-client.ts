/**
 * A bare Kafka connection for tests that must send what no client library sends: requests before
 * authentication, raw SASL tokens, truncated frames. One request at a time; responses are decoded with
 * the codec.
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
  private readonly frames: Buffer[] = [];
  private waiter: (() => void) | undefined;
  private correlationId = 0;
  closed = false;
  readonly whenClosed: Promise<void>;

  private constructor(readonly socket: Socket) {
    const splitter = new FrameSplitter({ maxFrameSize: 1 << 30 });
    socket.on('data', (chunk: Buffer) => {
      this.frames.push(...splitter.push(chunk));
      this.waiter?.();
    });
    this.whenClosed = new Promise((resolve) => {
      const done = () => {
        this.closed = true;
        this.waiter?.();
        resolve();
      };
      socket.on('close', done);
      socket.on('error', done);
    });
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** The next frame from the broker, or undefined when the connection closed first. */
  async nextFrame(): Promise<Buffer | undefined> {
    while (this.frames.length === 0 && !this.closed) {
      await new Promise<void>((r) => (this.waiter = r));
      this.waiter = undefined;
    }
    return this.frames.shift();
  }

  /** Sends a request and resolves with its decoded response, or undefined when the broker closed. */
  async request<K extends ApiName>(
    api: K,
    version: number,
    message: Init<ApiMessages[K]['request']>,
  ): Promise<ApiMessages[K]['response'] | undefined> {
    const descriptor = apiByKey(ApiKeys[api])!;
    const id = ++this.correlationId;
    for (const c of encodeRequestFrame(
      descriptor.request as never,
      descriptor.apiKey,
      version,
      id,
      'raw',
      message as never,
    ))
      this.socket.write(c);
    const frame = await this.nextFrame();
    if (!frame) return undefined;
    return decodeResponseFrame(descriptor.response as never, descriptor.apiKey, version, frame)
      .body as ApiMessages[K]['response'];
  }

  /** Sends bytes framed with a size prefix (a raw SASL token after a v0 handshake). */
  sendFramed(bytes: Buffer): void {
    const size = Buffer.alloc(4);
    size.writeInt32BE(bytes.length, 0);
    this.socket.write(Buffer.concat([size, bytes]));
  }

  close(): void {
    this.socket.destroy();
  }
}
