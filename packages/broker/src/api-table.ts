/**
 * The table of the APIs a broker serves, built once from the handler modules (./handlers): each
 * handler's version range, narrowed to what the codec knows. ApiVersions advertises exactly this, and
 * connections dispatch through it, as franz-go's kfake builds its table from its per-API files.
 */
import { ApiKeys, apiByKey } from '@kch/protocol';
import type { ApiHandler, ApiTable, ServedApi } from './handler.js';

export function apiTable(handlers: readonly ApiHandler<any>[]): ApiTable {
  const byKey: (ServedApi | undefined)[] = [];
  for (const handler of handlers) {
    const descriptor = apiByKey(ApiKeys[handler.api as keyof typeof ApiKeys])!;
    const minVersion = Math.max(handler.minVersion ?? descriptor.minVersion, descriptor.minVersion);
    const maxVersion = Math.min(handler.maxVersion ?? descriptor.maxVersion, descriptor.maxVersion);
    byKey[descriptor.apiKey] = { descriptor, handler, minVersion, maxVersion };
  }
  const versions = byKey.flatMap((api) =>
    api ? [{ apiKey: api.descriptor.apiKey, minVersion: api.minVersion, maxVersion: api.maxVersion }] : [],
  );
  return {
    get: (apiKey) => byKey[apiKey],
    servedVersions: () => versions.map((v) => ({ ...v })),
  };
}
