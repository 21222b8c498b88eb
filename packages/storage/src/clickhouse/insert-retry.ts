/**
 * One group-commit insert (./flusher.ts hands over the chunks), for a topic's own table and for a
 * bound table alike: deduplicated by a token, so that a retry of an insert whose first attempt did
 * land is dropped instead of stored twice, retried while ClickHouse's failure is transient, and
 * failed with a FlushError that carries the query ids a server may still be running.
 */
import { StorageError } from '../storage.js';
import type { Dialect } from './cluster-ddl.js';
import { FlushError } from './flush-error.js';
import {
  type BackendFailure,
  backendFailure,
  type ClickHouseTransport,
  describeFailure,
  type Settings,
} from './transport.js';

/** What inserts of a storage share. */
export interface InsertContext {
  transport(): ClickHouseTransport;
  readonly insertRetries: number;
  readonly retryBackoffMs: number;
  closing(): boolean;
  readonly location: string;
  /** A new insert_deduplication_token. */
  token(): string;
  /** How the storage's SQL reads on this ClickHouse (./cluster-ddl.ts). */
  dialect(): Dialect;
}

export interface InsertRequest {
  /** Whose records, for the message: `topic orders`, `table \`db\`.\`t\``. */
  readonly records: string;
  readonly format?: string;
  readonly types?: readonly string[];
  readonly settings?: Settings;
  /** False when retrying could store rows twice (a server's table that does not deduplicate). */
  readonly mayRetry?: boolean;
  /** Sees each failure first: notes it, or throws instead of retrying (a refusal). */
  readonly onFailure?: (f: BackendFailure, e: unknown) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function insertWithRetry(
  ctx: InsertContext,
  table: string,
  columns: readonly string[],
  chunks: Buffer[],
  token: string,
  request: InsertRequest,
): Promise<void> {
  const queryIds: string[] = [];
  const settings = { ...request.settings, insert_deduplicate: 1, insert_deduplication_token: token };
  for (let attempt = 0; ; attempt++) {
    const queryId = `kch-${token}-${attempt}`;
    queryIds.push(queryId);
    let remote = true;
    try {
      const t = ctx.transport();
      remote = t.remote;
      await t.insertBytes(table, columns, chunks, {
        format: request.format,
        types: request.types,
        queryId,
        settings,
      });
      return;
    } catch (e) {
      if (e instanceof StorageError) throw new FlushError(e, queryIds);
      const f = backendFailure(e);
      request.onFailure?.(f, e);
      const mayRetry = request.mayRetry ?? true;
      if (!f.transient || !mayRetry || attempt >= ctx.insertRetries || ctx.closing()) {
        const error = new StorageError(
          'UNAVAILABLE',
          `ClickHouse did not store the records for ${request.records} (${ctx.location}): ${describeFailure(f)}. ` +
            'None of them were kept; the client may retry.',
          true,
          { cause: e },
        );
        throw new FlushError(error, remote ? queryIds : []);
      }
      await sleep(ctx.retryBackoffMs * 2 ** attempt);
    }
  }
}
