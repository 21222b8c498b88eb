import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { BrokerContext } from '../context.js';
import type { ApiTable } from '../handler.js';
import { reportAuthentication } from '../security/authentication-report.js';
import { ANONYMOUS } from '../security/context.js';
import { type Listener, usesSasl, usesTls } from '../security/listeners.js';
import type { SaslMechanismName } from '../security/options.js';
import {
  mapPrincipalName,
  parsePrincipalMappingRules,
  rfc2253Subject,
} from '../security/principal-mapping.js';
import type { SaslMechanism } from '../security/sasl/exchange.js';
import { createMechanism } from '../security/sasl/mechanism.js';
import { SaslSession } from '../security/sasl-session.js';
import { ListenerTls } from '../security/tls.js';
import { Connection } from './connection.js';
import { RequestMemory } from './request-memory.js';
import { WarnOnce } from './warn-once.js';

interface OpenListener {
  readonly server: Server;
  readonly stopWatching: () => void;
}

/** The listeners: one Connection per client socket, whichever listener it came in on. */
export class KafkaServer {
  private readonly listeners: OpenListener[] = [];
  readonly connections = new Set<Connection>();
  /** Bytes of requests read and not yet answered, bounded by queuedMaxRequestBytes. */
  readonly requestMemory: RequestMemory;
  private readonly warnings: WarnOnce;

  constructor(
    private readonly broker: BrokerContext,
    private readonly apis: ApiTable,
  ) {
    this.requestMemory = new RequestMemory(broker.config.queuedMaxRequestBytes, () => {
      for (const c of this.connections) c.updateFlow();
    });
    this.warnings = new WarnOnce(broker.logger);
  }

  /** Opens a listener; resolves with the address bound (the port chosen when it was 0). */
  listen(listener: Listener): Promise<{ host: string; port: number }> {
    const tls = listener.options.tls ? new ListenerTls(listener.options.tls, listener.name) : undefined;
    const rules = listener.options.tls
      ? parsePrincipalMappingRules(listener.options.tls.principalMappingRules)
      : [];
    // Made once: a mechanism that cannot work as configured (OAUTHBEARER without a key) fails the start.
    const mechanisms = new Map(
      listener.saslMechanisms.map((name) => [
        name,
        createMechanism(name, {
          plainUsers: listener.plainUsers,
          store: this.broker.security.store,
          oauthBearer: this.broker.config.sasl.oauthBearer,
        }),
      ]),
    );
    let server: Server;
    if (usesTls(listener.securityProtocol) && tls) {
      const tlsServer = createTlsServer(tls.serverOptions(), (socket) => {
        const principal = this.certificatePrincipal(socket, listener, rules);
        if (principal !== null) this.accept(socket, listener, mechanisms, principal);
      });
      tlsServer.on('tlsClientError', (error, socket) => this.tlsFailure(error, socket, listener));
      server = tlsServer;
    } else {
      server = createServer({ noDelay: true }, (socket) =>
        this.accept(socket, listener, mechanisms, ANONYMOUS),
      );
    }
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(listener.port, listener.host, () => {
        server.off('error', reject);
        server.on('error', (e) =>
          this.broker.logger.error('listener error', { listener: listener.name, error: e }),
        );
        const stopWatching =
          tls && 'setSecureContext' in server
            ? tls.watch(
                (context) => (server as ReturnType<typeof createTlsServer>).setSecureContext(context),
                this.broker.logger,
              )
            : () => {};
        this.listeners.push({ server, stopWatching });
        const addr = server.address();
        resolve({ host: listener.host, port: typeof addr === 'object' && addr ? addr.port : listener.port });
      });
    });
  }

  private accept(
    socket: Socket,
    listener: Listener,
    mechanisms: ReadonlyMap<SaslMechanismName, SaslMechanism>,
    principal: string,
  ): void {
    const { broker } = this;
    const sasl = usesSasl(listener.securityProtocol)
      ? new SaslSession(listener, {
          mechanisms,
          maxReauthMs: broker.config.connectionsMaxReauthMs,
          failedAuthenticationDelayMs: broker.config.connectionFailedAuthenticationDelayMs,
        })
      : undefined;
    const c = new Connection(
      socket,
      { listener, principal, sasl, warnings: this.warnings },
      broker,
      this.apis,
      this.requestMemory,
      (closed) => this.connections.delete(closed),
    );
    this.connections.add(c);
    broker.events.emit('connection', {
      connectionId: c.info.id,
      remoteAddress: c.info.remoteAddress,
      remotePort: c.info.remotePort,
    });
    if (principal !== ANONYMOUS) reportAuthentication(broker, c.info, { mechanism: 'SSL', principal });
  }

  /**
   * The principal of a TLS client: its certificate's subject mapped by ssl.principal.mapping.rules, or
   * ANONYMOUS without a certificate. A certificate the trusted authorities did not sign (possible when
   * client certificates are "requested") or one no rule maps closes the connection: null.
   */
  private certificatePrincipal(
    socket: TLSSocket,
    listener: Listener,
    rules: ReturnType<typeof parsePrincipalMappingRules>,
  ): string | null {
    const cert = socket.getPeerX509Certificate();
    if (!cert) return ANONYMOUS;
    const address = socket.remoteAddress ?? 'unknown';
    if (!socket.authorized) {
      this.warnings.warn(address, 'untrusted-certificate', 'TLS client certificate refused', {
        listener: listener.name,
        remote: address,
        reason: `${socket.authorizationError}: the client's certificate is not signed by the listener's trusted certificates (ssl.truststore)`,
      });
      socket.destroy();
      return null;
    }
    try {
      return `User:${mapPrincipalName(rfc2253Subject(cert.subject), rules)}`;
    } catch (e) {
      this.warnings.warn(address, 'principal-mapping', 'TLS client refused', {
        listener: listener.name,
        remote: address,
        reason: (e as Error).message,
      });
      socket.destroy();
      return null;
    }
  }

  /** A client that failed the TLS handshake; Node has closed its socket already. */
  private tlsFailure(error: Error & { code?: string }, socket: TLSSocket, listener: Listener): void {
    const plaintext = /wrong version number|http request|packet length too long|unknown protocol/i.test(
      error.message,
    );
    const address = socket.remoteAddress;
    // A client that hung up during the handshake (its socket and address are gone by now) is no
    // misconfiguration to warn about, and an unknown address must not silence the warnings of others.
    if (address === undefined || error.code === 'ECONNRESET' || /socket hang up/i.test(error.message)) {
      this.broker.logger.debug('TLS handshake ended by the client', {
        listener: listener.name,
        remote: address ?? 'gone',
        reason: error.message,
      });
      return;
    }
    this.warnings.warn(address, 'tls-handshake', 'TLS handshake failed, connection closed', {
      listener: listener.name,
      remote: address,
      reason: plaintext
        ? `the client does not speak TLS on ${listener.securityProtocol} listener ${listener.name}: connect with security.protocol=${listener.securityProtocol}, or use a plaintext listener`
        : error.message,
    });
  }

  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes every connection. */
  async close(graceMs: number): Promise<void> {
    const open = this.listeners.splice(0);
    const stopped = Promise.all(
      open.map(({ server, stopWatching }) => {
        stopWatching();
        return new Promise<void>((r) => server.close(() => r()));
      }),
    );
    for (const c of this.connections) c.stopAccepting();
    const drained = Promise.all([...this.connections].map((c) => c.drain()));
    await Promise.race([drained, new Promise((r) => setTimeout(r, graceMs).unref())]);
    for (const c of [...this.connections]) c.end('broker shutting down');
    await stopped;
  }
}
