/**
 * The seam between the ClickHouse storage and a ClickHouse: three calls, two implementations (the
 * embedded engine chdb, ./chdb-transport.ts, and a server through @clickhouse/client,
 * ./http-transport.ts). Everything above it is shared, so both run the same SQL.
 *
 * Data always travels as bytes: the rows of kch's own topic tables as RowBinary (./records.ts), its
 * metadata rows as TabSeparated (./tsv.ts), reads as RowBinary (./rowbinary.ts). JSON formats cannot
 * carry arbitrary bytes, so kch's own tables never use them; only topics bound to a user's table
 * insert their records' own text format (./bound-rows.ts).
 */

export type Settings = Record<string, string | number>;

export interface InsertOptions {
  settings?: Settings;
  /** Lets the storage stop the insert later (KILL QUERY) when its outcome is unknown. */
  queryId?: string;
  /**
   * The input format of the rows; default TabSeparated (what ./tsv.ts writes: metadata rows). The
   * rows of kch's own topic tables are RowBinary (with `types`, which chdb needs to take them); topics
   * bound to a user's table send the records' own format (JSONEachRow, CSV...).
   */
  format?: string;
  /**
   * The ClickHouse types of `columns`, in order (\`Int64\`, \`Nullable(String)\`...). With them the
   * embedded engine reads a large payload from a file, several times faster than inline rows.
   */
  types?: readonly string[];
}

export interface ClickHouseTransport {
  /** Where the data lives, for log lines (never a password). */
  readonly location: string;
  /** True when a failed call may still have taken effect on the other side (a network in between). */
  readonly remote: boolean;
  /**
   * True when inserts carry their rows as bytes, not SQL text: strings may then hold any byte as it
   * is (./tsv.ts `rawBytes`), which keeps binary values the size they are and fast to parse. Unset:
   * rows must be valid UTF-8 (invalid bytes are written as `\xHH` escapes).
   */
  readonly rawBytes?: boolean;
  /** A statement without a result (DDL, ALTER, DELETE, INSERT ... SELECT). */
  command(sql: string, settings?: Settings): Promise<void>;
  /** The result of a SELECT (given without a FORMAT clause) as RowBinary bytes. */
  selectBytes(sql: string, settings?: Settings): Promise<Buffer>;
  /**
   * Inserts rows (the concatenation of `chunks`, each whole rows, in `options.format`; TabSeparated
   * rows as ./tsv.ts writes them, valid UTF-8 unless `rawBytes`) into `table` (quoted, qualified) for
   * `columns` (all columns, matched by the format's own names, when empty). Resolves once ClickHouse
   * has stored them.
   */
  insertBytes(
    table: string,
    columns: readonly string[],
    chunks: readonly Buffer[],
    options?: InsertOptions,
  ): Promise<void>;
  /**
   * Any statement, its result as ClickHouse writes it in `format` (for people and tools, never for
   * data kch reads back). Optional: `ClickHouseStorage.query` falls back to the unwrapped transport.
   * `settings` are a server's (the embedded engine, never part of a cluster, takes none).
   */
  query?(sql: string, format: string, settings?: Settings): Promise<Buffer>;
  /** Stops a running query if it still runs (best effort; servers only). */
  killQuery?(queryId: string): Promise<void>;
  close(): Promise<void>;
}

/** What went wrong in a transport call, normalized across chdb, HTTP and sockets. */
export interface BackendFailure {
  /** ClickHouse's numeric error code, when ClickHouse answered. */
  code?: number;
  /** ClickHouse's error name (TOO_MANY_PARTS ...) or the socket error code (ECONNREFUSED ...). */
  name?: string;
  message: string;
  /** The failure may pass by itself (network, timeouts, overload): worth retrying the same call. */
  transient: boolean;
}

/** ClickHouse error codes that say "try again later" rather than "this statement is wrong". */
const TRANSIENT_CODES = new Set([
  3, // UNEXPECTED_END_OF_FILE
  159, // TIMEOUT_EXCEEDED
  164, // READONLY
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  241, // MEMORY_LIMIT_EXCEEDED
  242, // TABLE_IS_READ_ONLY
  252, // TOO_MANY_PARTS
  285, // TOO_FEW_LIVE_REPLICAS
  286, // UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE: another quorum insert into the table is still running
  289, // REPLICA_IS_NOT_IN_QUORUM: a sequentially consistent read reached a replica that lags
  319, // UNKNOWN_STATUS_OF_INSERT
  425, // SYSTEM_ERROR
  999, // KEEPER_EXCEPTION
]);

const TRANSIENT_SOCKET = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
]);

export const UNKNOWN_TABLE = 60;

/** Reads a ClickHouse error from chdb, @clickhouse/client or a socket. */
export function backendFailure(e: unknown): BackendFailure {
  if (!(e instanceof Error)) return { message: String(e), transient: false };
  const any = e as Error & { clickhouseCode?: unknown; code?: unknown; type?: unknown; cause?: unknown };
  let code: number | undefined;
  let name: string | undefined;
  if (typeof any.clickhouseCode === 'number') code = any.clickhouseCode;
  else if (typeof any.code === 'string' && /^\d+$/.test(any.code)) code = Number(any.code);
  if (typeof any.type === 'string') name = any.type;
  const parsed = /Code: (\d+)\. DB::Exception: [\s\S]*?\(([A-Z_]+)\)/.exec(e.message);
  if (parsed) {
    code ??= Number(parsed[1]);
    name ??= parsed[2];
  }
  if (code === undefined) {
    const socket = socketCode(e);
    if (socket) return { name: socket, message: e.message || socket, transient: true };
    if (/timeout|timed out|socket hang up|other side closed/i.test(e.message)) {
      return { name: 'TIMEOUT', message: e.message, transient: true };
    }
    return { message: e.message, transient: false };
  }
  return { code, name, message: firstLine(e.message), transient: TRANSIENT_CODES.has(code) };
}

function socketCode(e: unknown): string | undefined {
  for (
    let x: unknown = e, depth = 0;
    x instanceof Error && depth < 5;
    x = (x as { cause?: unknown }).cause, depth++
  ) {
    const c = (x as { code?: unknown }).code;
    if (typeof c === 'string' && TRANSIENT_SOCKET.has(c)) return c;
    const errors = (x as { errors?: unknown }).errors;
    if (Array.isArray(errors)) {
      for (const inner of errors) {
        const ic = (inner as { code?: unknown }).code;
        if (typeof ic === 'string' && TRANSIENT_SOCKET.has(ic)) return ic;
      }
    }
  }
  return undefined;
}

function firstLine(message: string): string {
  // chdb prefixes the engine's message with the failing rows; keep ClickHouse's own sentence, without
  // the code and name around it (describeFailure puts them in front once).
  const m = /Code: \d+\. DB::Exception: ([^\n]*)/.exec(message);
  const line = (m ? m[1]! : (message.split('\n')[0] ?? message)).replace(
    /\.?\s*\([A-Z][A-Z0-9_]*\)(?: \(version [^)]*\))?\.?\s*$/,
    '',
  );
  return line.length > 500 ? `${line.slice(0, 500)}...` : line;
}

/** A short description for error messages: "TOO_MANY_PARTS (252): ...". */
export function describeFailure(f: BackendFailure): string {
  const label =
    f.name && f.code !== undefined
      ? `${f.name} (${f.code})`
      : (f.name ?? (f.code !== undefined ? `code ${f.code}` : ''));
  return label ? `${label}: ${f.message}` : f.message;
}
