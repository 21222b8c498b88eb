/**
 * Topics bound to a user's table (docs/topics-over-tables.md): the binding as topic configs
 * (`kch.table`, `kch.format`), the table's columns as kch sees them, and the SQL that reads Kafka
 * records back out of the table's rows.
 *
 * A bound topic's records are rows of a table the user owns and shapes: each record's value fills the
 * ordinary columns, and columns named like the ClickHouse Kafka engine's virtual columns (`_topic`,
 * `_partition`, `_offset`, `_timestamp`, `_timestamp_ms`, `_key`, `_headers.name`/`_headers.value`),
 * `_raw_message` and `_leader_epoch` are filled by kch. `_partition` and `_offset` are required: Fetch
 * reads the table. `_leader_epoch` (kch's own, no Kafka engine column) is required where several
 * brokers share the database: it tells a deposed leader's late rows apart (docs/topics-over-tables.md).
 */
import { StorageError } from '../storage.js';
import { ident, int, str, tableName } from './sql.js';
import { acceptsNull, type ChType, parseType, unwrapType as unwrap } from './value-check.js';

export const TABLE_CONFIG = 'kch.table';
export const FORMAT_CONFIG = 'kch.format';

export type BoundFormat = 'JSONEachRow' | 'CSV' | 'TabSeparated';

const FORMATS: Record<string, BoundFormat> = {
  jsoneachrow: 'JSONEachRow',
  csv: 'CSV',
  tabseparated: 'TabSeparated',
  tsv: 'TabSeparated',
};

/** The format a `kch.format` value names, in any case (`tsv` is TabSeparated); null when none. */
export function boundFormat(name: string): BoundFormat | null {
  return FORMATS[name.trim().toLowerCase()] ?? null;
}

/** What `kch.format` accepts, for messages. */
export const BOUND_FORMATS_TEXT = 'JSONEachRow, CSV or TabSeparated (TSV)';

/** Where a topic's records live when it is bound to a table. */
export interface Binding {
  database: string;
  table: string;
  /** `db`.`table`, quoted. */
  quoted: string;
  format: BoundFormat;
}

function invalid(message: string): StorageError {
  return new StorageError('INVALID_REQUEST', message, false);
}

/** Splits `db.table`, `table` and their backquoted forms (`` `my.db`.`t` ``). */
export function splitTableName(value: string, defaultDatabase: string): [string, string] | null {
  const part = '(`(?:[^`\\\\]|\\\\.)+`|[^.`]+)';
  const m = new RegExp(`^${part}(?:\\.${part})?$`).exec(value.trim());
  if (!m) return null;
  const unquote = (s: string) => (s.startsWith('`') ? s.slice(1, -1).replace(/\\(.)/g, '$1') : s);
  return m[2] === undefined ? [defaultDatabase, unquote(m[1]!)] : [unquote(m[1]!), unquote(m[2])];
}

/**
 * The binding a topic's configs ask for, or null for a topic in kch's own table. INVALID_REQUEST when
 * `kch.table` or `kch.format` is malformed, or `kch.format` comes without `kch.table`.
 */
export function bindingOf(configs: Record<string, string>, defaultDatabase: string): Binding | null {
  const table = configs[TABLE_CONFIG];
  const format = configs[FORMAT_CONFIG];
  if (table === undefined || table.trim() === '') {
    if (format !== undefined) {
      throw invalid(`${FORMAT_CONFIG} applies to topics bound to a table: set ${TABLE_CONFIG} too`);
    }
    return null;
  }
  const name = splitTableName(table, defaultDatabase);
  if (!name || name.some((n) => n.includes('\u0000'))) {
    throw invalid(`${TABLE_CONFIG} must be a table name, db.table or table, not ${JSON.stringify(table)}`);
  }
  let f: BoundFormat = 'JSONEachRow';
  if (format !== undefined) {
    const known = boundFormat(format);
    if (!known)
      throw invalid(`${FORMAT_CONFIG} must be ${BOUND_FORMATS_TEXT}, not ${JSON.stringify(format)}`);
    f = known;
  }
  return { database: name[0], table: name[1], quoted: tableName(name[0], name[1]), format: f };
}

