/**
 * The ClickHouse behind the storage, as its rooms call it: the open transport, and the rule that a
 * failed call becomes a StorageError saying what failed and where.
 */
import { StorageError } from '../storage.js';
import type { Dialect } from './cluster-ddl.js';
import { RowBinaryReader } from './rowbinary.js';
import { tableName } from './sql.js';
import { NOW_MS } from './statements.js';
import { noteTableFailure, type TopicState } from './topic-state.js';
import {
  type BackendFailure,
  backendFailure,
  type ClickHouseTransport,
  describeFailure,
} from './transport.js';
import { TsvWriter } from './tsv.js';

export function closedError(): StorageError {
  return new StorageError('UNAVAILABLE', 'the ClickHouse storage is closed', false);
}

export class Backend {
  /** Set by open(), cleared by close(). */
  transport: ClickHouseTransport | null = null;
  /** The transport before the options' `wrapTransport`, for tools' SQL when a wrapper does not pass `query` on. */
  unwrapped: ClickHouseTransport | null = null;
  /** Set when close() begins: public calls are refused, pending appends still flush. */
  closing = false;

  constructor(
    /** The storage's database: its topics' own tables and kch's metadata tables. */
    readonly database: string,
    /** Where the data lives, for messages (never a password). */
    readonly location: string,
    /**
     * How the storage's SQL reads on this ClickHouse (./cluster-ddl.ts): from the options at first,
     * settled once open has seen what the tables are.
     */
    public dialect: Dialect,
  ) {}

  /** A writer for rows of records (any bytes in their strings when the transport takes bytes). */
  rowWriter(initialSize: number): TsvWriter {
    return new TsvWriter(initialSize, this.t.rawBytes === true);
  }

  /** The transport, for internal calls (close() still flushes through it). */
  get t(): ClickHouseTransport {
    if (!this.transport) {
      throw this.closing
        ? closedError()
        : new StorageError('UNAVAILABLE', 'the ClickHouse storage is not open', false);
    }
    return this.transport;
  }

  /** For public calls: refused once close() began. */
  checkOpen(): void {
    if (this.closing) throw closedError();
    void this.t;
  }

  /** A metadata table (or any table) of the storage's database, quoted. */
  table(name: string): string {
    return tableName(this.database, name);
  }

  /**
   * Runs a ClickHouse call; its failure becomes a retriable StorageError that says what failed. A
   * failure on a topic's table is noted on the topic (missing, or to be checked before next use).
   */
  async run<T>(what: string, call: () => Promise<T>, topic?: TopicState): Promise<T> {
    try {
      return await call();
    } catch (e) {
      if (e instanceof StorageError) throw e;
      const f = backendFailure(e);
      if (topic) noteTableFailure(topic, f);
      // A storage fault (the table refuses writes, ClickHouse is down): retriable, as Kafka's
      // KAFKA_STORAGE_ERROR is; producers get through once it is mended.
      throw this.unavailable(what, f, e);
    }
  }

  unavailable(what: string, f: BackendFailure, cause: unknown): StorageError {
    return new StorageError(
      'UNAVAILABLE',
      `ClickHouse could not ${what} (${this.location}): ${describeFailure(f)}. The client may retry.`,
      true,
      { cause },
    );
  }

  command(what: string, sql: string, topic?: TopicState): Promise<void> {
    return this.run(what, () => this.t.command(sql), topic);
  }

  async select(what: string, sql: string, topic?: TopicState): Promise<RowBinaryReader> {
    return new RowBinaryReader(await this.run(what, () => this.t.selectBytes(sql), topic));
  }

  /** ClickHouse's clock (ms since the epoch). */
  async now(): Promise<number> {
    return (await this.select('read the time', `SELECT ${NOW_MS}`)).i64();
  }

  /** Inserts the rows of `w` into a metadata table of the database at once (no linger). */
  async insertRows(what: string, table: string, columns: readonly string[], w: TsvWriter): Promise<void> {
    const rows = w.view();
    await this.run(what, () => this.t.insertBytes(this.table(table), columns, [rows]));
  }
}
