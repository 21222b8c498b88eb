import { ErrorCode } from '@kch/protocol';
import { FINALIZED_FEATURES, FINALIZED_FEATURES_EPOCH, SUPPORTED_FEATURES } from '../features.js';
import { defineHandler } from '../handler.js';

/** ApiVersions: what this broker serves, built from the handler registry, and its features (../features.ts). */
export default defineHandler({
  api: 'ApiVersions',
  handle(request, ctx) {
    if (ctx.apiVersion >= 3) {
      ctx.connection.clientSoftwareName = request.clientSoftwareName;
      ctx.connection.clientSoftwareVersion = request.clientSoftwareVersion;
    }
    return {
      errorCode: ErrorCode.NONE,
      apiKeys: ctx.apis.servedVersions(),
      throttleTimeMs: 0,
      supportedFeatures: SUPPORTED_FEATURES.map((f) => ({ ...f })),
      finalizedFeaturesEpoch: FINALIZED_FEATURES_EPOCH,
      finalizedFeatures: FINALIZED_FEATURES.map((f) => ({
        name: f.name,
        maxVersionLevel: f.level,
        minVersionLevel: f.level,
      })),
    };
  },
  errorResponse(_request, errorCode, ctx) {
    return { errorCode, apiKeys: ctx.apis.servedVersions() };
  },
});
