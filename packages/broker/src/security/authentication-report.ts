/**
 * Tells operators of each authentication: an `authentication` event, and a log line for a failure
 * with the client's address, what it was told and why (a token's expiry), never a password or a token
 * (Kafka logs failed authentications the same way).
 */
import type { BrokerContext } from '../context.js';

/** What a report says of the connection (a part of the handler's ConnectionInfo, which holds the SASL session that reports). */
export interface ReportedConnection {
  readonly id: number;
  readonly listener: string;
  readonly remoteAddress: string;
}

export interface AuthenticationReport {
  /** SASL mechanism, or `SSL` for a client certificate. */
  mechanism: string;
  /** On success. */
  principal?: string;
  /** On success: a session renewed on its connection (KIP-368) rather than begun. */
  reauthentication?: boolean;
  /** On failure: what the client was told. */
  error?: string;
  /** On failure: why, for the log only. */
  detail?: string;
}

export function reportAuthentication(
  broker: BrokerContext,
  connection: ReportedConnection,
  report: AuthenticationReport,
): void {
  const base = {
    connectionId: connection.id,
    listener: connection.listener,
    remoteAddress: connection.remoteAddress,
    mechanism: report.mechanism,
  };
  if (report.error === undefined) {
    if (report.principal === undefined) return;
    const success = {
      ...base,
      principal: report.principal,
      ...(report.reauthentication ? { reauthentication: true } : {}),
    };
    broker.events.emit('authentication', success);
    broker.logger.debug('client authenticated', success);
    return;
  }
  broker.events.emit('authentication', { ...base, error: report.error });
  broker.logger.info('authentication failed', {
    ...base,
    reason: report.error,
    ...(report.detail !== undefined ? { detail: report.detail } : {}),
  });
}
