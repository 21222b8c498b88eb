/**
 * The embedded engine: chdb's own `Session` (not `chdb/connection`, whose exec decodes payloads as
 * UTF-8). chdb is an optional peer dependency, loaded only when a storage asks for it.
 *
 * Inserts go as SQL text with the rows inline (`INSERT INTO t (...) SETTINGS ... FORMAT TabSeparated`
 * followed by the rows): chdb's raw `insert()` only accepts [A-Za-z0-9_] table names, and topic names
 * have dots and dashes. The TSV writer keeps the rows valid UTF-8 (invalid bytes as \xHH escapes), so
 * the text carries them exactly. Measured on this machine, it is as fast as the raw insert.
 * Reads use `queryAsync(sql, { format: 'RowBinary' })` and `.bytes()`, which are byte-exact.
 */
import { StorageError } from '../storage.js';
import { columnList } from './sql.js';
import type { ClickHouseTransport, InsertOptions, Settings } from './transport.js';

interface ChdbResult {
  bytes(): Uint8Array;
}

interface ChdbSession {
  queryAsync(sql: string, opts?: { format?: string }): Promise<ChdbResult>;
  close(): void;
}

interface ChdbModule {
  Session: new (path?: string) => ChdbSession;
  drainPending?: () => Promise<void>;
}

export const CHDB_INSTALL_HINT =
  'clickhouseStorage({ chdb }) runs ClickHouse embedded through the chdb package, an optional peer dependency of @kch/storage that is not installed: run `npm install chdb` (about 540 MB; Linux x64/arm64 with glibc, or macOS)';

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

export class ChdbTransport implements ClickHouseTransport {
  readonly remote = false;
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

  private constructor(
    private readonly mod: ChdbModule,
    private readonly session: ChdbSession,
    private readonly path: string,
  ) {
    this.location = `embedded ClickHouse (chdb) in ${path}`;
  }

  static async open(path: string): Promise<ChdbTransport> {
    const mod = await loadChdb();
    // A closed session can take a moment to let go of its directory while native calls drain.
    await mod.drainPending?.();
    let session: ChdbSession;
    try {
      session = new mod.Session(path);
    } catch (e) {
      throw new StorageError(
        'UNAVAILABLE',
        `chdb could not open ${path}: ${(e as Error).message} (chdb runs one data directory per process)`,
        true,
        { cause: e },
      );
    }
    return new ChdbTransport(mod, session, path);
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
    this.toolSession ??= new this.mod.Session(this.path);
    const u8 = (await this.toolSession.queryAsync(sql, { format })).bytes();
    return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
  }

  async insertBytes(
    table: string,
    columns: readonly string[],
    chunks: readonly Buffer[],
    options?: InsertOptions,
  ): Promise<void> {
    const head = `INSERT INTO ${table}${columnList(columns)}${settingsClause(options?.settings)} FORMAT ${options?.format ?? 'TabSeparated'}\n`;
    let sql = head;
    for (const c of chunks) sql += c.toString('utf8');
    await this.session.queryAsync(sql, { format: 'TabSeparated' });
  }

  async close(): Promise<void> {
    this.toolSession?.close();
    this.session.close();
    await this.mod.drainPending?.();
  }
}
