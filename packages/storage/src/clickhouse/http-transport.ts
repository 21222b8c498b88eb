/**
 * A ClickHouse server through @clickhouse/client. Its `insert()` only takes JSON-like values, so data
 * goes through `exec`: `INSERT ... FORMAT TabSeparated` with the rows as the request body, and
 * `SELECT ... FORMAT RowBinary` with the response stream drained into one buffer.
 *
 * Do not hand this a client built on `chdb/connection`: its exec decodes payloads as UTF-8. Use
 * `clickhouseStorage({ chdb: path })` for the embedded engine.
 */
import { Readable } from 'node:stream';
import type { ClickHouseClient, DataFormat } from '@clickhouse/client';
import { SINGLE_SERVER } from './cluster-ddl.js';
import { columnList } from './sql.js';
import { killQuery } from './statements.js';
import type { ClickHouseTransport, InsertOptions, Settings } from './transport.js';

// The whole answer is computed before the first byte is sent, so a failing query comes back as an
// HTTP error, never as a 200 with an error message spliced into the data.
const BASE_SETTINGS = { wait_end_of_query: 1 } as const;

async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

export class HttpTransport implements ClickHouseTransport {
  readonly remote = true;
  readonly rawBytes = true;

  constructor(
    private readonly client: ClickHouseClient,
    readonly location: string,
    /** Close the client with the storage (false for a client the caller passed in). */
    private readonly ownsClient: boolean,
  ) {}

  async command(sql: string, settings?: Settings): Promise<void> {
    await this.client.command({ query: sql, clickhouse_settings: { ...BASE_SETTINGS, ...settings } });
  }

  async selectBytes(sql: string, settings?: Settings): Promise<Buffer> {
    const result = await this.client.exec({
      query: `${sql}\nFORMAT RowBinary`,
      clickhouse_settings: { ...BASE_SETTINGS, ...settings },
    });
    return drain(result.stream as Readable);
  }

  async query(sql: string, format: string, settings?: Settings): Promise<Buffer> {
    // default_format, not a FORMAT clause: a FORMAT in the statement itself still wins.
    const result = await this.client.exec({
      query: sql,
      clickhouse_settings: { ...BASE_SETTINGS, ...settings, default_format: format as DataFormat },
    });
    return drain(result.stream as Readable);
  }

  async insertBytes(
    table: string,
    columns: readonly string[],
    chunks: readonly Buffer[],
    options?: InsertOptions,
  ): Promise<void> {
    const result = await this.client.exec({
      query: `INSERT INTO ${table}${columnList(columns)} FORMAT ${options?.format ?? 'TabSeparated'}`,
      values: Readable.from(chunks),
      query_id: options?.queryId,
      // Synchronous insert: the response comes once the part is written, never from a buffer.
      clickhouse_settings: { ...BASE_SETTINGS, async_insert: 0, ...options?.settings },
    });
    await drain(result.stream as Readable);
  }

  async killQuery(queryId: string): Promise<void> {
    await this.command(killQuery(queryId, SINGLE_SERVER));
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }
}
