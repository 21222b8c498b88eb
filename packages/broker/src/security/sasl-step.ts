/**
 * One token of a connection's SASL exchange, as both carriers of tokens take it (SaslAuthenticate
 * requests, and raw tokens after a v0 handshake): the session answers, the connection takes the
 * principal once authenticated, and the outcome of an exchange (begun or renewed) is reported.
 */
import { ErrorCode } from '@kch/protocol';
import type { BrokerContext } from '../context.js';
import type { ConnectionInfo } from '../handler.js';
import { reportAuthentication } from './authentication-report.js';
import type { SaslOutcome, SaslSession } from './sasl-session.js';

export async function authenticationStep(
  broker: BrokerContext,
  connection: ConnectionInfo,
  sasl: SaslSession,
  token: Buffer,
): Promise<SaslOutcome> {
  // A SaslAuthenticate after a completed exchange is answered ILLEGAL_SASL_STATE: no exchange to report.
  const inExchange = sasl.gated;
  const outcome = await sasl.authenticate(token);
  if (!inExchange) return outcome;
  const done = sasl.authenticated && !sasl.gated;
  if (done) connection.principal = sasl.authenticatedPrincipal!;
  if (done || outcome.errorCode !== ErrorCode.NONE)
    reportAuthentication(broker, connection, sasl.reportOf(outcome));
  return outcome;
}
