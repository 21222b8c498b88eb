/**
 * One TCP connection to one broker: frames requests with the codec, matches responses by correlation
 * id, and bounds every request by a timeout. Requests may be pipelined; Kafka answers them in order.
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
import { CliError, UnavailableError } from './errors.js';

export interface ConnectionOptions {
  host: string;
  port: number;
  clientId: string;
  /** How long to wait for the TCP connection (default 10 s). */
  connectTimeoutMs?: number;
  /** Default time a request may wait for its response (Kafka's request.timeout.ms, default 30 s). */
  requestTimeoutMs?: number;
  /** Appended to the "cannot connect" message, e.g. how this address was learnt. */
  connectHint?: string;
}

interface Pending {
  api: ApiName;
  version: number;
  resolve: (frame: Buffer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** The largest response accepted: Fetch responses are bounded by the request's maxBytes (50 MiB here). */
const MAX_RESPONSE_SIZE = 256 * 1024 * 1024;

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

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

/** "host:port", with brackets around an IPv6 host. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A short human reason for a socket error. */
export function describeSocketError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err?.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'ECONNRESET':
      return 'connection reset by the broker';
    case 'ETIMEDOUT':
      return 'timed out';
    case 'EPIPE':
      return 'the broker closed the connection';
    default:
      return err?.message ?? String(e);
  }
}

export class Connection {
  readonly address: string;
  private correlationId = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly splitter = new FrameSplitter({ maxFrameSize: MAX_RESPONSE_SIZE });
  private failure: Error | null = null;
  private readonly requestTimeoutMs: number;

  private constructor(
    private readonly socket: Socket,
    readonly host: string,
    readonly port: number,
    private readonly clientId: string,
    requestTimeoutMs: number,
  ) {
    this.address = formatAddress(host, port);
    this.requestTimeoutMs = requestTimeoutMs;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.fail(new UnavailableError(this.lostMessage(describeSocketError(e)))));
    socket.on('close', () => this.fail(new UnavailableError(this.lostMessage('the broker closed it'))));
  }

  /** Opens a connection; rejects with an {@link UnavailableError} that says how to start a broker. */
  static connect(options: ConnectionOptions): Promise<Connection> {
    const { host, port } = options;
    const address = formatAddress(host, port);
    const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const unreachable = (reason: string) => {
        socket.destroy();
        reject(
          new UnavailableError(
            `cannot connect to ${address}: ${reason}; is a broker running? start one with \`kch broker\`` +
              (options.connectHint ? ` (${options.connectHint})` : ''),
          ),
        );
      };
      const timer = setTimeout(() => unreachable(`no answer within ${timeoutMs} ms`), timeoutMs);
      socket.once('error', (e) => {
        clearTimeout(timer);
        unreachable(describeSocketError(e));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(
          new Connection(
            socket,
            host,
            port,
            options.clientId,
            options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
          ),
        );
      });
    });
  }

  get closed(): boolean {
    return this.failure !== null;
  }

  /** Sends a request at `version` and resolves with the decoded response. */
  async send<K extends ApiName>(
    api: K,
    version: number,
    body: Init<ApiMessages[K]['request']>,
    options: { timeoutMs?: number } = {},
  ): Promise<ApiMessages[K]['response']> {
    const frame = await this.sendForFrame(api, version, body, options);
    try {
      return decodeResponse(api, version, frame);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      this.close();
      throw new CliError(`could not decode the ${api} v${version} response from ${this.address}: ${why}`);
    }
  }

  /** Sends a request and resolves with its undecoded response frame (header included). */
  sendForFrame<K extends ApiName>(
    api: K,
    version: number,
    body: Init<ApiMessages[K]['request']>,
    options: { timeoutMs?: number } = {},
  ): Promise<Buffer> {
    const apiKey = ApiKeys[api];
    const descriptor = apiByKey(apiKey)!;
    const id = this.nextId();
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    const frame = new Promise<Buffer>((resolve, reject) => {
      if (this.failure) {
        reject(this.failure);
        return;
      }
      const timer = setTimeout(() => {
        // Responses come in order, so everything behind this request is stuck too: drop the
        // connection, as Kafka's clients do after request.timeout.ms.
        this.fail(
          new UnavailableError(
            `the broker at ${this.address} did not answer ${api} within ${timeoutMs} ms; check that it is healthy`,
          ),
        );
      }, timeoutMs);
      this.pending.set(id, { api, version, resolve, reject, timer });
    });
    this.write(encodeRequestFrame(descriptor.request, apiKey, version, id, this.clientId, body as never));
    return frame;
  }

  /** Sends a request that gets no response (Produce with acks=0); resolves once it is written. */
  sendOnly<K extends ApiName>(api: K, version: number, body: Init<ApiMessages[K]['request']>): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const apiKey = ApiKeys[api];
    const descriptor = apiByKey(apiKey)!;
    const chunks = encodeRequestFrame(
      descriptor.request,
      apiKey,
      version,
      this.nextId(),
      this.clientId,
      body as never,
    );
    return new Promise((resolve, reject) => {
      this.socket.cork();
      for (let i = 0; i < chunks.length; i++) {
        if (i === chunks.length - 1) {
          this.socket.write(chunks[i]!, (e) => (e ? reject(this.failure ?? e) : resolve()));
        } else {
          this.socket.write(chunks[i]!);
        }
      }
      this.socket.uncork();
    });
  }

  close(): void {
    this.fail(new UnavailableError(`the connection to ${this.address} was closed`));
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
      this.fail(new CliError(`bad response from ${this.address}: ${(e as Error).message}`));
      return;
    }
    for (const frame of frames) {
      if (frame.length < 4) continue;
      const id = frame.readInt32BE(0);
      const p = this.pending.get(id);
      if (!p) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.resolve(frame);
    }
  }

  private lostMessage(reason: string): string {
    return `lost the connection to ${this.address}: ${reason}; check that the broker is still running`;
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
    this.socket.destroy();
  }
}