// ---------------------------------------------------------------------------------- columns

export type DefaultKind = '' | 'DEFAULT' | 'MATERIALIZED' | 'ALIAS' | 'EPHEMERAL';

export interface TableColumn {
  name: string;
  type: ChType;
  defaultKind: DefaultKind;
}

/** What system.columns and system.tables say about a table. */
export interface TableInfo {
  columns: TableColumn[];
  engine: string;
  createQuery: string;
}

/** SELECT name, type, default_kind of the table's columns, in table order (RowBinary: 3 Strings). */
export function columnsSql(b: Binding): string {
  return `SELECT name, type, default_kind FROM system.columns WHERE database = ${str(b.database)} AND table = ${str(b.table)} ORDER BY position`;
}

/** SELECT engine, create_table_query of the table (RowBinary: 2 Strings; no row when missing). */
export function tableSql(b: Binding): string {
  return `SELECT engine, create_table_query FROM system.tables WHERE database = ${str(b.database)} AND name = ${str(b.table)}`;
}

/** The columns kch fills, in the order CSV/TSV rows carry them. */
export const VIRTUAL_COLUMNS = [
  '_topic',
  '_partition',
  '_offset',
  '_timestamp',
  '_timestamp_ms',
  '_key',
  '_headers.name',
  '_headers.value',
  '_raw_message',
  '_leader_epoch',
] as const;

export type VirtualColumn = (typeof VIRTUAL_COLUMNS)[number];

const VIRTUAL_SET: ReadonlySet<string> = new Set(VIRTUAL_COLUMNS);

/** What a virtual column holds, for messages. */
const VIRTUAL_ROLE: Record<VirtualColumn, string> = {
  _topic: 'the topic name',
  _partition: 'the Kafka partition',
  _offset: "the record's Kafka offset",
  _timestamp: "the record's timestamp (seconds)",
  _timestamp_ms: "the record's timestamp (milliseconds)",
  _key: 'the record key',
  '_headers.name': 'the header names',
  '_headers.value': 'the header values',
  _raw_message: "the record's value, byte for byte",
  _leader_epoch: "the partition leader epoch of the record's batch",
};

/** Null when a virtual column's type can hold what kch puts in it, else the types it should have. */
function virtualTypeProblem(name: VirtualColumn, t: ChType): string | null {
  const base = unwrap(t);
  const stringy = (x: ChType) => unwrap(x).kind === 'string';
  switch (name) {
    case '_partition':
      return base.kind === 'int' && t.kind !== 'nullable' ? null : 'an integer type, e.g. UInt32';
    case '_offset':
      return base.kind === 'int' && base.max >= 2n ** 32n - 1n && t.kind !== 'nullable'
        ? null
        : 'UInt64 (or another integer type of at least 32 bits)';
    case '_timestamp':
    case '_timestamp_ms':
      return base.kind === 'datetime' ? null : name === '_timestamp' ? 'DateTime' : 'DateTime64(3)';
    case '_topic':
    case '_key':
    case '_raw_message':
      return base.kind === 'string' ? null : name === '_key' ? 'String or Nullable(String)' : 'String';
    case '_headers.name':
    case '_headers.value':
      return base.kind === 'array' && stringy(base.inner) ? null : 'Array(String)';
    case '_leader_epoch':
      // As kch's own batch_leader_epoch: Kafka's leader epochs are int32, -1 for none.
      return base.kind === 'int' &&
        base.min <= -(2n ** 31n) &&
        base.max >= 2n ** 31n - 1n &&
        t.kind !== 'nullable'
        ? null
        : 'Int32 (or another signed integer type of at least 32 bits)';
  }
}

/** A bound topic's table as kch uses it: checked, with what to fill and how to read it back. */
export interface BoundSchema {
  binding: Binding;
  topic: string;
  columns: readonly TableColumn[];
  byName: ReadonlyMap<string, TableColumn>;
  /** The virtual columns the table has and kch fills, in {@link VIRTUAL_COLUMNS} order. */
  virtuals: ReadonlySet<VirtualColumn>;
  /** Columns a value fills: insertable (ordinary or DEFAULT), not virtual, in table order. */
  dataColumns: readonly TableColumn[];
  /** The column list of CSV/TSV inserts: the virtual columns, then the data columns. */
  insertColumns: readonly string[];
  /** `_headers.value` is Array(Nullable(String)): null header values stay null. */
  nullHeaderValues: boolean;
  /** The table drops a retried insert with the same insert_deduplication_token (Replicated engines). */
  deduplicates: boolean;
}

