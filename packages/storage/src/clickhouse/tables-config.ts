/**
 * The integration config users know from the ClickHouse Kafka engine and sink connectors: a JSON
 * `tables` list, each entry a table with its columns, the topics that feed it, their data format and
 * a consumer group name. kch reads it in one step: it creates the tables that do not exist (the
 * columns given, plus the Kafka engine's virtual columns kch fills and serves Fetch from) and says
 * which topics bind to which table, as topic configs (`kch.table`, `kch.format`).
 *
 * The group name has no consumer behind it in kch (rows are in the table when the produce is
 * acknowledged); the broker keeps that group's committed offsets at the end of the topics, so lag
 * dashboards built for a Kafka engine or connector group read zero, which is the truth.
 */
import { z } from 'zod';
import { StorageError } from '../storage.js';
import { BOUND_FORMATS_TEXT, boundFormat, splitTableName } from './bound-table.js';
import { type Dialect, SINGLE_SERVER } from './cluster-ddl.js';
import { ident, tableName } from './sql.js';

/** Columns kch adds to a table it creates, named as the ClickHouse Kafka engine's virtual columns. */
export const INTEGRATION_VIRTUAL_COLUMNS: readonly { name: string; type: string }[] = [
  { name: '_topic', type: 'LowCardinality(String)' },
  { name: '_partition', type: 'UInt32' },
  { name: '_offset', type: 'UInt64' },
  { name: '_timestamp_ms', type: 'DateTime64(3)' },
  { name: '_key', type: 'Nullable(String)' },
  { name: '_headers.name', type: 'Array(String)' },
  { name: '_headers.value', type: 'Array(String)' },
  // kch's own: fences a deposed leader's late rows where several brokers share the database.
  { name: '_leader_epoch', type: 'Int32' },
];

const RAW_COLUMN = { name: '_raw_message', type: 'String' };

const name = z.string().trim().min(1);

const columnSchema = z.object({
  name,
  /** A ClickHouse type, as in CREATE TABLE: `UInt64`, `LowCardinality(String)`, `DateTime64(3)`. */
  type: name,
  /** A DEFAULT expression for records that lack the field. */
  default: z.string().trim().min(1).optional(),
});

/** One entry of `tables`. Names are the config's own (snake_case), as users write them today. */
export const integrationTableSchema = z
  .object({
    /** The table: `db.table`, or `table` in the storage's database (as `kch.table` reads it). */
    name: name.refine((v) => splitTableName(v, 'default') !== null, {
      error: 'must be a table name: table, db.table, or `my.db`.`t` for names with dots',
    }),
    columns: z.array(columnSchema).min(1, 'a table needs at least one column'),
    /** The topics whose records become rows: a list, or a comma-separated string (kafka_topic_list). */
    topics: z.union([
      z.array(name).min(1),
      name.transform((s) =>
        s
          .split(',')
          .map((t) => t.trim())
          .filter((t) => t !== ''),
      ),
    ]),
    /** The records' format (kafka_format): JSONEachRow, CSV or TabSeparated (TSV), in any case. */
    data_format: z
      .string()
      .default('JSONEachRow')
      .transform((v, ctx) => {
        const format = boundFormat(v);
        if (format) return format;
        ctx.addIssue({ code: 'custom', message: `must be ${BOUND_FORMATS_TEXT}, not ${JSON.stringify(v)}` });
        return z.NEVER;
      }),
    /** A consumer group whose offsets kch keeps at the end of the topics (kafka_group_name). */
    group_name: name.optional(),
    /** Partitions of topics kch creates for this table. */
    partitions: z.number().int().positive().optional(),
    /** Keep each record's value as sent in `_raw_message`, so Fetch returns it byte for byte. */
    raw_message: z.boolean().default(false),
    /** The engine clause of a table kch creates; default a MergeTree in the order Fetch reads. */
    engine: z.string().trim().min(1).default('MergeTree ORDER BY (_topic, _partition, _offset)'),
  })
  .superRefine((t, ctx) => {
    const seen = new Set<string>();
    for (const [i, c] of t.columns.entries()) {
      if (seen.has(c.name))
        ctx.addIssue({
          code: 'custom',
          path: ['columns', i, 'name'],
          message: `column ${c.name} is listed twice`,
        });
      seen.add(c.name);
    }
  });

