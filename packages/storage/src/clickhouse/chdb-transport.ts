/**
 * The embedded engine: chdb's own `Session` (not `chdb/connection`, whose exec decodes payloads as
 * UTF-8). chdb is an optional peer dependency, loaded only when a storage asks for it.
 *
 * Inserts hand the rows to the engine as bytes, through the native call behind chdb's raw `insert()`
 * (`InsertRawAsyncConnection(connection, prefix, buffer)`): the JS wrapper only accepts [A-Za-z0-9_]
 * table names, and topic names have dots and dashes, so the transport builds the `INSERT INTO ...
 * FORMAT ...` prefix itself (names quoted as everywhere else). No JS string of the rows is made (it
 * used to be 1.5 µs per 1 KiB record on the main thread, a 100+ MiB string on the heap for a large
 * insert and a second native copy). Inserts run on sessions of their own (a small pool on the same
 * directory), so two inserts, or an insert and a read, run side by side. Should the native entry be
 * missing (another chdb version), inserts fall back to SQL text with the rows inline: the TSV writer
 * keeps the rows valid UTF-8 (invalid bytes as \xHH escapes), so the text carries them exactly.
 * Inline data is read as text either way (cut at a newline byte), so small RowBinary inserts (the rows
 * of kch's own topic tables) are rewritten as TSV first (./rowbinary-tsv.ts); large ones go through a
 * file (below), which takes any format.
 * Reads use `queryAsync(sql, { format: 'RowBinary' })` and `.bytes()`, which are byte-exact.
 *
 * Large payloads whose column types the caller gives (`InsertOptions.types`) take a faster road: the
 * rows are written to a file in the data directory and read with `INSERT ... SELECT * FROM file()`.
 * Inline rows are parsed on the client side of chdb's embedded client at about 110 MB/s (9-11 µs per
 * 1 KiB row, 2.8 µs per 100 B row, whatever the table engine); `file()` parses in the engine's own
 * pipeline at 1-3 µs and 1 µs (file write included). It costs 2-4 ms more per insert (planning an
 * INSERT SELECT), so small payloads stay inline.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { open as openFile, unlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { StorageError } from '../storage.js';
import { rowBinaryToTsv } from './rowbinary-tsv.js';
import { columnList, ident, str } from './sql.js';
import type { ClickHouseTransport, InsertOptions, Settings } from './transport.js';

interface ChdbResult {
  bytes(): Uint8Array;
}

interface ChdbSession {
  queryAsync(sql: string, opts?: { format?: string }): Promise<ChdbResult>;
  close(): void;
  /** The native connection (public in chdb 3.x). */
  connection?: unknown;
}

/** The part of chdb's native addon the transport uses directly. */
export interface ChdbNative {
  InsertRawAsyncConnection(
    connection: unknown,
    prefix: string,
    data: Buffer,
    countLines: boolean,
  ): Promise<unknown>;
}

/** Sessions kept for inserts beyond the first (each is a native connection on the same directory). */
const MAX_INSERT_SESSIONS = 4;

/**
 * Payloads from this size on go through a file (see the top of this file). Measured crossover: an
 * inline insert costs ~4 ms + 9 µs per 1 KiB row, a file insert ~7 ms + 2.5 µs.
 */
export const FILE_INSERT_MIN_BYTES = 256 * 1024;

/**
 * Where file inserts write their rows: inside the data directory, which one process owns. Names start
 * with the process id (several transports of one process may share the directory); files of other
 * processes are what a crash left behind.
 */
const INSERT_FILES_DIR = 'kch-inserts';
let transportsOpened = 0;

interface ChdbModule {
  Session: new (path?: string, opts?: { connectionArgs?: string[] }) => ChdbSession;
  drainPending?: () => Promise<void>;
}

export const CHDB_INSTALL_HINT =
  'clickhouseStorage({ chdb }) runs ClickHouse embedded through the chdb package, an optional peer dependency of @kch/storage that is not installed: run `npm install chdb` (about 540 MB; Linux x64/arm64 with glibc, or macOS)';

/**
 * chdb's native addon, through the package's own loader (not an export of the package, so resolved
 * next to its entry point); undefined when this chdb has no such entry.
 */