export function isVirtual(name: string): name is VirtualColumn {
  return VIRTUAL_SET.has(name);
}

/** Whether kch fills the column `name` of this table. */
export function fills(s: BoundSchema, name: string): boolean {
  return isVirtual(name) && s.virtuals.has(name);
}

/** Fills a column kch sets by itself: ordinary or DEFAULT (a MATERIALIZED `_key` is the user's). */
function filledByKch(c: TableColumn): boolean {
  return isVirtual(c.name) && (c.defaultKind === '' || c.defaultKind === 'DEFAULT');
}

/**
 * Checks the table can hold the topic and works out how. INVALID_REQUEST, with what to change, when
 * the table is missing, lacks `_partition`/`_offset`, or has a virtual column of an unfit type.
 */
export function describeTable(binding: Binding, topic: string, info: TableInfo | null): BoundSchema {
  const where = `${binding.database}.${binding.table}`;
  if (!info || info.columns.length === 0) {
    throw invalid(
      `table ${where} does not exist: create it first (kch binds topics to existing tables and never creates or drops them)`,
    );
  }
  const byName = new Map(info.columns.map((c) => [c.name, c]));
  const missing = (['_partition', '_offset'] as const).filter((n) => {
    const c = byName.get(n);
    return !c || !filledByKch(c);
  });
  if (missing.length > 0) {
    throw invalid(
      `table ${where} cannot hold topic ${topic}: it needs the columns _partition and _offset (missing: ${missing.join(', ')}), ` +
        "where kch writes each record's partition and offset so that Kafka clients can fetch them back. Add e.g. " +
        '`_partition UInt32, _offset UInt64` (ALTER TABLE ... ADD COLUMN), and ORDER BY (_partition, _offset) for fast fetches',
    );
  }
  if (byName.has('_headers')) {
    throw invalid(
      `table ${where} has a column _headers: kch fills headers as the two arrays _headers.name and _headers.value ` +
        '(a Nested `_headers` with flatten_nested = 1, the default, or two Array(String) columns)',
    );
  }
  const virtuals = new Set<VirtualColumn>();
  for (const name of VIRTUAL_COLUMNS) {
    const c = byName.get(name);
    if (!c || !filledByKch(c)) continue;
    const problem = virtualTypeProblem(name, c.type);
    if (problem) {
      throw invalid(
        `column ${name} of table ${where} has type ${c.type.text}, but kch fills ${name} with ${VIRTUAL_ROLE[name]}: ` +
          `make it ${problem}, or rename the column`,
      );
    }
    virtuals.add(name);
  }
  const dataColumns = info.columns.filter(
    (c) => !isVirtual(c.name) && (c.defaultKind === '' || c.defaultKind === 'DEFAULT'),
  );
  const headerValues = byName.get('_headers.value');
  return {
    binding,
    topic,
    columns: info.columns,
    byName,
    virtuals,
    dataColumns,
    insertColumns: [...virtuals, ...dataColumns.map((c) => c.name)],
    nullHeaderValues:
      headerValues !== undefined &&
      unwrap(headerValues.type).kind === 'array' &&
      acceptsNull((unwrap(headerValues.type) as ChType & { kind: 'array' }).inner),
    deduplicates:
      /^(Replicated|Shared)/.test(info.engine) ||
      /non_replicated_deduplication_window\s*=\s*[1-9]/.test(info.createQuery),
  };
}

/** Parses a system.columns row. */
export function tableColumn(name: string, type: string, defaultKind: string): TableColumn {
  const kind = (['DEFAULT', 'MATERIALIZED', 'ALIAS', 'EPHEMERAL'] as const).find((k) => k === defaultKind);
  return { name, type: parseType(type), defaultKind: kind ?? '' };
}

// ------------------------------------------------------------------------------------ reads

