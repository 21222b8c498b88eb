import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { reportAuthentication } from '../security/authentication-report.js';

/**
 * SaslAuthenticate: one token of the mechanism's exchange (after a v1 handshake). A failure is
 * answered with SASL_AUTHENTICATION_FAILED after connection.failed.authentication.delay.ms and the
 * connection closes; success carries the session lifetime (KIP-368, v1+).
 */
export default defineHandler({
  api: 'SaslAuthenticate',
  serial: true,
  async handle(request, ctx) {
    const sasl = ctx.connection.sasl;
    if (!sasl) {
      return {
        errorCode: ErrorCode.ILLEGAL_SASL_STATE,
        errorMessage: `listener ${ctx.connection.listener} does not use SASL (${ctx.connection.securityProtocol})`,
        authBytes: Buffer.alloc(0),
        sessionLifetimeMs: 0n,
      };
    }
    const wasAuthenticated = sasl.authenticated && !sasl.gated;
    const outcome = await sasl.authenticate(request.authBytes);
    if (!wasAuthenticated) {
      const done = sasl.authenticated && !sasl.gated;
      if (done) ctx.connection.principal = sasl.authenticatedPrincipal!;
      if (done || outcome.errorCode !== ErrorCode.NONE)
        reportAuthentication(ctx.broker, ctx.connection, sasl.reportOf(outcome));
    }
    return outcome;
  },
  errorResponse(_request, errorCode) {
    return { errorCode, errorMessage: null, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n };
  },
});
