/**
 * One TCP connection to a Kafka broker: requests framed with the codec, responses matched by
 * correlation id (Kafka answers a connection's requests in order, so several may be in flight), every
 * request bounded by a timeout, and a lost connection failing whatever waits on it.
 *
 * The broker's tests and the benchmarks use it where a real client would hide what they check: exact
 * batches, sequence numbers, old versions, acks=0 frames.
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

export interface RawClientOptions {
  /** The client id of every request header (default "raw-client"). */
  clientId?: string;
  /** How long to wait for the TCP connection (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * How long a request may wait for its response (Kafka's request.timeout.ms); by default it waits as
   * long as the connection lives, as tests of a broker that holds requests back (long polls, full
   * queues) need.
   */
  requestTimeoutMs?: number;
  /** The largest response frame accepted (default 1 GiB: tests fetch large batches). */
  maxResponseBytes?: number;
}

interface Pending {
  resolve: (frame: Buffer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** "host:port", with brackets around an IPv6 host. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Decodes a response frame (header included) of `api` at `version`. */
export function decodeResponse<K extends ApiName>(
  api: K,
  version: number,
  frame: Buffer,
): ApiMessages[K]['response'] {
  const apiKey = ApiKeys[api];
  return decodeResponseFrame(apiByKey(apiKey)!.response, apiKey, version, frame)
    .body as ApiMessages[K]['response'];
}

export class RawClient {
  readonly address: string;
  private correlationId = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly splitter: FrameSplitter;
  private failure: Error | null = null;
  /** Waits for the frame that answers a raw SASL token (no header, so no correlation id). */
  private rawWaiter: Pending | undefined;
  private closedListeners: (() => void)[] = [];

  private constructor(
    private readonly socket: Socket,
    readonly host: string,
    readonly port: number,
    private readonly clientId: string,
    private readonly requestTimeoutMs: number | undefined,
    maxResponseBytes: number,
  ) {
    this.address = formatAddress(host, port);
    this.splitter = new FrameSplitter({ maxFrameSize: maxResponseBytes });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.fail(new Error(`connection to ${this.address} failed: ${e.message}`)));
    socket.on('close', () => this.fail(new Error(`connection to ${this.address} closed by the broker`)));
  }

  /** Opens a connection; rejects with the socket's error (ECONNREFUSED...) or after the connect timeout. */
  static connect(host: string, port: number, options: RawClientOptions = {}): Promise<RawClient> {
    const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no connection to ${formatAddress(host, port)} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(
          new RawClient(
            socket,
            host,
            port,
            options.clientId ?? 'raw-client',
            options.requestTimeoutMs,
            options.maxResponseBytes ?? 1 << 30,
          ),
        );
      });
    });
  }

  /** Whether the connection failed or was closed (every request on it then rejects). */
  get closed(): boolean {
    return this.failure !== null;
  }

  /** Sends a request at `version` and resolves with the decoded response body. */
  async send<K extends ApiName>(
    api: K,
    version: number,
    body: Init<ApiMessages[K]['request']>,
    options: { timeoutMs?: number } = {},
  ): Promise<ApiMessages[K]['response']> {
    return decodeResponse(api, version, await this.sendForFrame(api, version, body, options));
  }

  /** Sends a request and resolves with its undecoded response frame (header included). */
  sendForFrame<K extends ApiName>(
    api: K,
    version: number,
    body: Init<ApiMessages[K]['request']>,
    options: { timeoutMs?: number } = {},
  ): Promise<Buffer> {
    const id = this.nextId();
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    const frame = new Promise<Buffer>((resolve, reject) => {
      if (this.failure) {
        reject(this.failure);
        return;
      }
      // Responses come in order, so everything behind a request that timed out is stuck too: the
      // connection is dropped, as Kafka's clients do after request.timeout.ms.
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(
              () =>
                this.fail(
                  new Error(`${this.address} did not answer ${api} v${version} within ${timeoutMs} ms`),
                ),
              timeoutMs,
            );
      this.pending.set(id, { resolve, reject, timer });
    });
    this.write(this.encode(api, version, id, body));
    return frame;
  }

  /**
   * Sends a raw SASL token (size-prefixed, no header), as a client does after a v0 SaslHandshake, and
   * resolves with the broker's raw answer.
   */
  sendSaslToken(token: Buffer): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      if (this.failure) {
        reject(this.failure);
        return;
      }
      this.rawWaiter = { resolve, reject, timer: undefined };
      const size = Buffer.alloc(4);
      size.writeInt32BE(token.length, 0);
      this.write([size, token]);
    });
  }

  /** Resolves once the connection is closed, by either side. */
  whenClosed(): Promise<void> {
    if (this.failure) return Promise.resolve();
    return new Promise((resolve) => this.closedListeners.push(resolve));
  }

  /** Sends a request that gets no response (Produce with acks=0). */
  sendOnly<K extends ApiName>(api: K, version: number, body: Init<ApiMessages[K]['request']>): void {
    this.write(this.encode(api, version, this.nextId(), body));
  }

  close(): void {
    this.fail(new Error(`connection to ${this.address} closed`));
  }

  private encode<K extends ApiName>(
    api: K,
    version: number,
    id: number,
    body: Init<ApiMessages[K]['request']>,
  ): Buffer[] {
    const apiKey = ApiKeys[api];
    return encodeRequestFrame(apiByKey(apiKey)!.request, apiKey, version, id, this.clientId, body as never);
  }

  private nextId(): number {
    this.correlationId = (this.correlationId + 1) & 0x7fffffff;
    return this.correlationId;
  }

  private write(chunks: Buffer[]): void {
    if (this.failure) return;
    this.socket.cork();
    for (const c of chunks) this.socket.write(c);
    this.socket.uncork();
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.splitter.push(chunk);
    } catch (e) {
      this.fail(new Error(`bad response frame from ${this.address}: ${(e as Error).message}`));
      return;
    }
    for (const frame of frames) {
      const raw = this.rawWaiter;
      if (raw) {
        this.rawWaiter = undefined;
        raw.resolve(frame);
        continue;
      }
      if (frame.length < 4) continue;
      const id = frame.readInt32BE(0);
      const p = this.pending.get(id);
      if (!p) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.resolve(frame);
    }
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
    this.rawWaiter?.reject(e);
    this.rawWaiter = undefined;
    this.socket.destroy();
    for (const l of this.closedListeners.splice(0)) l();
  }
}