/** The rows of one partition of the topic (and only this topic's rows when the table is shared). */
export function partitionFilter(s: BoundSchema, partition: number): string {
  const p = `${ident('_partition')} = ${int(partition)}`;
  return s.virtuals.has('_topic') ? `${p} AND ${ident('_topic')} = ${str(s.topic)}` : p;
}

export const OFFSET = ident('_offset');
export const LEADER_EPOCH = ident('_leader_epoch');

/**
 * The record timestamp in ms (Int64): `_timestamp_ms`, else `_timestamp` (whole seconds), else -1
 * ("no timestamp" in Kafka).
 */
export function timestampExpr(s: BoundSchema): string {
  for (const name of ['_timestamp_ms', '_timestamp'] as const) {
    if (!s.virtuals.has(name)) continue;
    const c = s.byName.get(name)!;
    const t = unwrap(c.type);
    const ms =
      t.kind === 'datetime' && t.fractional
        ? `toUnixTimestamp64Milli(${ident(name)})`
        : `toInt64(toUnixTimestamp(${ident(name)})) * 1000`;
    return `toInt64(ifNull(${ms}, -1))`;
  }
  return 'toInt64(-1)';
}

/**
 * The record key (Nullable(String)). A String `_key` cannot tell a null key from an empty one: kch
 * writes null keys as '' there and reads '' back as null, as keyless records are the common case.
 */
function keyExpr(s: BoundSchema): string {
  if (!s.virtuals.has('_key')) return "CAST(NULL, 'Nullable(String)')";
  const k = ident('_key');
  return acceptsNull(s.byName.get('_key')!.type)
    ? `CAST(${k}, 'Nullable(String)')`
    : `nullIf(CAST(${k}, 'String'), '')`;
}

const HEADERS_TYPE = "'Array(Tuple(String, Nullable(String)))'";

function headersExpr(s: BoundSchema): string {
  if (!s.virtuals.has('_headers.name') || !s.virtuals.has('_headers.value'))
    return `CAST([], ${HEADERS_TYPE})`;
  return `CAST(arrayZip(${ident('_headers.name')}, ${ident('_headers.value')}), ${HEADERS_TYPE})`;
}

/** Columns left out of a re-serialized value: all that kch fills (those absent are ignored). */
const EXCEPT = `* EXCEPT (${[...VIRTUAL_COLUMNS, '_headers'].map(ident).join(', ')})`;

/**
 * The record value (String): `_raw_message` when the table keeps it (byte-exact), else the row's
 * data columns written by ClickHouse in the topic's format. `*` (ordinary and DEFAULT columns, in
 * table order) rather than the cached column list, so a column added a moment ago appears at once.
 * 64-bit integers are written as JSON numbers (readSql's settings), as producers send them.
 */
function valueExpr(s: BoundSchema): string {
  if (s.virtuals.has('_raw_message')) return `ifNull(toString(${ident('_raw_message')}), '')`;
  if (s.dataColumns.length === 0) return s.binding.format === 'JSONEachRow' ? "'{}'" : "''";
  return `formatRowNoNewline(${str(s.binding.format)}, ${EXCEPT})`;
}

/**
 * Rows of a partition (`where`: its rows as reads see them, ./bound-topics.ts `boundPartitionRows`)
 * from `from` (inclusive) to `to` (exclusive), at most `limit`, as RowBinary: offset Int64, timestamp
 * Int64, key Nullable(String), headers Array(Tuple(String, Nullable(String))), value String. One row
 * per offset (the first, should the table hold two: a deposed leader's late row beside the new
 * leader's where the table keeps no `_leader_epoch`).
 */
export function readSql(s: BoundSchema, where: string, from: number, to: number, limit: number): string {
  return `SELECT toInt64(${OFFSET}), ${timestampExpr(s)}, ${keyExpr(s)}, ${headersExpr(s)}, ${valueExpr(s)}
FROM ${s.binding.quoted}
WHERE ${where} AND ${OFFSET} >= ${int(from)} AND ${OFFSET} < ${int(to)}
ORDER BY ${OFFSET} LIMIT 1 BY ${OFFSET} LIMIT ${int(limit)}
SETTINGS output_format_json_quote_64bit_integers = 0`;
}
