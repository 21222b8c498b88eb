import { decompress, ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { decodeMetricsData, type TelemetryPoint } from '../telemetry/otlp.js';

/**
 * lz4 and zstd bound their output from block headers, above the real size by up to a block (4 MiB
 * for lz4's largest, 128 KiB for zstd): the codecs are given that much room, and the real size is
 * checked against telemetry max bytes after.
 */
const CODEC_BOUND_SLACK = 4 * 1024 * 1024;

/**
 * PushTelemetry (KIP-714): a client's metrics, OTLP MetricsData compressed with one of the record
 * batch codecs. The checks are Kafka's, in its order (ClientMetricsManager.validatePushRequest); the
 * payload is then decompressed and decoded, and its gauges and sums become the client's latest values
 * in `/metrics` (kch_client_*). A payload that inflates past telemetry max bytes is
 * TELEMETRY_TOO_LARGE, one that cannot be read INVALID_RECORD, as Kafka answers for its exporter.
 */
export default defineHandler({
  api: 'PushTelemetry',
  async handle(request, ctx) {
    const telemetry = ctx.broker.telemetry;
    const checked = telemetry.checkPush(request, ctx.header.clientId ?? '');
    if (!checked.instance) return { throttleTimeMs: 0, errorCode: checked.errorCode };
    let points: TelemetryPoint[] = [];
    if (request.metrics.length > 0) {
      let payload: Buffer;
      try {
        payload = await decompress(request.compressionType, request.metrics, {
          maxOutputBytes: telemetry.config.maxBytes + CODEC_BOUND_SLACK,
        });
      } catch (e) {
        // Every codec refuses output past the bound with an error naming it: too large, not malformed.
        const tooLarge = e instanceof Error && e.message.includes('(maxOutputBytes)');
        return {
          throttleTimeMs: 0,
          errorCode: tooLarge ? ErrorCode.TELEMETRY_TOO_LARGE : ErrorCode.INVALID_RECORD,
        };
      }
      if (payload.length > telemetry.config.maxBytes)
        return { throttleTimeMs: 0, errorCode: ErrorCode.TELEMETRY_TOO_LARGE };
      try {
        points = decodeMetricsData(payload);
      } catch {
        return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_RECORD };
      }
    }
    telemetry.record(checked.instance, points);
    // A terminating client's values were dropped: it adds no family to show them.
    const kept = request.terminating ? [] : points;
    const metrics = new Map(
      kept.map((p) => [p.name, { name: p.name, type: p.type, description: p.description }]),
    );
    ctx.broker.events.emit('client-telemetry', {
      clientInstanceId: request.clientInstanceId,
      clientId: ctx.header.clientId ?? '',
      metrics: [...metrics.values()],
      terminating: request.terminating,
    });
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE };
  },
  errorResponse(_request, errorCode) {
    return { errorCode };
  },
});