export function loadNative(): ChdbNative | undefined {
  try {
    const require = createRequire(import.meta.url);
    const loader = require(join(dirname(require.resolve('chdb')), 'dist', 'loader.js')) as {
      loadNative(): ChdbNative;
    };
    const native = loader.loadNative();
    return typeof native.InsertRawAsyncConnection === 'function' ? native : undefined;
  } catch {
    return undefined;
  }
}

async function loadChdb(): Promise<ChdbModule> {
  try {
    // A variable keeps bundlers from resolving the optional module at build time.
    const name = 'chdb';
    const mod = (await import(name)) as ChdbModule & { default?: ChdbModule };
    const m = mod.Session ? mod : mod.default;
    if (!m?.Session) throw new Error('the chdb module has no Session export');
    return m;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new StorageError('INVALID_REQUEST', CHDB_INSTALL_HINT, false, { cause: e });
    }
    throw new StorageError(
      'INVALID_REQUEST',
      `chdb could not be loaded: ${(e as Error).message}. ${CHDB_INSTALL_HINT}`,
      false,
      { cause: e },
    );
  }
}

function settingsClause(settings: Settings | undefined): string {
  if (!settings) return '';
  const parts = Object.entries(settings).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new RangeError(`invalid setting name ${k}`);
    return `${k} = ${typeof v === 'number' ? String(v) : `'${v.replace(/[\\']/g, (c) => `\\${c}`)}'`}`;
  });
  return parts.length ? ` SETTINGS ${parts.join(', ')}` : '';
}

