import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { ACCEPTED_COMPRESSION_TYPES } from '../telemetry/client-telemetry.js';

/**
 * GetTelemetrySubscriptions (KIP-714): a client asks which of its metrics to push and how often. A
 * client sending the zero id gets an instance id assigned; every client gets the one subscription of
 * the broker option `clientTelemetry` (Kafka's client-metrics resources select per client). Asking
 * again within the push interval is THROTTLING_QUOTA_EXCEEDED, as on Kafka. No ACL applies, as on Kafka.
 */
export default defineHandler({
  api: 'GetTelemetrySubscriptions',
  handle(request, ctx) {
    const telemetry = ctx.broker.telemetry;
    const got = telemetry.subscribe(request.clientInstanceId, ctx.header.clientId ?? '');
    if (got.errorCode !== ErrorCode.NONE) return { throttleTimeMs: 0, errorCode: got.errorCode };
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      clientInstanceId: got.clientInstanceId,
      subscriptionId: got.subscriptionId,
      acceptedCompressionTypes: [...ACCEPTED_COMPRESSION_TYPES],
      pushIntervalMs: telemetry.config.pushIntervalMs,
      telemetryMaxBytes: telemetry.config.maxBytes,
      // Kafka asks for deltas; kch shows each client's latest values as Prometheus counters, which
      // are running totals, so it asks for those (the field lets a broker choose).
      deltaTemporality: false,
      requestedMetrics: [...telemetry.config.metrics],
    };
  },
  errorResponse(_request, errorCode) {
    return { errorCode };
  },
});