export const tablesConfigSchema = z.array(integrationTableSchema).superRefine((tables, ctx) => {
  const owner = new Map<string, string>();
  for (const [i, t] of tables.entries()) {
    for (const topic of t.topics) {
      const other = owner.get(topic);
      if (other !== undefined && other !== t.name)
        ctx.addIssue({
          code: 'custom',
          path: [i, 'topics'],
          message: `topic ${topic} feeds both ${other} and ${t.name}: a topic is bound to one table`,
        });
      owner.set(topic, t.name);
    }
  }
});

export type IntegrationTableInput = z.input<typeof integrationTableSchema>;
export type IntegrationTable = z.output<typeof integrationTableSchema>;

/** What the config binds: per topic, its table and format (as topic configs), partitions and group. */
export interface TopicBinding {
  topic: string;
  table: string;
  configs: { 'kch.table': string; 'kch.format': string };
  partitions?: number;
  group?: string;
}

/** Parses a `tables` list; a StorageError (INVALID_REQUEST) names each problem and where it is. */
export function parseTablesConfig(input: unknown): IntegrationTable[] {
  const r = tablesConfigSchema.safeParse(input);
  if (r.success) return r.data;
  const where = (path: readonly PropertyKey[]) =>
    path.reduce<string>((at, k) => (typeof k === 'number' ? `${at}[${k}]` : `${at}.${String(k)}`), 'tables');
  const detail = r.error.issues.map((i) => `${where(i.path)}: ${i.message}`);
  throw new StorageError('INVALID_REQUEST', `invalid tables config: ${detail.join('; ')}`, false);
}

/** The database and table of a config entry, read as `kch.table` is (the name was checked). */
export function tableOfEntry(t: IntegrationTable, database: string): [string, string] {
  return splitTableName(t.name, database)!;
}

/**
 * CREATE TABLE IF NOT EXISTS for one entry: its columns, then the virtual columns it does not list
 * itself (and `_raw_message` when asked). An existing table is left as it is. On a cluster (`dialect`)
 * it is made on every server, its MergeTree engine replicated.
 */
export function integrationTableDdl(
  t: IntegrationTable,
  database: string,
  dialect: Dialect = SINGLE_SERVER,
): string {
  const listed = new Set(t.columns.map((c) => c.name));
  const extra = [...INTEGRATION_VIRTUAL_COLUMNS, ...(t.raw_message ? [RAW_COLUMN] : [])].filter(
    (c) => !listed.has(c.name),
  );
  const columns = [
    ...t.columns.map((c) => `${ident(c.name)} ${c.type}${c.default ? ` DEFAULT ${c.default}` : ''}`),
    ...extra.map((c) => `${ident(c.name)} ${c.type}`),
  ];
  return `CREATE TABLE IF NOT EXISTS ${tableName(...tableOfEntry(t, database))}${dialect.onCluster}\n(\n  ${columns.join(',\n  ')}\n)\nENGINE = ${dialect.engine(t.engine)}`;
}

/** The topic bindings a config makes, one per topic. */
export function topicBindings(tables: readonly IntegrationTable[]): TopicBinding[] {
  return tables.flatMap((t) =>
    t.topics.map((topic) => ({
      topic,
      table: t.name,
      configs: { 'kch.table': t.name, 'kch.format': t.data_format },
      ...(t.partitions !== undefined ? { partitions: t.partitions } : {}),
      ...(t.group_name !== undefined ? { group: t.group_name } : {}),
    })),
  );
}
