/**
 * Tells operators of each authentication: an `authentication` event, and a log line for a failure
 * with the client's address and what it was told, never the user name or a credential (Kafka logs
 * failed authentications the same way).
 */
import { ErrorCode } from '@kch/protocol';
import type { BrokerContext } from '../context.js';
import type { ConnectionInfo } from '../handler.js';
import type { SaslOutcome } from './sasl-session.js';

export function reportAuthentication(
  broker: BrokerContext,
  connection: ConnectionInfo,
  mechanism: string,
  outcome: Pick<SaslOutcome, 'errorCode' | 'errorMessage'>,
  principal: string | undefined,
): void {
  const base = {
    connectionId: connection.id,
    listener: connection.listener,
    remoteAddress: connection.remoteAddress,
    mechanism,
  };
  if (outcome.errorCode === ErrorCode.NONE) {
    if (principal === undefined) return;
    broker.events.emit('authentication', { ...base, principal });
    broker.logger.debug('client authenticated', { ...base, principal });
    return;
  }
  const error = outcome.errorMessage ?? 'authentication failed';
  broker.events.emit('authentication', { ...base, error });
  broker.logger.info('authentication failed', { ...base, reason: error });
}
