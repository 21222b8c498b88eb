/**
 * The tables kch makes for its topics, and the rule that keeps kch's hands off everything else.
 *
 * A topic's records live in a table kch creates for it (`kafka.orders`). The database is shared with
 * its users, who make their own tables, views and dictionaries there (docs/materialized-views.md has
 * them create `kafka.customers`). So kch:
 * - creates a topic's table only where no object has its name, and never adopts a user's object;
 * - records the identity of the table it created (ClickHouse's table UUID) with the topic, and drops a
 *   table only when it still is that table: never a bound table, a view, or a table the user dropped
 *   and created again under the same name;
 * - names the table after the topic when ClickHouse can hold that name, and derives a stable,
 *   collision-free name when it cannot (Kafka allows 249 characters; ClickHouse's limit depends on the
 *   database name and the file system, 208 characters for database `kafka` on ext4).
 */
import { createHash } from 'node:crypto';
import { StorageError } from '../storage.js';
import type { Dialect } from './cluster-ddl.js';
import type { RowBinaryReader } from './rowbinary.js';
import { RESERVED_PREFIX, TOPIC_COLUMNS } from './schema.js';
import { ident, str, tableName } from './sql.js';
import { dropTable, modifyComment } from './statements.js';
import { backendFailure, type ClickHouseTransport, describeFailure } from './transport.js';

/** What ClickHouse shows for a table UUID in databases without them (Ordinary). */
const NIL_UUID = '00000000-0000-0000-0000-000000000000';
/** ClickHouse error codes of a CREATE whose name is taken. */
const TABLE_ALREADY_EXISTS = 57;
const DICTIONARY_ALREADY_EXISTS = 387;
/** Used when the ClickHouse cannot say its limit (getMaxTableNameLengthForDatabase is 24.x+). */
const FALLBACK_MAX_NAME_LENGTH = 200;
/** Derived names keep this much of the topic name, for people reading SHOW TABLES. */
const DERIVED_PREFIX_LENGTH = 100;
const HASH_LENGTH = 16;

/**
 * The engines a topic table kch made can have: MergeTree, or what a cluster made of it
 * (ReplicatedMergeTree, ./cluster-ddl.ts) or ClickHouse Cloud (SharedMergeTree).
 */
export function isTopicTableEngine(engine: string): boolean {
  return /^(Replicated|Shared)?MergeTree$/.test(engine);
}

/** An object in a database's namespace, as system.tables shows it. */
export interface TableObject {
  name: string;
  engine: string;
  uuid: string;
  comment: string;
  /** Rows, for tables that know it; null otherwise (views, dictionaries). */
  rows: number | null;
}

/** The identity of a topic's own table, as recorded with the topic. */
export interface OwnTable {
  /** The table's name in the storage's database. */
  name: string;
  /** ClickHouse's UUID of the table kch created; '' when not known (a topic stored before kch kept it). */
  uuid: string;
}

/**
 * The length of a name as ClickHouse's escapeForFileName writes it: letters, digits and '_' as they
 * are, every other byte as %XX. ClickHouse's table name limit is on that length.
 */
