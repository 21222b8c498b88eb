import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';

/** ApiVersions: what this broker serves, built from the handler registry. */
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
      finalizedFeaturesEpoch: -1n,
    };
  },
  errorResponse(_request, errorCode, ctx) {
    return { errorCode, apiKeys: ctx.apis.servedVersions() };
  },
});
