import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { authenticationStep } from '../security/sasl-step.js';

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
    return authenticationStep(ctx.broker, ctx.connection, sasl, request.authBytes);
  },
  errorResponse(_request, errorCode) {
    return { errorCode, errorMessage: null, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n };
  },
});
