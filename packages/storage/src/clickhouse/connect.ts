/**
 * Which ClickHouse a storage's options name, and the transport to it (./transport.ts): the embedded
 * engine (`{ chdb: dir }`), a server by URL, or a caller's @clickhouse/client.
 */
import { ChdbTransport } from './chdb-transport.js';
import { HttpTransport } from './http-transport.js';
import type { ClickHouseStorageConfig } from './options.js';
import type { ClickHouseTransport } from './transport.js';

/** Where the data lives, for the broker's startup line and messages (never a password). */
export function describeLocation(c: ClickHouseStorageConfig): string {
  if (c.chdb !== undefined) return `embedded ClickHouse (chdb) in ${c.chdb}, database ${c.database}`;
  if (c.url !== undefined) {
    const u = new URL(c.url);
    u.password = '';
    u.username = '';
    const cluster = c.cluster ? `, cluster ${c.cluster.name}` : '';
    return `ClickHouse at ${u.origin}, database ${c.database}${cluster}`;
  }
  return `ClickHouse (a caller's client), database ${c.database}`;
}

export async function connect(c: ClickHouseStorageConfig, location: string): Promise<ClickHouseTransport> {
  if (c.chdb !== undefined) return ChdbTransport.open(c.chdb, c.chdbSettings);
  // Loaded here, so that memory and chdb users never load the HTTP client.
  let client = c.client;
  if (!client) {
    const { createClient, ClickHouseLogLevel } = await import('@clickhouse/client');
    client = createClient({
      url: c.url,
      request_timeout: c.requestTimeoutMs,
      application: 'kch',
      // Failures come back as StorageErrors that say what failed; the broker logs those.
      log: { level: ClickHouseLogLevel.OFF },
    });
  }
  return new HttpTransport(client, location, c.client === undefined);
}