function byteLength(chunks: readonly Buffer[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}

export class ChdbTransport implements ClickHouseTransport {
  readonly remote = false;

  /** Rows go to the engine as bytes through the native insert; the SQL-text fallback needs UTF-8. */
  get rawBytes(): boolean {
    return this.native !== undefined;
  }
  readonly location: string;
  /**
   * The connection for `query` (people's and tools' SQL: `kch sql`, `POST /sql`), opened on first use.
   * A chdb session runs one statement at a time, so on the log's own session a slow statement would
   * hold up every append and read behind it, and a statement that needs the broker would never end:
   * an INSERT into a Kafka engine table pointed at this broker waits for a Produce whose append waits
   * for that INSERT (until librdkafka's message.timeout.ms, 300 s). A second session on the same
   * directory shares the engine and runs beside the first.
   */
  private toolSession: ChdbSession | undefined;
  /** Insert sessions not in use; more are opened on demand up to MAX_INSERT_SESSIONS. */
  private readonly idleInsertSessions: ChdbSession[] = [];
  private insertSessions = 0;
  private insertFiles = 0;
  private readonly filePrefix = `${process.pid}-${++transportsOpened}-`;
  /** Inserts that went through a file so far (for tests and the benchmark's breakdown). */
  fileInserts = 0;
  private closed = false;

  private constructor(
    private readonly mod: ChdbModule,
    private readonly session: ChdbSession,
    private readonly path: string,
    private readonly native: ChdbNative | undefined,
    private readonly connectionArgs: string[],
  ) {
    this.location = `embedded ClickHouse (chdb) in ${path}`;
  }

  /**
   * Opens the data directory. `serverSettings` configure the embedded engine itself (what a server
   * takes from its config file: `max_server_memory_usage`, `background_pool_size`...); they take
   * effect when the process first opens the directory. ClickHouse ignores names it does not know.
   */
  static async open(path: string, serverSettings: Settings = {}): Promise<ChdbTransport> {
    const mod = await loadChdb();
    // A closed session can take a moment to let go of its directory while native calls drain.
    await mod.drainPending?.();
    const connectionArgs = Object.entries(serverSettings).map(([name, value]) => `--${name}=${value}`);
    let session: ChdbSession;
    try {
      session = new mod.Session(path, { connectionArgs });
    } catch (e) {
      const settings = connectionArgs.length
        ? `; check the server settings given (chdbSettings: ${connectionArgs.join(' ')})`
        : '';
      throw new StorageError(
        'UNAVAILABLE',
        `chdb could not open ${path}: ${(e as Error).message} (chdb runs one data directory per process${settings})`,
        true,
        { cause: e },
      );
    }
    // Files of inserts cut short by a crash are of no use to anyone.
    const files = join(path, INSERT_FILES_DIR);
    mkdirSync(files, { recursive: true });
    for (const name of readdirSync(files)) {
      if (!name.startsWith(`${process.pid}-`)) rmSync(join(files, name), { force: true });
    }
    const native = session.connection !== undefined ? loadNative() : undefined;
    return new ChdbTransport(mod, session, path, native, connectionArgs);
  }

  async command(sql: string, settings?: Settings): Promise<void> {
    await this.session.queryAsync(sql + settingsClause(settings), { format: 'TabSeparated' });
  }

  async selectBytes(sql: string, settings?: Settings): Promise<Buffer> {
    const result = await this.session.queryAsync(sql + settingsClause(settings), { format: 'RowBinary' });
    const u8 = result.bytes();
    return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
  }

  async query(sql: string, format: string): Promise<Buffer> {
    this.toolSession ??= this.newSession();
    const u8 = (await this.toolSession.queryAsync(sql, { format })).bytes();
    return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
  }

  async insertBytes(
    table: string,
    columns: readonly string[],
    chunks: readonly Buffer[],
    options?: InsertOptions,
  ): Promise<void> {
    let format = options?.format ?? 'TabSeparated';
    const settings = settingsClause(options?.settings);
    const types = options?.types;
    const typed = types !== undefined && types.length === columns.length;
    if (typed && byteLength(chunks) >= FILE_INSERT_MIN_BYTES) {
      await this.insertFromFile(
        `INSERT INTO ${table}${columnList(columns)}${settings}`,
        columns,
        types,
        format,
        chunks,
      );
      return;
    }
    if (format === 'RowBinary') {
      // Inline data is read as text (cut at a newline byte): small binary rows go as TSV.
      if (!typed) throw new RangeError('a RowBinary insert into chdb needs the types of its columns');
      chunks = [rowBinaryToTsv(chunks, types, this.native !== undefined)];
      format = 'TabSeparated';
    }
    const head = `INSERT INTO ${table}${columnList(columns)}${settings} FORMAT ${format}`;
    if (!this.native) {
      let sql = `${head}\n`;
      for (const c of chunks) sql += c.toString('utf8');
      await this.session.queryAsync(sql, { format: 'TabSeparated' });
      return;
    }
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    if (data.length === 0) return;
    const session = this.takeInsertSession();
    try {
      await this.native.InsertRawAsyncConnection(session.connection, head, data, false);
    } finally {
      this.releaseInsertSession(session);
    }
  }

  /** Writes the rows to a file of their own and has the engine read it (`file()`), then removes it. */
  private async insertFromFile(
    head: string,
    columns: readonly string[],
    types: readonly string[],
    format: string,
    chunks: readonly Buffer[],
  ): Promise<void> {
    const file = join(this.path, INSERT_FILES_DIR, `${this.filePrefix}${++this.insertFiles}.rows`);
    const structure = columns.map((c, i) => `${ident(c)} ${types[i]}`).join(', ');
    const session = this.takeInsertSession();
    this.fileInserts++;
    try {
      const handle = await openFile(file, 'w');
      try {
        await handle.writev(chunks as Buffer[]);
      } finally {
        await handle.close();
      }
      await session.queryAsync(
        `${head} SELECT * FROM file(${str(file)}, ${str(format)}, ${str(structure)})`,
        {
          format: 'TabSeparated',
        },
      );
    } finally {
      this.releaseInsertSession(session);
      await unlink(file).catch(() => {});
    }
  }

  /** Another connection to the same directory (and engine), with the same server settings. */
  private newSession(): ChdbSession {
    return new this.mod.Session(this.path, { connectionArgs: this.connectionArgs });
  }

  /** An idle insert session, a new one while there are fewer than the maximum, else the main one. */
  private takeInsertSession(): ChdbSession {
    const idle = this.idleInsertSessions.pop();
    if (idle) return idle;
    if (this.insertSessions < MAX_INSERT_SESSIONS) {
      try {
        const s = this.newSession();
        this.insertSessions++;
        return s;
      } catch {
        // the main session will do
      }
    }
    return this.session;
  }

  private releaseInsertSession(s: ChdbSession): void {
    if (s === this.session) return;
    if (this.closed) {
      s.close();
      this.insertSessions--;
    } else this.idleInsertSessions.push(s);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.idleInsertSessions.splice(0)) {
      s.close();
      this.insertSessions--;
    }
    this.toolSession?.close();
    this.session.close();
    await this.mod.drainPending?.();
  }
}