export function fileNameLength(name: string): number {
  let n = 0;
  for (const byte of Buffer.from(name)) {
    const plain =
      (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
    n += plain || byte === 0x5f ? 1 : 3;
  }
  return n;
}

/**
 * The table name for a new topic: the topic's own name when ClickHouse can hold it, else
 * `<the name with other characters as _, cut to 100>_<16 hex digits of SHA-256 of the name>`. The
 * hash makes it collision-free, and it depends on the name alone, so a topic created again gets the
 * same table. It is recorded with the topic, so a later limit never renames a table.
 */
export function topicTableName(topic: string, maxLength: number): string {
  if (fileNameLength(topic) <= maxLength) return topic;
  const hash = createHash('sha256').update(topic).digest('hex').slice(0, HASH_LENGTH);
  const room = Math.max(1, Math.min(DERIVED_PREFIX_LENGTH, maxLength - HASH_LENGTH - 1));
  let prefix = topic.replace(/[^A-Za-z0-9_]/g, '_').slice(0, room);
  // `.kch_x` would become `_kch_x`, a name of kch's metadata tables.
  if (prefix.startsWith(RESERVED_PREFIX)) prefix = `t${prefix}`.slice(0, room);
  return `${prefix}_${hash}`;
}

/** The COMMENT of a topic's table: says what it is in SHOW CREATE TABLE, and marks it as kch's. */
export function topicTableComment(topic: string): string {
  return `records of the kch topic ${topic} (kch drops this table when the topic is deleted)`;
}

/** "table", "view", "materialized view" or "dictionary", for messages. */
export function objectKind(engine: string): string {
  if (engine === 'MaterializedView') return 'materialized view';
  if (engine === 'View' || engine === 'LiveView' || engine === 'WindowView') return 'view';
  if (engine === 'Dictionary') return 'dictionary';
  return 'table';
}

/** `db.name` as a user types it in SQL: backquoted only where needed. */
export function sqlName(database: string, name: string): string {
  const part = (s: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? s : ident(s));
  return `${part(database)}.${part(name)}`;
}

/** Whether `o` is the table kch created for a topic, as recorded in `own`. */
export function isOwnTable(o: TableObject, own: OwnTable, topic: string): boolean {
  if (own.uuid !== '' && own.uuid !== NIL_UUID) return o.uuid === own.uuid;
  // Databases without table UUIDs: the comment kch gave the table, on a MergeTree.
  return isTopicTableEngine(o.engine) && o.comment === topicTableComment(topic);
}

/** The refusal of a topic whose table name an object kch did not create for it has. */
export function tableTakenError(database: string, topic: string, o: TableObject): StorageError {
  const kind = objectKind(o.engine);
  const name = sqlName(database, o.name);
  const bind =
    kind === 'table'
      ? `, or bind the topic to that table (topic config kch.table=${name}: each record becomes a row of it, docs/topics-over-tables.md)`
      : '';
  return new StorageError(
    'INVALID_TOPIC',
    `topic ${topic} cannot be created: ${name} is a ${kind} that kch did not create for this topic, and kch never writes into or drops what it did not create. Choose another topic name${bind}`,
    false,
  );
}

/** Why every use of a topic fails whose table is no longer the one kch created for it. */
export function tableReplacedError(database: string, topic: string, o: TableObject): StorageError {
  return new StorageError(
    'INVALID_TOPIC',
    `the table of topic ${topic}, ${sqlName(database, o.name)}, is now a ${objectKind(o.engine)} kch did not create (it was dropped and made again outside kch), so kch neither reads nor writes it. ` +
      `Rename or drop that ${objectKind(o.engine)} to let kch create the topic's table again, or delete the topic (kch then leaves the ${objectKind(o.engine)} alone)`,
    false,
  );
}

/** What a TopicTables runs its SQL with (the storage's transport and error wrapping). */
export interface TopicTablesHost {
  readonly database: string;
  transport(): ClickHouseTransport;
  /** How DDL reads on this ClickHouse (./cluster-ddl.ts). */
  dialect(): Dialect;
  /** A SELECT whose failure becomes a retriable StorageError saying what failed. */
  select(what: string, sql: string): Promise<RowBinaryReader>;
  /** A ClickHouse call whose failure becomes a retriable StorageError saying what failed. */
  run<T>(what: string, call: () => Promise<T>): Promise<T>;
}

/** Creates, checks and drops topics' own tables, never touching an object kch did not create. */
export class TopicTables {
  /** ClickHouse's limit on table names in the database (read on open). */
  maxNameLength = FALLBACK_MAX_NAME_LENGTH;

  constructor(private readonly host: TopicTablesHost) {}

  /** Reads the database's table name limit. */
  async open(): Promise<void> {
    try {
      const r = await this.host
        .transport()
        .selectBytes(`SELECT toUInt64(getMaxTableNameLengthForDatabase(${str(this.host.database)}))`);
      const n = Number(r.readBigUInt64LE(0));
      if (n > HASH_LENGTH + 1) this.maxNameLength = n;
    } catch {
      // An older ClickHouse without the function: the fallback is below every file system's limit.
    }
  }

  private objectsSql(where: string): string {
    return `SELECT name, engine, toString(uuid), comment, toInt64(ifNull(total_rows, -1)) FROM system.tables WHERE database = ${str(this.host.database)}${where}`;
  }

  private static read(r: RowBinaryReader): TableObject[] {
    const out: TableObject[] = [];
    while (!r.done) {
      const name = r.string();
      const engine = r.string();
      const uuid = r.string();
      const comment = r.string();
      const rows = r.i64();
      out.push({ name, engine, uuid, comment, rows: rows < 0 ? null : rows });
    }
    return out;
  }

  /** The object named `name` in the database, or null. */
  async objectAt(name: string): Promise<TableObject | null> {
    const r = await this.host.select(
      `look up ${sqlName(this.host.database, name)}`,
      this.objectsSql(` AND name = ${str(name)}`),
    );
    return TopicTables.read(r)[0] ?? null;
  }

  /** The objects of the database with these names, by name. */
  async objectsNamed(names: readonly string[]): Promise<Map<string, TableObject>> {
    if (names.length === 0) return new Map();
    const r = await this.host.select(
      'look up the topic tables',
      this.objectsSql(` AND name IN (${names.map(str).join(', ')})`),
    );
    return new Map(TopicTables.read(r).map((o) => [o.name, o]));
  }

  /** Which of these tables have every column of a kch topic table (tables made before kch kept UUIDs). */
  async topicShaped(names: readonly string[]): Promise<Set<string>> {
    if (names.length === 0) return new Set();
    const columns = TOPIC_COLUMNS.map((c) => str(c.name)).join(', ');
    const r = await this.host.select(
      'read the columns of the topic tables',
      `SELECT table FROM system.columns WHERE database = ${str(this.host.database)} AND table IN (${names.map(str).join(', ')}) AND name IN (${columns}) GROUP BY table HAVING count() = ${TOPIC_COLUMNS.length}`,
    );
    const out = new Set<string>();
    while (!r.done) out.add(r.string());
    return out;
  }

  /**
   * Creates the table of `topic` named `name` with `ddl` (a CREATE TABLE without IF NOT EXISTS) and
   * returns its identity. Refused (INVALID_TOPIC) when any object has the name, except an empty table
   * kch made for a topic of this name whose creation did not complete: that one is kch's and is used.
   */
  async create(topic: string, name: string, ddl: string, isOwnedByAnotherTopic: boolean): Promise<OwnTable> {
    const what = `create the table of topic ${topic}`;
    const existing = await this.objectAt(name);
    if (existing) {
      const leftover =
        !isOwnedByAnotherTopic &&
        isTopicTableEngine(existing.engine) &&
        existing.comment === topicTableComment(topic) &&
        existing.rows === 0;
      if (!leftover) throw tableTakenError(this.host.database, topic, existing);
      return { name, uuid: existing.uuid };
    }
    try {
      await this.host.transport().command(ddl);
    } catch (e) {
      const f = backendFailure(e);
      if (f.code === TABLE_ALREADY_EXISTS || f.code === DICTIONARY_ALREADY_EXISTS) {
        // Made by someone else since the look-up above.
        const now = await this.objectAt(name);
        if (now) throw tableTakenError(this.host.database, topic, now);
      }
      if (e instanceof StorageError) throw e;
      if (f.transient) return this.host.run(what, () => Promise.reject(e));
      // Not the client's doing, and the same request fails the same way: not retriable.
      throw new StorageError(
        'INTERNAL',
        `ClickHouse refused to create the table of topic ${topic}: ${describeFailure(f)}`,
        false,
        { cause: e },
      );
    }
    const made = await this.objectAt(name);
    if (!made) {
      throw new StorageError(
        'UNAVAILABLE',
        `the table of topic ${topic} was created but ClickHouse does not list it; the client may retry`,
        true,
      );
    }
    return { name, uuid: made.uuid };
  }

  /**
   * Drops the table of `topic` when it still is the one kch created (`own`). Returns what was left in
   * place instead: null when the table was dropped or was not there, else the object that has the name.
   */
  async dropOwn(topic: string, own: OwnTable): Promise<TableObject | null> {
    const o = await this.objectAt(own.name);
    if (!o) return null;
    if (!isOwnTable(o, own, topic)) return o;
    // ClickHouse has no DROP by UUID: the metadata lock covers kch's side of the check-then-drop.
    await this.host.run(`drop the table of topic ${topic}`, () =>
      this.host.transport().command(dropTable(tableName(this.host.database, own.name), this.host.dialect())),
    );
    return null;
  }

  /** Marks a table made before kch recorded identities as the topic's (its comment), and returns its identity. */
  async adopt(topic: string, o: TableObject): Promise<OwnTable> {
    await this.host.run(`mark the table of topic ${topic}`, () =>
      this.host
        .transport()
        .command(
          modifyComment(tableName(this.host.database, o.name), topicTableComment(topic), this.host.dialect()),
        ),
    );
    return { name: o.name, uuid: o.uuid };
  }
}
