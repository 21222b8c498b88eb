/**
 * One client connection: frames are split from the stream and decoded as they arrive, handled
 * (concurrently unless a handler asks to be serial), and answered strictly in request order, as Kafka
 * promises. A frame that cannot be parsed closes the connection; a request that fails is answered with
 * its API's error response. Nothing a client sends can throw out of here.
 */
import type { Socket } from 'node:net';
import {
  ApiKeys,
  ApiVersionsResponse,
  apiByKey,
  ErrorCode,
  encodeLeniently,
  encodeResponseFrame,
  FrameSplitter,
  frameWithSize,
  KafkaCodecError,
  KafkaProtocolError,
  type ParsedRequest,
  parseRequestHeader,
} from '@kch/protocol';
import type { BrokerContext } from '../context.js';
import type { ApiTable, ConnectionInfo, RequestContext, ServedApi } from '../handler.js';
import type { Listener } from '../security/listeners.js';
import type { SaslSession } from '../security/sasl-session.js';
import { authenticationStep } from '../security/sasl-step.js';
import type { RequestMemory } from './request-memory.js';
import type { WarnOnce } from './warn-once.js';

/** Where a connection came in, and who the client is so far. */
export interface ConnectionOrigin {
  readonly listener: Listener;
  /** ANONYMOUS, or the name mapped from the client's TLS certificate. */
  readonly principal: string;
  readonly sasl: SaslSession | undefined;
  readonly warnings: WarnOnce;
}

interface InFlight {
  /** Settles with the response frame chunks, or null when no response is sent. */
  readonly response: Promise<Buffer[] | null>;
  /** The request's context: its throttleTimeMs, once settled, mutes the connection after the response. */
  readonly ctx: RequestContext | undefined;
}

/** The header of a request whose frame is read only once earlier requests are done (SASL exchange). */
interface LateHeader {
  header: ParsedRequest['header'] | undefined;
}

let nextConnectionId = 1;

export class Connection {
  readonly info: ConnectionInfo;
  private readonly splitter: FrameSplitter;
  private readonly queue: InFlight[] = [];
  private writing = false;
  private closed = false;
  /** Cleared when the broker begins to close: requests that arrive after that are not processed. */
  private accepting = true;
  private drainWaiters: (() => void)[] = [];
  /** Settles when every request so far is done, for serial requests to wait on. */
  private tail: Promise<void> = Promise.resolve();
  /** Frames read during authentication and not yet taken: later frames wait behind them. */
  private gatedFrames = 0;
  /** Settles when every write so far is stored, for the requests after them to wait on. */
  private writes: Promise<void> = Promise.resolve();
  /** Set while a client quota throttles the connection (KIP-219): reading resumes when it fires. */
  private throttleTimer: NodeJS.Timeout | undefined;
  private throttleEnds = 0;

