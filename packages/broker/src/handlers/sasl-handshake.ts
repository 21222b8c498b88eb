import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';

/**
 * SaslHandshake: the client names its mechanism. On a listener without SASL, or after the exchange
 * began, Kafka answers ILLEGAL_SASL_STATE; an unknown mechanism gets the enabled ones, and the
 * connection closes after either answer (the connection sees the session failed).
 */
export default defineHandler({
  api: 'SaslHandshake',
  serial: true,
  handle(request, ctx) {
    const sasl = ctx.connection.sasl;
    if (!sasl) return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] };
    return sasl.handshake(request.mechanism, ctx.apiVersion);
  },
  errorResponse(_request, errorCode) {
    return { errorCode, mechanisms: [] };
  },
});
