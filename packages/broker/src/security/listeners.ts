/**
 * The listeners a broker opens: those of the `listeners` option, or, without it, one PLAINTEXT
 * listener named PLAINTEXT where `listen({ host, port })` says, as before security existed.
 */
import { hostname } from 'node:os';
import type { BrokerConfig } from '../options.js';
import type { ListenerOptions, SaslMechanismName, SecurityProtocol } from './options.js';

/** A listener as the broker runs it. */
export interface Listener {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly securityProtocol: SecurityProtocol;
  readonly options: ListenerOptions;
  /** SASL mechanisms offered here: empty on PLAINTEXT and SSL listeners. */
  readonly saslMechanisms: readonly SaslMechanismName[];
  readonly plainUsers: Readonly<Record<string, string>>;
}

export function usesTls(protocol: SecurityProtocol): boolean {
  return protocol === 'SSL' || protocol === 'SASL_SSL';
}

export function usesSasl(protocol: SecurityProtocol): boolean {
  return protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
}

/** The listeners to open, checked: a problem is thrown as a message saying what to change. */
export function resolveListeners(config: BrokerConfig, given: { host?: string; port?: number }): Listener[] {
  const configured = config.listeners;
  if (configured.length === 0) {
    const options: ListenerOptions = {
      name: 'PLAINTEXT',
      host: given.host ?? '127.0.0.1',
      port: given.port ?? 9092,
      securityProtocol: 'PLAINTEXT',
      advertisedHost: config.advertisedHost,
      advertisedPort: config.advertisedPort,
    };
    return [listener(options, config)];
  }
  if (given.host !== undefined || given.port !== undefined) {
    throw new Error(
      `listen() was given ${given.host ?? ''}:${given.port ?? ''}, but the broker has listeners configured ` +
        `(${configured.map((l) => l.name).join(', ')}): call listen() without a host and port`,
    );
  }
  const names = new Set<string>();
  for (const l of configured) {
    if (names.has(l.name))
      throw new Error(`listener ${l.name} is configured twice: give each listener its own name`);
    names.add(l.name);
    if (usesTls(l.securityProtocol) && !l.tls) {
      throw new Error(
        `listener ${l.name} is ${l.securityProtocol} but has no TLS certificate and key: set its tls.cert and tls.key (ssl.keystore.* in server.properties)`,
      );
    }
  }
  return configured.map((l) => listener(l, config));
}

function listener(options: ListenerOptions, config: BrokerConfig): Listener {
  const sasl = usesSasl(options.securityProtocol);
  return {
    name: options.name,
    host: options.host,
    port: options.port,
    securityProtocol: options.securityProtocol,
    options,
    saslMechanisms: sasl ? (options.saslMechanisms ?? config.sasl.enabledMechanisms) : [],
    plainUsers: options.plainUsers ?? config.sasl.plainUsers,
  };
}

/** The address clients of a listener are told to connect to. */
export function advertisedAddress(l: Listener, boundPort: number): { host: string; port: number } {
  const wildcard = l.host === '0.0.0.0' || l.host === '::' || l.host === '';
  return {
    host: l.options.advertisedHost ?? (wildcard ? hostname() : l.host),
    port: l.options.advertisedPort ?? boundPort,
  };
}