  constructor(
    private readonly socket: Socket,
    private readonly origin: ConnectionOrigin,
    private readonly broker: BrokerContext,
    private readonly apis: ApiTable,
    /** Shared by the broker's connections: reading stops while requests in flight hold too much. */
    private readonly memory: RequestMemory,
    private readonly onClose: (c: Connection) => void,
  ) {
    this.info = {
      id: nextConnectionId++,
      remoteAddress: socket.remoteAddress ?? 'unknown',
      remotePort: socket.remotePort ?? 0,
      listener: origin.listener.name,
      securityProtocol: origin.listener.securityProtocol,
      principal: origin.principal,
      sasl: origin.sasl,
    };
    this.splitter = new FrameSplitter({ maxFrameSize: broker.config.maxRequestSize });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.close(`socket error: ${e.message}`));
    socket.on('close', () => this.close('closed by the client'));
    socket.on('drain', () => this.updateFlow());
    // A client that connects while the broker's request memory is exhausted waits like the others.
    this.updateFlow();
  }

  get inFlight(): number {
    return this.queue.length;
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.splitter.push(chunk);
    } catch (e) {
      this.reject(e);
      return;
    }
    for (const frame of frames) {
      // A request read after the broker began to close is dropped unprocessed: its client never saw
      // an answer, so it retries against the restarted broker and nothing is written twice.
      if (this.closed || !this.accepting) return;
      this.dispatch(frame);
    }
    this.updateFlow();
  }

  /**
   * Stops reading while too many requests of this connection are in flight, the socket's send buffer
   * is full, the broker's requests in flight hold queuedMaxRequestBytes, or a quota throttles the
   * client; reads again once none is so.
   */
  updateFlow(): void {
    if (this.closed || !this.accepting) return;
    const busy =
      this.queue.length >= this.broker.config.maxInFlightRequestsPerConnection ||
      this.socket.writableNeedDrain ||
      this.memory.exhausted ||
      this.throttleTimer !== undefined;
    if (busy && !this.socket.isPaused()) this.socket.pause();
    else if (!busy && this.socket.isPaused()) this.socket.resume();
  }

  private dispatch(frame: Buffer): void {
    const sasl = this.info.sasl;
    if (sasl && (sasl.gated || this.gatedFrames > 0)) {
      this.dispatchDuringAuthentication(frame, sasl);
      return;
    }
    this.dispatchRequest(frame);
  }

  /**
   * Before authentication (and when a session must be renewed) frames are taken one at a time, each
   * once the one before is answered, as Kafka's SaslServerAuthenticator reads them: whether a frame is
   * a request or a raw SASL token, and which requests may come, depends on how the earlier ones went.
   */
  private dispatchDuringAuthentication(frame: Buffer, sasl: SaslSession): void {
    this.gatedFrames++;
    const late: LateHeader = { header: undefined };
    const response = this.tail.then(async (): Promise<Buffer[] | null> => {
      this.gatedFrames--;
      if (this.closed) return null;
      if (sasl.expectsRawToken) return this.rawToken(frame, sasl);
      let parsed: ParsedRequest;
      try {
        parsed = parseRequestHeader(frame);
      } catch (e) {
        this.reject(e);
        return null;
      }
      late.header = parsed.header;
      const name = apiByKey(parsed.header.requestApiKey)?.name ?? `API ${parsed.header.requestApiKey}`;
      const refusal = sasl.gated ? sasl.refusal(name) : null;
      if (refusal !== null) {
        this.refuse(refusal);
        return null;
      }
      return this.answer(parsed);
    });
    this.tail = response.then(
      () => undefined,
      () => undefined,
    );
    this.enqueue(response, late, frame.length, performance.now());
  }

  /** A token of a v0 SASL exchange: no header, and answered with the bare token (or a closed connection). */
  private async rawToken(frame: Buffer, sasl: SaslSession): Promise<Buffer[] | null> {
    const outcome = await authenticationStep(this.broker, this.info, sasl, frame);
    if (outcome.errorCode !== ErrorCode.NONE) {
      // A v0 exchange has no error to send: Kafka closes the connection.
      this.close(`SASL authentication failed: ${outcome.errorMessage}`);
      return null;
    }
    return frameWithSize([outcome.authBytes]);
  }

  /** Closes a connection whose client broke the security protocol, saying why once per client. */
  private refuse(reason: string): void {
    this.origin.warnings.warn(this.info.remoteAddress, 'sasl', 'closing connection', {
      connectionId: this.info.id,
      listener: this.info.listener,
      remote: `${this.info.remoteAddress}:${this.info.remotePort}`,
      reason,
    });
    this.close(reason);
  }

  private dispatchRequest(frame: Buffer): void {
    let parsed: ParsedRequest;
    try {
      parsed = parseRequestHeader(frame);
    } catch (e) {
      this.reject(e);
      return;
    }
    const { header } = parsed;
    const api = this.apis.get(header.requestApiKey);
    const version = header.requestApiVersion;
    if (header.requestApiKey === ApiKeys.ApiVersions && (!api || version > api.maxVersion)) {
      // KIP-511: a client from the future learns our versions from a v0 answer it can always read.
      this.enqueue(
        Promise.resolve(this.unsupportedApiVersions(header.correlationId)),
        header,
        frame.length,
        0,
      );
      return;
    }
    if (!api || version < api.minVersion || version > api.maxVersion) {
      this.unsupported(parsed, frame.length, api);
      return;
    }
    const ctx = this.requestContext(parsed);
    const { serial, write } = api.handler;
    const start = serial ? this.tail : write ? Promise.resolve() : this.writes;
    const response = start.then(() => this.handle(api, parsed, ctx));
    const settled = response.then(
      () => undefined,
      () => undefined,
    );
    this.tail = settled;
    if (write) this.writes = Promise.all([this.writes, settled]).then(() => undefined);
    this.enqueue(response, header, frame.length, performance.now(), ctx);
  }

  private async handle(api: ServedApi, parsed: ParsedRequest, ctx: RequestContext): Promise<Buffer[] | null> {
    const { descriptor, handler } = api;
    const { header } = parsed;
    let request: unknown;
    try {
      request = descriptor.request.decode(parsed.body, header.requestApiVersion);
    } catch (e) {
      // Kafka closes the connection on a request body it cannot parse.
      this.reject(e);
      return null;
    }
    let response: unknown;
    const { quotas } = this.broker;
    try {
      // KIP-124: what the handler does before it first waits is the request's time on the event loop.
      const started = quotas.active ? performance.now() : -1;
      const pending = handler.handle(request as never, ctx);
      if (started >= 0) quotas.recordRequestTime(ctx, request, performance.now() - started);
      response = await pending;
    } catch (e) {
      const code = e instanceof KafkaProtocolError ? e.code : ErrorCode.UNKNOWN_SERVER_ERROR;
      if (!(e instanceof KafkaProtocolError)) {
        this.broker.logger.error('request failed', {
          api: descriptor.name,
          version: header.requestApiVersion,
          client: header.clientId,
          error: e,
        });
        this.broker.events.emit('error', e as Error, { api: descriptor.name, connectionId: this.info.id });
      }
      response = handler.errorResponse(request as never, code, ctx);
    }
    if (ctx.requestThrottleTimeMs) response = quotas.throttleResponse(ctx, response);
    if (response === null) return null;
    return encodeLeniently(() =>
      encodeResponseFrame(
        descriptor.response,
        descriptor.apiKey,
        header.requestApiVersion,
        header.correlationId,
        response as never,
      ),
    );
  }

  /** A served API at an unserved version, or an API the broker does not serve. */
  private unsupported(parsed: ParsedRequest, size: number, api: ServedApi | undefined): void {
    const { header } = parsed;
    const descriptor = api?.descriptor ?? apiByKey(header.requestApiKey);
    const known =
      descriptor &&
      header.requestApiVersion >= descriptor.minVersion &&
      header.requestApiVersion <= descriptor.maxVersion;
    if (!known) {
      // Neither we nor the codec know this API or version: its body cannot be read nor answered in
      // its format, so Kafka closes the connection.
      this.reject(
        new KafkaProtocolError(
          'UNSUPPORTED_VERSION',
          `request for API key ${header.requestApiKey} version ${header.requestApiVersion}, which this broker does not serve; ask ApiVersions first`,
        ),
      );
      return;
    }
    const response = encodeLeniently(() =>
      encodeResponseFrame(
        descriptor.response,
        descriptor.apiKey,
        header.requestApiVersion,
        header.correlationId,
        {
          errorCode: ErrorCode.UNSUPPORTED_VERSION,
        } as never,
      ),
    );
    this.enqueue(Promise.resolve(response), header, size, performance.now());
  }

  /** The response to a request read during authentication, by the same rules as any other. */
  private answer(parsed: ParsedRequest): Promise<Buffer[] | null> | Buffer[] | null {
    const { header } = parsed;
    const api = this.apis.get(header.requestApiKey);
    const version = header.requestApiVersion;
    if (header.requestApiKey === ApiKeys.ApiVersions && (!api || version > api.maxVersion)) {
      return this.unsupportedApiVersions(header.correlationId);
    }
    if (!api || version < api.minVersion || version > api.maxVersion) {
      this.reject(
        new KafkaProtocolError(
          'UNSUPPORTED_VERSION',
          `request for API key ${header.requestApiKey} version ${version} during SASL authentication, which this broker does not serve; ask ApiVersions first`,
        ),
      );
      return null;
    }
    return this.handle(api, parsed, this.requestContext(parsed));
  }

  private requestContext(parsed: ParsedRequest): RequestContext {
    return {
      broker: this.broker,
      apis: this.apis,
      connection: this.info,
      header: parsed.header,
      apiVersion: parsed.header.requestApiVersion,
      requestSize: parsed.body.end,
    };
  }

  private unsupportedApiVersions(correlationId: number): Buffer[] {
    return encodeResponseFrame(ApiVersionsResponse, ApiKeys.ApiVersions, 0, correlationId, {
      errorCode: ErrorCode.UNSUPPORTED_VERSION,
      apiKeys: this.apis.servedVersions(),
    });
  }

  private enqueue(
    response: Promise<Buffer[] | null>,
    given: ParsedRequest['header'] | LateHeader,
    requestBytes: number,
    started: number,
    ctx?: RequestContext,
  ): void {
    // The request's bytes count until it is answered (for Produce: until its records are stored).
    this.memory.take(requestBytes);
    const entry: InFlight = {
      response: response.then(
        (chunks) => {
          this.memory.release(requestBytes);
          const header = 'requestApiKey' in given ? given : given.header;
          // A raw SASL token (after a v0 handshake) is no request: nothing to count.
          if (!header) return chunks;
          let bytes = 0;
          if (chunks) for (const c of chunks) bytes += c.length;
          this.broker.events.emit('request', {
            connectionId: this.info.id,
            apiKey: header.requestApiKey,
            apiName: apiByKey(header.requestApiKey)?.name ?? `api-${header.requestApiKey}`,
            apiVersion: header.requestApiVersion,
            correlationId: header.correlationId,
            clientId: header.clientId,
            durationMs: started > 0 ? performance.now() - started : 0,
            requestBytes,
            responseBytes: bytes,
          });
          return chunks;
        },
        (e: unknown) => {
          this.memory.release(requestBytes);
          const header = 'requestApiKey' in given ? given : given.header;
          this.broker.logger.error('response could not be built', { error: e, api: header?.requestApiKey });
          this.close('internal error while answering');
          return null;
        },
      ),
      ctx,
    };
    this.queue.push(entry);
    if (!this.writing) void this.writeInOrder();
  }

  /** Writes responses as the oldest in-flight request completes, preserving request order. */
  private async writeInOrder(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const { response, ctx } = this.queue[0]!;
        const chunks = await response;
        this.queue.shift();
        if (chunks && !this.closed) {
          this.socket.cork();
          for (const c of chunks) this.socket.write(c);
          this.socket.uncork();
        }
        // Kafka closes the connection once a failed authentication is answered.
        if (this.info.sasl?.failed) {
          this.end('SASL authentication failed');
          break;
        }
        if (ctx?.throttleTimeMs) this.throttle(ctx.throttleTimeMs);
        this.updateFlow();
      }
    } finally {
      this.writing = false;
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  /**
   * KIP-219: once a throttled response is sent, nothing more is read from the client for its throttle
   * time, as Kafka mutes the channel (a client that ignores the throttle time waits all the same).
   */
  private throttle(ms: number): void {
    const ends = performance.now() + ms;
    if (ends <= this.throttleEnds) return;
    this.throttleEnds = ends;
    clearTimeout(this.throttleTimer);
    this.throttleTimer = setTimeout(() => {
      this.throttleTimer = undefined;
      this.updateFlow();
    }, ms);
  }

  /** Closes the connection after input that cannot be parsed, with a log line saying why. */
  private reject(e: unknown): void {
    const reason = e instanceof KafkaCodecError || e instanceof KafkaProtocolError ? e.message : String(e);
    const fields = {
      connectionId: this.info.id,
      listener: this.info.listener,
      remote: `${this.info.remoteAddress}:${this.info.remotePort}`,
      reason,
    };
    const message = 'closing connection after a request it could not parse';
    // A client of another protocol (TLS, HTTP) retries for ever: once per client is enough to say so.
    if (/look like (a TLS handshake|an HTTP request)/.test(reason))
      this.origin.warnings.warn(this.info.remoteAddress, 'foreign-protocol', message, fields);
    else this.broker.logger.warn(message, fields);
    this.close(reason);
  }

  /** Stops reading requests; those already read are still answered. */
  stopAccepting(): void {
    this.accepting = false;
    this.socket.pause();
  }

  /** Resolves when every queued response has been written (or the connection is gone). */
  drain(): Promise<void> {
    if ((this.queue.length === 0 && !this.writing) || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Ends the connection after the responses written so far reach the client. */
  end(reason: string, graceMs = 1000): void {
    if (this.closed) return;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), graceMs).unref();
    this.markClosed(reason);
  }

  close(reason?: string): void {
    if (this.closed) return;
    this.socket.destroy();
    this.markClosed(reason);
  }

  private markClosed(reason: string | undefined): void {
    this.closed = true;
    clearTimeout(this.throttleTimer);
    for (const w of this.drainWaiters.splice(0)) w();
    this.onClose(this);
    this.broker.events.emit('disconnect', { connectionId: this.info.id, reason });
  }
}
